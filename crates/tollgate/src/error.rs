//! The failure vocabulary shared by the library, the doctor, the gateway, logs and metrics.
//!
//! Every way a token can be rejected is one variant of [`ValidationError`], carrying the
//! values a person needs (what was expected, what was found) and a stable
//! [`code`](ValidationError::code) that programs can match on. `Display` is one sentence with those
//! values; [`ValidationError::cause`] and [`ValidationError::fix`] say in plain English what
//! usually causes it and what to change. No variant ever holds a signature or a whole token.

use std::fmt;

use serde_json::{json, Value};

use crate::alg::Algorithm;
use crate::clock::span;
use crate::text::{cut_list, cut_quoted, cut_text, cut_text_to, MAX_REASON_CHARS};

/// Declares a closed vocabulary of stable, logged strings as an enum: each value and its
/// string are written once, here, so a misspelt id is a compile error. Generates
/// `as_str()`, `ALL` (declaration order), `STRS` (the strings in that order), `COUNT`,
/// `parse()`, `Display` and `Serialize` (as the string).
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// How many values there are.
            pub const COUNT: usize = [$($text),*].len();
            /// Every value, in declaration order.
            pub const ALL: [$name; $name::COUNT] = [$($name::$variant),*];
            /// The string of every value, in declaration order.
            pub const STRS: [&'static str; $name::COUNT] = [$($text),*];

            /// The stable string (logged, matched on by programs).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// The value whose string is `s`.
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// The stable code of each [`ValidationError`] variant, in the order of the variants.
    pub enum ErrorCode {
        /// [`ValidationError::Malformed`].
        MalformedToken = "malformed_token",
        /// [`ValidationError::TokenTooLarge`].
        TokenTooLarge = "token_too_large",
        /// [`ValidationError::Encrypted`].
        EncryptedToken = "encrypted_token",
        /// [`ValidationError::Unsecured`].
        UnsecuredToken = "unsecured_token",
        /// [`ValidationError::AlgNotAllowed`].
        AlgNotAllowed = "alg_not_allowed",
        /// [`ValidationError::AlgKeyMismatch`].
        AlgKeyMismatch = "alg_key_mismatch",
        /// [`ValidationError::KidMissing`].
        KidMissing = "kid_missing",
        /// [`ValidationError::KidNotFound`].
        KidNotFound = "kid_not_found",
        /// [`ValidationError::KeyUnusable`].
        KeyUnusable = "key_unusable",
        /// [`ValidationError::SignatureInvalid`].
        SignatureInvalid = "signature_invalid",
        /// [`ValidationError::CritUnsupported`].
        CritUnsupported = "crit_unsupported",
        /// [`ValidationError::Expired`].
        Expired = "expired",
        /// [`ValidationError::NotYetValid`].
        NotYetValid = "not_yet_valid",
        /// [`ValidationError::IssuedInFuture`].
        IssuedInFuture = "issued_in_future",
        /// [`ValidationError::TooOld`].
        TooOld = "too_old",
        /// [`ValidationError::IssuerMismatch`].
        IssuerMismatch = "issuer_mismatch",
        /// [`ValidationError::TenantMissing`].
        TenantMissing = "tenant_missing",
        /// [`ValidationError::TenantNotAllowed`].
        TenantNotAllowed = "tenant_not_allowed",
        /// [`ValidationError::KeyIssuerMismatch`].
        KeyIssuerMismatch = "key_issuer_mismatch",
        /// [`ValidationError::AudienceMismatch`].
        AudienceMismatch = "audience_mismatch",
        /// [`ValidationError::MissingClaim`].
        MissingClaim = "missing_claim",
        /// [`ValidationError::InvalidClaim`].
        InvalidClaim = "invalid_claim",
        /// [`ValidationError::TypeMismatch`].
        TypeMismatch = "type_mismatch",
        /// [`ValidationError::KeysUnavailable`].
        KeysUnavailable = "keys_unavailable",
        /// [`ValidationError::DpopProofMissing`].
        DpopProofMissing = "dpop_proof_missing",
        /// [`ValidationError::DpopProofInvalid`].
        DpopProofInvalid = "dpop_proof_invalid",
        /// [`ValidationError::DpopMethodMismatch`].
        DpopHtmMismatch = "dpop_htm_mismatch",
        /// [`ValidationError::DpopUrlMismatch`].
        DpopHtuMismatch = "dpop_htu_mismatch",
        /// [`ValidationError::DpopProofTime`].
        DpopIatOutsideWindow = "dpop_iat_outside_window",
        /// [`ValidationError::DpopReplayed`].
        DpopReplayed = "dpop_replayed",
        /// [`ValidationError::DpopKeyOverQuota`].
        DpopKeyOverQuota = "dpop_key_over_quota",
        /// [`ValidationError::DpopAthMismatch`].
        DpopAthMismatch = "dpop_ath_mismatch",
        /// [`ValidationError::DpopKeyMismatch`].
        DpopKeyMismatch = "dpop_key_mismatch",
        /// [`ValidationError::BoundTokenAsBearer`].
        DpopBoundTokenAsBearer = "dpop_bound_token_as_bearer",
        /// [`ValidationError::DpopRequired`].
        DpopRequired = "dpop_required",
        /// [`ValidationError::DpopNotAccepted`].
        DpopNotAccepted = "dpop_not_accepted",
        /// [`ValidationError::ClientCertMissing`].
        ClientCertMissing = "client_cert_missing",
        /// [`ValidationError::ClientCertMismatch`].
        ClientCertMismatch = "client_cert_mismatch",
        /// [`ValidationError::ReplayCacheUnavailable`].
        ReplayCacheUnavailable = "replay_cache_unavailable",
        /// [`ValidationError::TokenInactive`].
        TokenInactive = "token_inactive",
        /// [`ValidationError::IntrospectionUnavailable`].
        IntrospectionUnavailable = "introspection_unavailable",
        /// [`ValidationError::IntrospectionMalformed`].
        IntrospectionMalformed = "introspection_malformed",
    }
}

impl ErrorCode {
    /// True for "cannot verify now" (keys, the replay cache or introspection out of reach or
    /// answering nonsense): answered 503, never an allow, and counted apart from refusals.
    /// The one list; [`ValidationError::is_unavailable`] asks it.
    ///
    /// ```
    /// use tollgate::ErrorCode;
    /// assert!(ErrorCode::ReplayCacheUnavailable.is_unavailable());
    /// assert!(!ErrorCode::SignatureInvalid.is_unavailable());
    /// ```
    pub const fn is_unavailable(self) -> bool {
        matches!(
            self,
            ErrorCode::KeysUnavailable
                | ErrorCode::ReplayCacheUnavailable
                | ErrorCode::IntrospectionUnavailable
                | ErrorCode::IntrospectionMalformed
        )
    }
}

/// Which part of a compact token a parse error concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPart {
    /// The whole token (segment count, characters, size).
    Token,
    /// The protected header (first segment).
    Header,
    /// The payload, i.e. the claims (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl TokenPart {
    /// A lower-case name for messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPart::Token => "token",
            TokenPart::Header => "header",
            TokenPart::Payload => "payload",
            TokenPart::Signature => "signature",
        }
    }
}

/// Why a token was rejected.
///
/// Each variant has a stable [`code`](ValidationError::code), a one-sentence `Display`, and
/// structured [`details`](ValidationError::details).
///
/// ```
/// use tollgate::ValidationError;
/// let err = ValidationError::Expired { exp: 1_000, now: 1_200, leeway: 60 };
/// assert_eq!(err.code(), "expired");
/// assert!(err.to_string().contains("expired 3 min 20 s ago"));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum ValidationError {
    /// The input is not a compact JWS: wrong number of segments, characters outside
    /// base64url, padding, JSON that is not an object, duplicate member names.
    /// Usually an opaque token, a truncated copy/paste, or a token that was URL-encoded twice.
    Malformed {
        /// The part that could not be read.
        part: TokenPart,
        /// What exactly is wrong with it.
        reason: String,
    },
    /// The token is longer than the configured limit. Usually a token stuffed with groups or
    /// claims, or not a token at all.
    TokenTooLarge {
        /// The configured limit in bytes.
        limit: usize,
        /// The size found, in bytes.
        found: usize,
    },
    /// A five-segment JWE: an encrypted token, which an API cannot validate as a signed one.
    /// Usually an ID-token encryption setting at the IdP, or an Auth0/Okta token encrypted for
    /// another recipient.
    Encrypted {
        /// The JWE `alg`, if readable.
        alg: Option<String>,
        /// The JWE `enc`, if readable.
        enc: Option<String>,
    },
    /// `alg: none` (in any spelling): an unsigned token, never accepted.
    Unsecured {
        /// The `alg` value exactly as found.
        alg: String,
    },
    /// The token's `alg` is not in the allow-list (or is not an algorithm we know).
    AlgNotAllowed {
        /// The `alg` found in the header.
        alg: String,
        /// The algorithms that are allowed.
        allowed: Vec<Algorithm>,
    },
    /// The token's `alg` does not fit the key: wrong key type, curve, or the key's own `alg`.
    AlgKeyMismatch {
        /// The `alg` found in the header.
        alg: String,
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// What the key is (e.g. `"EC P-384"`, `"RSA (alg RS512)"`).
        key: String,
    },
    /// The token has no `kid` and more than one key could verify it.
    KidMissing {
        /// How many keys fit the token's `alg`.
        candidates: usize,
        /// The token's `alg`.
        alg: String,
    },
    /// No key has the token's `kid`.
    KidNotFound {
        /// The token's `kid`.
        kid: String,
        /// The kids the key set holds.
        known_kids: Vec<String>,
        /// The token's `alg`.
        alg: String,
    },
    /// A key was found but cannot be used (e.g. `use: enc`, or it failed to parse).
    KeyUnusable {
        /// The key's `kid`, if any.
        kid: Option<String>,
        /// Why it cannot be used.
        reason: String,
    },
    /// The key was found and fits the algorithm, but the signature does not verify.
    /// Usually an altered token, a key that was replaced under the same `kid`, or (HMAC)
    /// the wrong secret.
    SignatureInvalid {
        /// The algorithm used.
        alg: Algorithm,
        /// The `kid` of the key tried, if any.
        kid: Option<String>,
    },
    /// The header lists `crit` extensions Tollgate does not understand (RFC 7515 4.1.11),
    /// or `b64: false`, which a JWT must not use.
    CritUnsupported {
        /// The names not understood.
        names: Vec<String>,
    },
    /// `exp` is in the past, beyond the leeway.
    Expired {
        /// The token's `exp` (Unix seconds).
        exp: i64,
        /// The validator's clock (Unix seconds).
        now: i64,
        /// The leeway applied, in seconds.
        leeway: u64,
    },
    /// `nbf` is in the future, beyond the leeway.
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The validator's clock.
        now: i64,
        /// The leeway applied.
        leeway: u64,
    },
    /// `iat` is in the future, beyond the leeway: one of the two clocks is wrong.
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The validator's clock.
        now: i64,
        /// The leeway applied.
        leeway: u64,
    },
    /// `iat` is older than the configured maximum age.
    TooOld {
        /// The token's `iat`.
        iat: i64,
        /// The validator's clock.
        now: i64,
        /// The maximum age allowed, in seconds.
        max_age: u64,
    },
    /// `iss` is not one of the accepted issuers (or is absent).
    IssuerMismatch {
        /// The accepted issuers.
        expected: Vec<String>,
        /// The token's `iss`, if any.
        found: Option<String>,
    },
    /// `iss` matches an issuer template (`.../{tenantid}/...`) but the token has no tenant id
    /// (`tid` claim) to check it against. Usually a token from another kind of issuer that
    /// reuses the host, or a hand-made token.
    TenantMissing {
        /// The token's `iss`.
        issuer: String,
    },
    /// The token's tenant (`tid`) is not one of the accepted tenants (`tenants`).
    /// Usually a customer tenant that was not onboarded, or a personal Microsoft account
    /// (tenant `9188040d-6c67-4c5b-b112-36a304b66dad`) sent to an API for organisations.
    TenantNotAllowed {
        /// The token's tenant id.
        tenant: String,
        /// The accepted tenant ids.
        allowed: Vec<String>,
    },
    /// The key that verified the token is published for another issuer: its `issuer`
    /// member (with the token's tenant in place of `{tenantid}`) is neither the token's `iss`
    /// nor the configured issuer for that tenant. Usually a token signed with a
    /// personal-account (consumer) key that claims an organisation's `iss`: a forgery.
    KeyIssuerMismatch {
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// The key's `issuer` member, as published.
        key_issuer: String,
        /// The token's `iss`, if any.
        found: Option<String>,
    },
    /// No `aud` value is one of the accepted audiences.
    AudienceMismatch {
        /// The accepted audiences.
        expected: Vec<String>,
        /// The token's audiences (empty when `aud` is absent).
        found: Vec<String>,
    },
    /// A claim the policy requires is absent.
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// A claim is present but of the wrong JSON type or an impossible value.
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What it should be.
        expected: String,
        /// What was found (a JSON rendering, shortened).
        found: String,
    },
    /// The header `typ` is not accepted by the policy.
    TypeMismatch {
        /// What the policy accepts or rejects, in words.
        expected: String,
        /// The token's `typ`, if any.
        found: Option<String>,
    },
    /// No keys are available to check the token right now (cold start with the IdP down,
    /// or keys stale beyond `max_stale`). "Cannot verify now", not "this token is bad".
    KeysUnavailable {
        /// The issuer whose keys are missing, if known.
        issuer: Option<String>,
        /// Why they are missing.
        reason: String,
    },
    /// The token is DPoP-bound (`cnf.jkt`) or sent with the `DPoP` scheme, and the request
    /// carries no `DPoP` proof header (RFC 9449 section 7.1). Usually a client that sends the
    /// token without making a proof, or a proxy that drops the `DPoP` header.
    DpopProofMissing {
        /// What required a proof.
        reason: String,
    },
    /// The `DPoP` proof cannot be accepted: not exactly one header, not a JWT, `typ` not
    /// `dpop+jwt`, an algorithm outside the allow-list, a `jwk` that is missing, holds a
    /// private key or does not verify the signature, or a claim missing or of the wrong type
    /// (RFC 9449 section 4.3, checks 1 to 7).
    DpopProofInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The proof's `htm` is not the request's method (RFC 9449 section 4.3, check 8).
    DpopMethodMismatch {
        /// The request's method.
        expected: String,
        /// The proof's `htm`.
        found: String,
    },
    /// The proof's `htu` is not the URL the request was sent to, once both are normalised
    /// (RFC 9449 section 4.3, check 9). Usually a proxy in front of the API that rewrites the
    /// scheme, host or port: set the public URL the clients use.
    DpopUrlMismatch {
        /// The request's URL as the API sees it (without query and fragment).
        expected: String,
        /// The proof's `htu`.
        found: String,
    },
    /// The proof's `iat` is outside the accepted window (RFC 9449 section 11.1): made too
    /// long ago (a stored proof) or in the future (a client clock ahead).
    DpopProofTime {
        /// The proof's `iat`.
        iat: i64,
        /// The validator's clock.
        now: i64,
        /// How old a proof may be, in seconds.
        window: u64,
        /// The leeway for clock differences, in seconds.
        leeway: u64,
    },
    /// The proof's `jti` was already used with this key within the window: a replayed proof
    /// (RFC 9449 section 11.1).
    DpopReplayed {
        /// The replayed `jti` (cut when shown).
        jti: String,
    },
    /// The proof's key already has as many live proofs (proofs still within their window)
    /// as one key may have, so this one is not recorded: one client sending faster than the
    /// replay cache's per-key quota allows (`[replay] max_per_key`, default
    /// [`DEFAULT_MAX_PER_KEY`](crate::dpop::DEFAULT_MAX_PER_KEY)). Usually a client in a
    /// loop, a flood, or a busy service sharing one key across instances. Only this key is
    /// refused; answered 429 with `Retry-After`, not as a judgement on the token.
    DpopKeyOverQuota {
        /// The thumbprint of the proof's key (cut when shown).
        jkt: String,
        /// The most live proofs one key may have.
        limit: usize,
        /// Seconds until the key's soonest live proof expires and it has room again.
        retry_after: u64,
    },
    /// The proof's `ath` is not the hash of the access token it came with (RFC 9449 section
    /// 4.3, check 11): the proof was made for another token.
    DpopAthMismatch {
        /// base64url(SHA-256(token)).
        expected: String,
        /// The proof's `ath`, if any.
        found: Option<String>,
    },
    /// The proof's key is not the key the token is bound to: its RFC 7638 thumbprint differs
    /// from the token's `cnf.jkt`, or the token is not DPoP-bound at all.
    DpopKeyMismatch {
        /// The token's `cnf.jkt`, if any.
        expected: Option<String>,
        /// The thumbprint of the proof's key.
        found: String,
    },
    /// A DPoP-bound token (`cnf.jkt`) was sent with the `Bearer` scheme: a bound token is
    /// only accepted with its proof (RFC 9449 section 7.2).
    BoundTokenAsBearer {
        /// The token's `cnf.jkt`.
        jkt: String,
    },
    /// The issuer's tokens must be DPoP-bound (`dpop = "required"`) and this one came as a
    /// plain bearer token.
    DpopRequired {
        /// The issuer.
        issuer: String,
    },
    /// The token came with the `DPoP` scheme but DPoP is off for its issuer.
    DpopNotAccepted {
        /// The issuer.
        issuer: String,
    },
    /// The token is bound to a client certificate (`cnf["x5t#S256"]`, RFC 8705) and the
    /// request carries no readable certificate (the TLS-terminating proxy did not pass it,
    /// or is not trusted).
    ClientCertMissing {
        /// Why no certificate is available.
        reason: String,
    },
    /// The client certificate's SHA-256 thumbprint is not the token's `cnf["x5t#S256"]`.
    ClientCertMismatch {
        /// The token's `x5t#S256`.
        expected: String,
        /// base64url(SHA-256(certificate DER)).
        found: String,
    },
    /// The DPoP replay cache cannot be asked (a shared cache such as Redis is down), so a
    /// replay cannot be ruled out. "Cannot verify now", never an allow.
    ReplayCacheUnavailable {
        /// Why.
        reason: String,
    },
    /// The issuer's introspection endpoint (RFC 7662) answered `active: false`: the token
    /// is unknown to it, expired, revoked, or was issued to another resource. A judgement
    /// on the token (401), not an outage.
    TokenInactive {
        /// The issuer whose introspection endpoint was asked (the last one, when several
        /// were tried).
        issuer: String,
    },
    /// The introspection endpoint could not be asked or did not answer usefully (no
    /// connection, timeout, TLS, a status other than 200, client authentication refused).
    /// "Cannot verify now", answered like [`ValidationError::KeysUnavailable`] (503), never
    /// an allow.
    IntrospectionUnavailable {
        /// The issuer concerned.
        issuer: String,
        /// Why (the endpoint and what went wrong; never the client secret or the token).
        reason: String,
    },
    /// The introspection endpoint answered 200 with a body that is not an RFC 7662
    /// response: not JSON, not an object, duplicate member names, `active` missing or not
    /// the boolean `true`/`false` (a string `"true"` is refused), or the wrong content type.
    /// The token could not be judged: answered like "cannot verify now" (503).
    IntrospectionMalformed {
        /// The issuer concerned.
        issuer: String,
        /// What is wrong with the answer.
        reason: String,
    },
}

impl ValidationError {
    /// Every stable code, in the order of the variants (the strings of [`ErrorCode::ALL`]).
    pub const CODES: [&'static str; ErrorCode::COUNT] = ErrorCode::STRS;

    /// The stable code: one of [`ValidationError::CODES`]. Use it in logs, metrics and APIs.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The stable code as a value (its string is [`code`](ValidationError::code)).
    pub fn error_code(&self) -> ErrorCode {
        use ValidationError::*;
        match self {
            Malformed { .. } => ErrorCode::MalformedToken,
            TokenTooLarge { .. } => ErrorCode::TokenTooLarge,
            Encrypted { .. } => ErrorCode::EncryptedToken,
            Unsecured { .. } => ErrorCode::UnsecuredToken,
            AlgNotAllowed { .. } => ErrorCode::AlgNotAllowed,
            AlgKeyMismatch { .. } => ErrorCode::AlgKeyMismatch,
            KidMissing { .. } => ErrorCode::KidMissing,
            KidNotFound { .. } => ErrorCode::KidNotFound,
            KeyUnusable { .. } => ErrorCode::KeyUnusable,
            SignatureInvalid { .. } => ErrorCode::SignatureInvalid,
            CritUnsupported { .. } => ErrorCode::CritUnsupported,
            Expired { .. } => ErrorCode::Expired,
            NotYetValid { .. } => ErrorCode::NotYetValid,
            IssuedInFuture { .. } => ErrorCode::IssuedInFuture,
            TooOld { .. } => ErrorCode::TooOld,
            IssuerMismatch { .. } => ErrorCode::IssuerMismatch,
            TenantMissing { .. } => ErrorCode::TenantMissing,
            TenantNotAllowed { .. } => ErrorCode::TenantNotAllowed,
            KeyIssuerMismatch { .. } => ErrorCode::KeyIssuerMismatch,
            AudienceMismatch { .. } => ErrorCode::AudienceMismatch,
            MissingClaim { .. } => ErrorCode::MissingClaim,
            InvalidClaim { .. } => ErrorCode::InvalidClaim,
            TypeMismatch { .. } => ErrorCode::TypeMismatch,
            KeysUnavailable { .. } => ErrorCode::KeysUnavailable,
            DpopProofMissing { .. } => ErrorCode::DpopProofMissing,
            DpopProofInvalid { .. } => ErrorCode::DpopProofInvalid,
            DpopMethodMismatch { .. } => ErrorCode::DpopHtmMismatch,
            DpopUrlMismatch { .. } => ErrorCode::DpopHtuMismatch,
            DpopProofTime { .. } => ErrorCode::DpopIatOutsideWindow,
            DpopReplayed { .. } => ErrorCode::DpopReplayed,
            DpopKeyOverQuota { .. } => ErrorCode::DpopKeyOverQuota,
            DpopAthMismatch { .. } => ErrorCode::DpopAthMismatch,
            DpopKeyMismatch { .. } => ErrorCode::DpopKeyMismatch,
            BoundTokenAsBearer { .. } => ErrorCode::DpopBoundTokenAsBearer,
            DpopRequired { .. } => ErrorCode::DpopRequired,
            DpopNotAccepted { .. } => ErrorCode::DpopNotAccepted,
            ClientCertMissing { .. } => ErrorCode::ClientCertMissing,
            ClientCertMismatch { .. } => ErrorCode::ClientCertMismatch,
            ReplayCacheUnavailable { .. } => ErrorCode::ReplayCacheUnavailable,
            TokenInactive { .. } => ErrorCode::TokenInactive,
            IntrospectionUnavailable { .. } => ErrorCode::IntrospectionUnavailable,
            IntrospectionMalformed { .. } => ErrorCode::IntrospectionMalformed,
        }
    }

    /// True when the token could not be judged at all ("cannot verify now"), as opposed to
    /// being judged bad. Gateways answer 503 for these, not 401.
    pub fn is_unavailable(&self) -> bool {
        self.error_code().is_unavailable()
    }

    /// True when the request was refused because its client sends too much (a DPoP key over
    /// its quota), not because of what it sent: answered 429 with `Retry-After`
    /// ([`ValidationError::retry_after`]).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ValidationError::DpopKeyOverQuota { .. })
    }

    /// Seconds after which the same request may succeed, for refusals that say so (a DPoP
    /// key over its quota); `None` for the others.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ValidationError::DpopKeyOverQuota { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// True for the refusals that concern the `DPoP` proof itself (RFC 9449 section 7.1:
    /// answered with `error="invalid_dpop_proof"`); the other sender-constraint refusals
    /// (key binding, bound token as bearer) are `invalid_token`.
    pub fn is_dpop_proof_error(&self) -> bool {
        use ValidationError::*;
        matches!(
            self,
            DpopProofMissing { .. }
                | DpopProofInvalid { .. }
                | DpopMethodMismatch { .. }
                | DpopUrlMismatch { .. }
                | DpopProofTime { .. }
                | DpopReplayed { .. }
                | DpopAthMismatch { .. }
        )
    }

    /// True for every refusal about DPoP (proof or binding): answered with a `DPoP`
    /// challenge.
    pub fn is_dpop_error(&self) -> bool {
        use ValidationError::*;
        self.is_dpop_proof_error()
            || matches!(
                self,
                DpopKeyMismatch { .. }
                    | BoundTokenAsBearer { .. }
                    | DpopRequired { .. }
                    | DpopNotAccepted { .. }
            )
    }

    /// The expected and found values as a JSON object, for `--json`, logs and APIs.
    pub fn details(&self) -> Value {
        use ValidationError::*;
        match self {
            Malformed { part, reason } => json!({"part": part.as_str(), "reason": reason}),
            TokenTooLarge { limit, found } => json!({"limit": limit, "found": found}),
            Encrypted { alg, enc } => json!({"alg": alg, "enc": enc}),
            Unsecured { alg } => json!({"alg": alg}),
            AlgNotAllowed { alg, allowed } => json!({"found": alg, "allowed": allowed}),
            AlgKeyMismatch { alg, kid, key } => json!({"alg": alg, "kid": kid, "key": key}),
            KidMissing { candidates, alg } => json!({"candidates": candidates, "alg": alg}),
            KidNotFound {
                kid,
                known_kids,
                alg,
            } => json!({"kid": kid, "known_kids": known_kids, "alg": alg}),
            KeyUnusable { kid, reason } => json!({"kid": kid, "reason": reason}),
            SignatureInvalid { alg, kid } => json!({"alg": alg, "kid": kid}),
            CritUnsupported { names } => json!({"names": names}),
            Expired { exp, now, leeway } => {
                json!({"exp": exp, "now": now, "leeway": leeway, "seconds_past": now - exp})
            }
            NotYetValid { nbf, now, leeway } => {
                json!({"nbf": nbf, "now": now, "leeway": leeway, "seconds_early": nbf - now})
            }
            IssuedInFuture { iat, now, leeway } => {
                json!({"iat": iat, "now": now, "leeway": leeway, "seconds_ahead": iat - now})
            }
            TooOld { iat, now, max_age } => {
                json!({"iat": iat, "now": now, "max_age": max_age, "age": now - iat})
            }
            IssuerMismatch { expected, found } => json!({"expected": expected, "found": found}),
            TenantMissing { issuer } => json!({"issuer": issuer}),
            TenantNotAllowed { tenant, allowed } => json!({"found": tenant, "allowed": allowed}),
            KeyIssuerMismatch {
                kid,
                key_issuer,
                found,
            } => json!({"kid": kid, "key_issuer": key_issuer, "found": found}),
            AudienceMismatch { expected, found } => json!({"expected": expected, "found": found}),
            MissingClaim { claim } => json!({"claim": claim}),
            InvalidClaim {
                claim,
                expected,
                found,
            } => json!({"claim": claim, "expected": expected, "found": found}),
            TypeMismatch { expected, found } => json!({"expected": expected, "found": found}),
            KeysUnavailable { issuer, reason } => json!({"issuer": issuer, "reason": reason}),
            DpopProofMissing { reason } | DpopProofInvalid { reason } => json!({"reason": reason}),
            DpopMethodMismatch { expected, found } | DpopUrlMismatch { expected, found } => {
                json!({"expected": expected, "found": found})
            }
            DpopProofTime {
                iat,
                now,
                window,
                leeway,
            } => {
                json!({"iat": iat, "now": now, "window": window, "leeway": leeway, "age": now - iat})
            }
            DpopReplayed { jti } => json!({"jti": jti}),
            DpopKeyOverQuota {
                jkt,
                limit,
                retry_after,
            } => json!({"jkt": jkt, "limit": limit, "retry_after": retry_after}),
            DpopAthMismatch { expected, found } => json!({"expected": expected, "found": found}),
            DpopKeyMismatch { expected, found } => json!({"expected": expected, "found": found}),
            BoundTokenAsBearer { jkt } => json!({"jkt": jkt}),
            DpopRequired { issuer } | DpopNotAccepted { issuer } => json!({"issuer": issuer}),
            ClientCertMissing { reason } | ReplayCacheUnavailable { reason } => {
                json!({"reason": reason})
            }
            ClientCertMismatch { expected, found } => json!({"expected": expected, "found": found}),
            TokenInactive { issuer } => json!({"issuer": issuer}),
            IntrospectionUnavailable { issuer, reason }
            | IntrospectionMalformed { issuer, reason } => {
                json!({"issuer": issuer, "reason": reason})
            }
        }
    }

    /// What usually causes this failure, in plain English.
    pub fn cause(&self) -> &'static str {
        use ValidationError::*;
        match self {
            Malformed { .. } => "the value is not a signed JWT: an opaque token, a truncated or re-encoded copy, or an ID/refresh token format the API cannot read",
            TokenTooLarge { .. } => "the token carries too many claims (often group lists) or is not a token at all",
            Encrypted { .. } => "the identity provider encrypts tokens for this client (JWE); an API can only validate signed tokens",
            Unsecured { .. } => "the token is unsigned (alg none); it may have been forged or produced by a misconfigured test issuer",
            AlgNotAllowed { .. } => "the identity provider signs with an algorithm this API does not accept, or the token was forged with a weaker algorithm",
            AlgKeyMismatch { .. } => "the token's algorithm does not fit the key with its kid: an algorithm-confusion attempt, or keys of two types published under one kid",
            KidMissing { .. } => "the token names no key (kid) and several keys could apply; symmetric (HS256) tokens often lack a kid",
            KidNotFound { .. } => "the token was signed by a key this API does not hold: keys rotated at the identity provider, or the token comes from another tenant or environment",
            KeyUnusable { .. } => "the matching key is published for another purpose (use: enc) or cannot be parsed",
            SignatureInvalid { .. } => "the token was altered after signing, or signed by a different key with the same kid (or, for HMAC, with a different secret)",
            CritUnsupported { .. } => "the token requires header extensions this API does not implement",
            Expired { .. } => "the client reused a token past its lifetime instead of refreshing it, or the API's clock runs fast",
            NotYetValid { .. } => "the token is used before its nbf time: the identity provider's clock runs ahead of this server's",
            IssuedInFuture { .. } => "the token claims to be issued in the future: one of the two clocks is wrong",
            TooOld { .. } => "the token was issued longer ago than this API accepts",
            IssuerMismatch { .. } => "the token comes from another issuer: another tenant, environment (staging vs production) or authorization server, or the configured issuer differs by a character",
            TenantMissing { .. } => "the token's iss names a tenant but the token carries no tid claim to confirm it; Entra ID always sends tid, so the token is not an Entra access token or was made by hand",
            TenantNotAllowed { .. } => "the token comes from a tenant this API does not accept: a customer tenant not yet onboarded, or a personal Microsoft account sent to an API for work and school accounts",
            KeyIssuerMismatch { .. } => "the key that signed the token belongs to another issuer than the token claims (for example a personal-account key used for an organisation's token): a forged or misrouted token",
            AudienceMismatch { .. } => "the token was issued for another API (or its audience is spelled differently, e.g. api://id vs id)",
            MissingClaim { .. } => "the identity provider does not put this claim in this kind of token",
            InvalidClaim { .. } => "the claim has the wrong JSON type or value (for example a time as a string, or in milliseconds)",
            TypeMismatch { .. } => "the token is of another kind than this API accepts (for example an ID token or refresh token instead of an access token)",
            KeysUnavailable { .. } => "the identity provider's keys cannot be fetched right now and no usable cached copy exists",
            DpopProofMissing { .. } => "the client sent a DPoP-bound token without a DPoP proof, or a proxy dropped the DPoP header",
            DpopProofInvalid { .. } => "the client's DPoP library builds proofs this API cannot accept (typ, algorithm, key or claims), or the proof was altered",
            DpopMethodMismatch { .. } => "the proof was made for another HTTP method (a proof reused across requests, or a proxy that changes the method)",
            DpopUrlMismatch { .. } => "the proof was made for the URL the client used and the API sees another one: a proxy rewrote the scheme, host, port or path",
            DpopProofTime { .. } => "the proof was made too long ago (stored and reused) or the client's clock differs from this server's",
            DpopReplayed { .. } => "the same proof was sent twice: a replay, or a client that reuses proofs instead of making one per request",
            DpopKeyOverQuota { .. } => "one client (one DPoP key) sent more requests within the proof window than the API lets one key make: a client in a loop, a flood, or a busy service sharing one key",
            DpopAthMismatch { .. } => "the proof was made for another access token (the client refreshed the token but kept an old proof)",
            DpopKeyMismatch { .. } => "the proof is signed by another key than the one the token is bound to, or the token is not DPoP-bound",
            BoundTokenAsBearer { .. } => "the client sent a DPoP-bound token as a plain bearer token; it may have been stolen",
            DpopRequired { .. } => "this API accepts only DPoP-bound tokens from this issuer and the client sent a bearer token",
            DpopNotAccepted { .. } => "the client uses DPoP but DPoP is off for this issuer",
            ClientCertMissing { .. } => "the token is bound to a client certificate and the TLS-terminating proxy did not pass the certificate (or is not a trusted proxy)",
            ClientCertMismatch { .. } => "the token is bound to another client certificate than the one presented",
            ReplayCacheUnavailable { .. } => "the shared replay cache (Redis) cannot be reached, so a replayed proof cannot be ruled out",
            TokenInactive { .. } => "the authorization server no longer knows the token as valid: it was revoked, expired, or issued by another server or for another resource",
            IntrospectionUnavailable { .. } => "the issuer's introspection endpoint cannot be reached, is too slow, or refuses this API's client credentials",
            IntrospectionMalformed { .. } => "the introspection endpoint answered something that is not an RFC 7662 response (an error page, a proxy, or a non-standard server)",
        }
    }

    /// What to change to fix it, in plain English.
    pub fn fix(&self) -> &'static str {
        use ValidationError::*;
        match self {
            Malformed { .. } => "send the access token itself (three base64url parts separated by dots); ask the identity provider for a JWT access token (e.g. set an audience/resource)",
            TokenTooLarge { .. } => "reduce the claims in the token at the identity provider, or raise max_token_size",
            Encrypted { .. } => "turn off token encryption for this API at the identity provider, or decrypt before validation",
            Unsecured { .. } => "sign tokens at the issuer; never accept alg none",
            AlgNotAllowed { .. } => "add the algorithm to the API's allowed algorithms if the issuer legitimately uses it, or change the signing algorithm at the identity provider",
            AlgKeyMismatch { .. } => "sign with the algorithm that matches the published key (check the key's kty, crv and alg)",
            KidMissing { .. } => "have the issuer put a kid in the token header, or configure exactly one key",
            KidNotFound { .. } => "refresh the API's keys from the issuer's JWKS (Tollgate does this automatically for remote keys) and check the token's iss is the one configured",
            KeyUnusable { .. } => "publish a signing key (use: sig) for this kid at the identity provider",
            SignatureInvalid { .. } => "get a fresh token from the issuer; check that the API and issuer agree on the key (and for HMAC, on the exact secret bytes)",
            CritUnsupported { .. } => "issue tokens without critical extensions for this API",
            Expired { .. } => "get a new token (refresh it before it expires) and check both clocks with NTP",
            NotYetValid { .. } => "synchronise the clocks with NTP, or allow a little more leeway",
            IssuedInFuture { .. } => "synchronise the clocks with NTP, or allow a little more leeway",
            TooOld { .. } => "get a new token, or raise the maximum age",
            IssuerMismatch { .. } => "request the token from the configured issuer, or add this issuer to the API's accepted issuers (exactly as the token spells it)",
            TenantMissing { .. } => "send an access token issued by Entra ID for this API (it carries tid), or configure this issuer as a literal issuer rather than a {tenantid} template",
            TenantNotAllowed { .. } => "add the tenant id to the issuer's tenants if this customer should be accepted; for personal accounts set the app registration's supported account types (signInAudience) to match, and use the organizations endpoint",
            KeyIssuerMismatch { .. } => "refuse the token; if it is genuine, the client used the wrong authority (use https://login.microsoftonline.com/<tenant-id> or /organizations rather than /consumers)",
            AudienceMismatch { .. } => "request the token for this API's audience (scope/resource/audience parameter), or accept the audience exactly as the token spells it",
            MissingClaim { .. } => "configure the identity provider to include the claim, or stop requiring it",
            InvalidClaim { .. } => "fix the claim at the issuer: times are NumericDate seconds, strings are strings",
            TypeMismatch { .. } => "send an access token (typ at+jwt or JWT) rather than an ID or refresh token",
            KeysUnavailable { .. } => "check that the issuer's discovery document and JWKS URL are reachable from this server; retry later",
            DpopProofMissing { .. } => "send a fresh DPoP proof in the DPoP header with every request, and have proxies pass the DPoP header through",
            DpopProofInvalid { .. } => "make proofs with typ dpop+jwt, an allowed asymmetric algorithm, the public key in jwk, and jti, htm, htu, iat (and ath with a token)",
            DpopMethodMismatch { .. } => "make a new proof for each request with htm set to the request's method",
            DpopUrlMismatch { .. } => "make the proof for the exact URL without query; behind a proxy set the gateway's public_url (or forward X-Forwarded-Proto/-Host) so the API sees the URL the client used",
            DpopProofTime { .. } => "make a new proof for each request and synchronise the clocks with NTP",
            DpopReplayed { .. } => "make a new proof (new jti) for every request",
            DpopKeyOverQuota { .. } => "slow the client down and retry after the time given; give each instance of a busy service its own key (and token), or raise the replay cache's max_per_key",
            DpopAthMismatch { .. } => "make the proof for the token it is sent with (ath = base64url(SHA-256(token)))",
            DpopKeyMismatch { .. } => "sign the proof with the key the token was bound to (the key sent to the token endpoint), and send a DPoP-bound token",
            BoundTokenAsBearer { .. } => "send the token with Authorization: DPoP <token> and a DPoP proof",
            DpopRequired { .. } => "request a DPoP-bound token (send a DPoP proof to the token endpoint) and send it with Authorization: DPoP",
            DpopNotAccepted { .. } => "send the token as Bearer, or set dpop = \"allowed\" for this issuer",
            ClientCertMissing { .. } => "terminate mutual TLS at a trusted proxy and have it pass the client certificate in the configured header",
            ClientCertMismatch { .. } => "call the API with the certificate the token was issued for",
            ReplayCacheUnavailable { .. } => "check that the replay cache (Redis) is reachable from the gateway; retry later",
            TokenInactive { .. } => "get a new token from the issuer; if it was just issued, check that the token and the introspection client belong to the same authorization server",
            IntrospectionUnavailable { .. } => "check that the introspection endpoint is reachable from this server and that the introspection client id and secret are right; retry later",
            IntrospectionMalformed { .. } => "point the introspection endpoint at the authorization server's RFC 7662 endpoint (it answers JSON with a boolean active member)",
        }
    }
}

fn algs(items: &[Algorithm]) -> String {
    items
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kid "k1"` or `without kid`, the kid cut and quoted.
struct KeyName<'a>(Option<&'a str>);

impl fmt::Display for KeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(k) => write!(f, "{}", cut_quoted(k)),
            None => f.write_str("without kid"),
        }
    }
}

/// Every value that came from a token (or from a key set, or a reason that may quote either)
/// is shown through [`crate::text`]: cut to [`MAX_SHOWN_CHARS`](crate::text::MAX_SHOWN_CHARS)
/// characters (reasons to [`MAX_REASON_CHARS`]) with its size, control characters escaped,
/// lists to [`MAX_SHOWN_ITEMS`](crate::text::MAX_SHOWN_ITEMS) items. The variants keep the
/// whole values for programs (and the doctor).
impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValidationError::*;
        let reason = |r: &str| cut_text_to(r, MAX_REASON_CHARS).to_string();
        match self {
            Malformed { part, reason: r } => write!(f, "the token is malformed: {} {}", part.as_str(), reason(r)),
            TokenTooLarge { limit, found } => write!(f, "the token is {found} bytes, over the limit of {limit} bytes"),
            Encrypted { alg, enc } => write!(
                f,
                "the token is encrypted (JWE, alg {}, enc {}); only signed tokens (JWS) can be validated",
                cut_text(alg.as_deref().unwrap_or("?")),
                cut_text(enc.as_deref().unwrap_or("?"))
            ),
            Unsecured { alg } => write!(f, "the token is unsigned (alg {}); unsigned tokens are never accepted", cut_quoted(alg)),
            AlgNotAllowed { alg, allowed } => write!(f, "the token's algorithm {} is not allowed; allowed: {}", cut_quoted(alg), algs(allowed)),
            AlgKeyMismatch { alg, kid, key } => write!(
                f,
                "the token's algorithm {} does not fit key {} ({})",
                cut_text(alg),
                KeyName(kid.as_deref()),
                reason(key)
            ),
            KidMissing { candidates, alg } => write!(f, "the token has no kid and {candidates} keys fit its algorithm {}; a kid is required to choose one", cut_text(alg)),
            KidNotFound { kid, known_kids, .. } => write!(f, "no key with kid {}; the keys held are: {}", cut_quoted(kid), cut_list(known_kids)),
            KeyUnusable { kid, reason: r } => write!(f, "key {} cannot be used: {}", KeyName(kid.as_deref()), reason(r)),
            SignatureInvalid { alg, kid } => write!(f, "the {alg} signature does not verify with key {}", KeyName(kid.as_deref())),
            CritUnsupported { names } => write!(f, "the token requires header extensions Tollgate does not support: {}", cut_list(names)),
            Expired { exp, now, leeway } => write!(f, "the token expired {} ago (exp {exp}, now {now}, leeway {leeway} s)", span(now - exp)),
            NotYetValid { nbf, now, leeway } => write!(f, "the token is not valid for another {} (nbf {nbf}, now {now}, leeway {leeway} s)", span(nbf - now)),
            IssuedInFuture { iat, now, leeway } => write!(f, "the token was issued {} in the future (iat {iat}, now {now}, leeway {leeway} s)", span(iat - now)),
            TooOld { iat, now, max_age } => write!(f, "the token was issued {} ago, more than the maximum age of {max_age} s (iat {iat}, now {now})", span(now - iat)),
            IssuerMismatch { expected, found } => match found {
                Some(iss) => write!(f, "the issuer {} is not accepted; expected {}", cut_quoted(iss), cut_list(expected)),
                None => write!(f, "the token has no iss claim; expected {}", cut_list(expected)),
            },
            TenantMissing { issuer } => write!(f, "the issuer {} is a tenant of a {{tenantid}} template but the token has no tid claim", cut_quoted(issuer)),
            TenantNotAllowed { tenant, allowed } => write!(f, "the tenant {} is not accepted; accepted tenants: {}", cut_quoted(tenant), cut_list(allowed)),
            KeyIssuerMismatch { kid, key_issuer, found } => write!(
                f,
                "key {} is published for issuer {}, not for the token's issuer {}",
                KeyName(kid.as_deref()),
                cut_quoted(key_issuer),
                cut_quoted(found.as_deref().unwrap_or("(absent)"))
            ),
            AudienceMismatch { expected, found } => {
                if found.is_empty() {
                    write!(f, "the token has no aud claim; expected {}", cut_list(expected))
                } else {
                    write!(f, "the audience {} is not accepted; expected {}", cut_list(found), cut_list(expected))
                }
            }
            MissingClaim { claim } => write!(f, "the required claim {} is missing", cut_quoted(claim)),
            InvalidClaim { claim, expected, found } => write!(
                f,
                "the claim {} is invalid: expected {}, found {}",
                cut_quoted(claim),
                reason(expected),
                reason(found)
            ),
            TypeMismatch { expected, found } => match found {
                Some(t) => write!(f, "the token type (typ) {} is not accepted; expected {}", cut_quoted(t), reason(expected)),
                None => write!(f, "the token type (typ) (absent) is not accepted; expected {}", reason(expected)),
            },
            KeysUnavailable { issuer, reason: r } => {
                f.write_str("cannot verify now: no usable keys")?;
                if let Some(i) = issuer {
                    write!(f, " for issuer {}", cut_quoted(i))?;
                }
                // The whole reason (fetch URL, IdP answer) is for logs; clients get the fixed
                // sentence of `ChallengeOptions::error` instead.
                write!(f, ": {}", cut_text_to(r, usize::MAX))
            }
            DpopProofMissing { reason: r } => write!(f, "no DPoP proof: {}", reason(r)),
            DpopProofInvalid { reason: r } => write!(f, "the DPoP proof is invalid: {}", reason(r)),
            DpopMethodMismatch { expected, found } => write!(
                f,
                "the DPoP proof is for method {} but the request is {}",
                cut_quoted(found),
                cut_quoted(expected)
            ),
            DpopUrlMismatch { expected, found } => write!(
                f,
                "the DPoP proof is for URL {} but the request went to {}",
                cut_quoted(found),
                cut_quoted(expected)
            ),
            DpopProofTime { iat, now, window, leeway } => {
                if iat > now {
                    write!(f, "the DPoP proof was made {} in the future (iat {iat}, now {now}, leeway {leeway} s)", span(iat - now))
                } else {
                    write!(f, "the DPoP proof was made {} ago, more than the {window} s window (iat {iat}, now {now}, leeway {leeway} s)", span(now - iat))
                }
            }
            DpopReplayed { jti } => write!(f, "the DPoP proof {} was already used with this key", cut_quoted(jti)),
            DpopKeyOverQuota { jkt, limit, retry_after } => write!(
                f,
                "the DPoP key (thumbprint {}) already has {limit} live proofs, the most one key may have within the proof window; retry after {retry_after} s",
                cut_quoted(jkt)
            ),
            DpopAthMismatch { expected, found } => match found {
                Some(ath) => write!(f, "the DPoP proof's ath {} is not the hash of this token ({})", cut_quoted(ath), cut_quoted(expected)),
                None => write!(f, "the DPoP proof has no ath; with an access token it must hash it ({})", cut_quoted(expected)),
            },
            DpopKeyMismatch { expected, found } => match expected {
                Some(jkt) => write!(f, "the DPoP proof's key (thumbprint {}) is not the key the token is bound to (cnf.jkt {})", cut_quoted(found), cut_quoted(jkt)),
                None => write!(f, "the token is not DPoP-bound (no cnf.jkt) but came with the DPoP scheme (proof key {})", cut_quoted(found)),
            },
            BoundTokenAsBearer { jkt } => write!(f, "the token is DPoP-bound (cnf.jkt {}) and was sent as a Bearer token", cut_quoted(jkt)),
            DpopRequired { issuer } => write!(f, "issuer {} requires DPoP-bound tokens; this one came as a Bearer token", cut_quoted(issuer)),
            DpopNotAccepted { issuer } => write!(f, "the token came with the DPoP scheme but DPoP is off for issuer {}", cut_quoted(issuer)),
            ClientCertMissing { reason: r } => write!(f, "the token is bound to a client certificate and none is available: {}", reason(r)),
            ClientCertMismatch { expected, found } => write!(
                f,
                "the client certificate (x5t#S256 {}) is not the one the token is bound to ({})",
                cut_quoted(found),
                cut_quoted(expected)
            ),
            ReplayCacheUnavailable { reason: r } => {
                write!(f, "cannot verify now: the DPoP replay cache is unavailable: {}", cut_text_to(r, usize::MAX))
            }
            TokenInactive { issuer } => write!(
                f,
                "the token is not active: the introspection endpoint of issuer {} says it is revoked, expired or unknown",
                cut_quoted(issuer)
            ),
            IntrospectionUnavailable { issuer, reason: r } => write!(
                f,
                "cannot verify now: the introspection endpoint of issuer {} did not answer: {}",
                cut_quoted(issuer),
                reason(r)
            ),
            IntrospectionMalformed { issuer, reason: r } => write!(
                f,
                "cannot verify now: the introspection endpoint of issuer {} answered something that is not an RFC 7662 response: {}",
                cut_quoted(issuer),
                reason(r)
            ),
        }
    }
}

impl std::error::Error for ValidationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_listed() {
        let mut codes = ValidationError::CODES.to_vec();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 42);
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn display_carries_values() {
        let e = ValidationError::AudienceMismatch {
            expected: vec!["api://orders".into()],
            found: vec!["orders".into()],
        };
        assert_eq!(
            e.to_string(),
            "the audience \"orders\" is not accepted; expected \"api://orders\""
        );
        let e = ValidationError::KidNotFound {
            kid: "k9".into(),
            known_kids: vec!["k1".into(), "k2".into()],
            alg: "RS256".into(),
        };
        assert!(e.to_string().contains("\"k1\", \"k2\""));
        assert_eq!(e.details()["known_kids"][1], "k2");
    }
}
