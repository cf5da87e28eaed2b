//! DPoP proofs (RFC 9449): a client proves, with every request, that it holds the private
//! key its access token is bound to.
//!
//! A proof is a small JWT in the `DPoP` header, signed with the client's key, whose public
//! half travels in the proof's `jwk` header. [`check_proof`] runs the checks of RFC 9449
//! section 4.3, in order:
//!
//! | check | refusal code |
//! |---|---|
//! | at most [`DEFAULT_MAX_PROOF_SIZE`] bytes, a compact JWS | `dpop_proof_invalid` |
//! | `typ` is `dpop+jwt` | `dpop_proof_invalid` |
//! | `alg` asymmetric and in [`DpopOptions::algorithms`] (never `none`, never HS*) | `dpop_proof_invalid` |
//! | `jwk` a public key (no `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) that fits `alg` and verifies the signature | `dpop_proof_invalid` |
//! | `jti` (1 to 256 characters), `htm`, `htu` strings, `iat` a number | `dpop_proof_invalid` |
//! | `htm` equals the request's method | `dpop_htm_mismatch` |
//! | `htu` equals the request's URL, both normalised ([`normalize_htu`]) | `dpop_htu_mismatch` |
//! | `iat` within [`DpopOptions::window`] in the past, [`DpopOptions::leeway`] either way | `dpop_iat_outside_window` |
//! | with an access token: `ath` = base64url(SHA-256(token)) | `dpop_ath_mismatch` |
//!
//! Then, for a token (see [`crate::binding`]): the proof key's RFC 7638 thumbprint equals
//! the token's `cnf.jkt` (`dpop_key_mismatch`), and the proof's `jti` has not been seen with
//! that key ([`ReplayCache`], `dpop_replayed`), nor has the key more live proofs than its
//! quota ([`DEFAULT_MAX_PER_KEY`], `dpop_key_over_quota`). The replay check is last, so that
//! only proofs that passed everything else take room in the cache.
//!
//! No key is ever fetched: the proof carries it, and the binding to the token is the check.
//! Signatures go through the crate's one crypto seam, like tokens.

mod htu;
mod replay;

pub use htu::normalize_htu;
pub use replay::{
    replay_key, MemoryReplayCache, ProofId, ReplayCache, ReplayFuture, ReplayRefusal,
    DEFAULT_MAX_ENTRIES, DEFAULT_MAX_PER_KEY,
};

use serde_json::{json, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::crypto::{random_bytes, sha256, KeyError, SigningKey};
use crate::error::ValidationError;
use crate::jwk::Jwk;
use crate::jws;
use crate::text::cut;

/// The `typ` of a DPoP proof.
pub const PROOF_TYP: &str = "dpop+jwt";

/// Default largest proof: 8 KiB. A proof with an RSA-4096 key is about 1.5 KiB; anything
/// much larger is not a proof.
pub const DEFAULT_MAX_PROOF_SIZE: usize = 8 * 1024;

/// Default proof window: a proof is accepted for 60 s after its `iat`. Proofs are made per
/// request, so a minute covers slow networks and retries; it is also how long the replay
/// cache keeps each `jti`.
pub const DEFAULT_PROOF_WINDOW: u64 = 60;

/// Default leeway for the proof's `iat`: 5 s either way, for clocks that differ a little
/// (RFC 9449 section 11.1 leaves the value to the server; a proof is fresh by design, so the
/// leeway is smaller than a token's).
pub const DEFAULT_PROOF_LEEWAY: u64 = 5;

/// The longest `jti` accepted: 256 characters (RFC 9449 asks for at least 96 bits of
/// randomness; 256 characters is far more than any client uses).
pub const MAX_JTI_CHARS: usize = 256;

/// JWK members that hold private or secret key material: a proof carrying any of them is
/// refused (RFC 9449 section 4.3, check 6).
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

crate::error::vocabulary! {
    /// Whether an issuer's tokens may, must or must not be DPoP-bound; the string is the
    /// configuration spelling (`dpop = "off" | "allowed" | "required"`).
    #[derive(Default)]
    pub enum DpopMode {
        /// DPoP is not used: `Authorization: DPoP` is refused (`dpop_not_accepted`); a bound
        /// token (`cnf.jkt`) is refused whatever the scheme, since its binding cannot be checked.
        Off = "off",
        /// Bearer tokens and DPoP-bound tokens (with their proof) are both accepted; a bound
        /// token sent as `Bearer` is refused (`dpop_bound_token_as_bearer`). The default: a bound
        /// token is never accepted without its proof, and unbound tokens keep working.
        #[default]
        Allowed = "allowed",
        /// Only DPoP-bound tokens with their proof are accepted (`dpop_required`).
        Required = "required",
    }
}

impl std::str::FromStr for DpopMode {
    type Err = String;
    fn from_str(s: &str) -> Result<DpopMode, String> {
        DpopMode::parse(s).ok_or_else(|| {
            format!(
                "dpop must be one of {}, not {}",
                DpopMode::STRS.join(", "),
                crate::text::cut_quoted(s)
            )
        })
    }
}

/// How an issuer's DPoP proofs are checked. Every default is a constant of this module,
/// documented with its reason.
///
/// ```
/// use tollgate::dpop::{DpopMode, DpopOptions};
/// let options = DpopOptions::default().mode(DpopMode::Required).window(30);
/// assert_eq!(options.leeway, tollgate::dpop::DEFAULT_PROOF_LEEWAY);
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct DpopOptions {
    /// Off, allowed (default) or required.
    pub mode: DpopMode,
    /// The proof algorithms accepted. Default: every asymmetric one; symmetric ones are
    /// never accepted, whatever this says.
    pub algorithms: Vec<Algorithm>,
    /// Seconds a proof stays acceptable after its `iat`. Default [`DEFAULT_PROOF_WINDOW`].
    pub window: u64,
    /// Seconds of clock difference allowed either way. Default [`DEFAULT_PROOF_LEEWAY`].
    pub leeway: u64,
    /// Largest proof in bytes. Default [`DEFAULT_MAX_PROOF_SIZE`].
    pub max_proof_size: usize,
}

impl Default for DpopOptions {
    fn default() -> DpopOptions {
        DpopOptions {
            mode: DpopMode::default(),
            algorithms: Algorithm::ASYMMETRIC.to_vec(),
            window: DEFAULT_PROOF_WINDOW,
            leeway: DEFAULT_PROOF_LEEWAY,
            max_proof_size: DEFAULT_MAX_PROOF_SIZE,
        }
    }
}

impl DpopOptions {
    /// Sets the mode.
    pub fn mode(mut self, mode: DpopMode) -> DpopOptions {
        self.mode = mode;
        self
    }
    /// Sets the accepted proof algorithms (symmetric ones are dropped).
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> DpopOptions {
        self.algorithms = algs.into_iter().filter(|a| !a.is_symmetric()).collect();
        self
    }
    /// Sets the proof window, in seconds.
    pub fn window(mut self, seconds: u64) -> DpopOptions {
        self.window = seconds;
        self
    }
    /// Sets the leeway, in seconds.
    pub fn leeway(mut self, seconds: u64) -> DpopOptions {
        self.leeway = seconds;
        self
    }
    /// Sets the largest proof, in bytes.
    pub fn max_proof_size(mut self, bytes: usize) -> DpopOptions {
        self.max_proof_size = bytes;
        self
    }
    /// The accepted algorithms as the `algs` parameter of a `DPoP` challenge
    /// (space-separated).
    pub fn algs_param(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// Until when (Unix seconds) a proof made at `iat` could still be accepted: how long
    /// the replay cache must remember its `jti`.
    pub fn replay_until(&self, iat: i64) -> i64 {
        let keep = self.window.saturating_add(self.leeway.saturating_mul(2));
        iat.saturating_add(i64::try_from(keep).unwrap_or(i64::MAX))
    }
}

/// A proof that passed [`check_proof`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key (compared with `cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti` (for the replay cache).
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
}

impl CheckedProof {
    /// The proof's replay cache key ([`replay_key`]).
    pub fn replay_key(&self) -> String {
        replay_key(&self.jkt, &self.jti)
    }

    /// The proof as the replay cache sees it: its key's thumbprint and its `jti`.
    pub fn id(&self) -> ProofId<'_> {
        ProofId {
            jkt: &self.jkt,
            jti: &self.jti,
        }
    }

    /// The verdict on this proof from a replay cache's answer ([`ReplayCache::insert_new`]):
    /// the one place that answer becomes a refusal. `Ok(false)` is `dpop_replayed`, a key
    /// over its quota `dpop_key_over_quota`, a cache that cannot tell
    /// `replay_cache_unavailable`.
    ///
    /// ```
    /// use tollgate::dpop::{CheckedProof, ReplayRefusal};
    /// let proof = CheckedProof { jkt: "k".into(), jti: "j".into(), iat: 0 };
    /// assert_eq!(proof.replay_verdict(Ok(true)), Ok(()));
    /// assert_eq!(proof.replay_verdict(Ok(false)).unwrap_err().code(), "dpop_replayed");
    /// let over = ReplayRefusal::OverQuota { limit: 1000, retry_after: 12 };
    /// assert_eq!(proof.replay_verdict(Err(over)).unwrap_err().code(), "dpop_key_over_quota");
    /// ```
    pub fn replay_verdict(
        &self,
        answer: Result<bool, ReplayRefusal>,
    ) -> Result<(), ValidationError> {
        match answer {
            Ok(true) => Ok(()),
            Ok(false) => Err(ValidationError::DpopReplayed {
                jti: self.jti.clone(),
            }),
            Err(ReplayRefusal::OverQuota { limit, retry_after }) => {
                Err(ValidationError::DpopKeyOverQuota {
                    jkt: self.jkt.clone(),
                    limit,
                    retry_after,
                })
            }
            Err(ReplayRefusal::Unavailable(reason)) => {
                Err(ValidationError::ReplayCacheUnavailable { reason })
            }
        }
    }
}

fn invalid(reason: impl Into<String>) -> ValidationError {
    ValidationError::DpopProofInvalid {
        reason: reason.into(),
    }
}

/// base64url(SHA-256(token)): the `ath` of a proof sent with `token`.
///
/// ```
/// assert_eq!(tollgate::dpop::access_token_hash("x").len(), 43);
/// ```
pub fn access_token_hash(token: &str) -> String {
    b64::encode(sha256(token.as_bytes()))
}

/// Checks one proof for a request (`method`, absolute `url` as the client sent it) at
/// `now`, with the access token it came with (`None` at a token endpoint). Does not look at
/// the replay cache nor at the token's `cnf.jkt`: see [`crate::binding::check_binding`].
///
/// ```
/// use tollgate::dpop::{check_proof, make_proof, DpopOptions};
/// use tollgate::{Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::ES256, "client").unwrap();
/// let proof = make_proof(&key, "GET", "https://api.example/orders?x=1", Some("tok"), 1_000).unwrap();
/// let options = DpopOptions::default();
/// let ok = check_proof(&proof, "GET", "https://API.example:443/orders", Some("tok"), &options, 1_010).unwrap();
/// assert_eq!(ok.jkt, tollgate::jwk::thumbprint_of(&key.public_jwk()).unwrap());
/// let err = check_proof(&proof, "POST", "https://api.example/orders", Some("tok"), &options, 1_010).unwrap_err();
/// assert_eq!(err.code(), "dpop_htm_mismatch");
/// ```
pub fn check_proof(
    proof: &str,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    options: &DpopOptions,
    now: i64,
) -> Result<CheckedProof, ValidationError> {
    let proof = proof.trim();
    let decoded = match jws::decode(proof, options.max_proof_size) {
        Ok(d) => d,
        Err(ValidationError::TokenTooLarge { limit, found }) => {
            return Err(invalid(format!(
                "it is {found} bytes, over the limit of {limit} bytes"
            )))
        }
        Err(ValidationError::Unsecured { alg }) => {
            return Err(invalid(format!(
                "it is unsigned (alg {:?}); a proof is signed with the client's private key",
                cut(&alg).to_string()
            )))
        }
        Err(e) => return Err(invalid(format!("it is not a signed JWT: {e}"))),
    };
    let header = &decoded.header;
    match header.typ.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(PROOF_TYP) => {}
        Some(t) => {
            return Err(invalid(format!(
                "its typ is {:?}; a proof has typ \"{PROOF_TYP}\"",
                cut(t).to_string()
            )))
        }
        None => {
            return Err(invalid(format!(
                "it has no typ; a proof has typ \"{PROOF_TYP}\""
            )))
        }
    }
    let alg = match header.alg.parse::<Algorithm>() {
        Ok(a) if !a.is_symmetric() && options.algorithms.contains(&a) => a,
        _ => {
            return Err(invalid(format!(
                "its algorithm {:?} is not accepted; accepted: {}",
                cut(&header.alg).to_string(),
                options.algs_param()
            )))
        }
    };
    let raw = header.raw();
    let jwk_value = raw.get("jwk").ok_or_else(|| {
        invalid("it has no jwk header; a proof carries the client's public key in jwk")
    })?;
    let jwk_object = jwk_value
        .as_object()
        .ok_or_else(|| invalid("its jwk header is not a JSON object"))?;
    if let Some(private) = PRIVATE_JWK_MEMBERS
        .iter()
        .find(|m| jwk_object.contains_key(**m))
    {
        return Err(invalid(format!(
            "its jwk holds the private member {private:?}; a proof carries only the public key (the private key has leaked: replace it)"
        )));
    }
    let key =
        Jwk::from_value(jwk_value).map_err(|e| invalid(format!("its jwk cannot be used: {e}")))?;
    if !key.fits(alg) {
        return Err(invalid(format!(
            "its algorithm {alg} does not fit its jwk ({})",
            key.describe()
        )));
    }
    if !key.verify(alg, decoded.signing_input, &decoded.signature) {
        return Err(invalid(format!(
            "its {alg} signature does not verify with its jwk"
        )));
    }
    let claims = decoded
        .claims()
        .map_err(|e| invalid(format!("its claims cannot be read: {e}")))?;
    let string = |name: &str| -> Result<&str, ValidationError> {
        match claims.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(invalid(format!(
                "its {name} is {}, not a string",
                crate::json::kind(other)
            ))),
            None => Err(invalid(format!("it has no {name} claim"))),
        }
    };
    let jti = string("jti")?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(invalid(format!(
            "its jti has {} characters; 1 to {MAX_JTI_CHARS} are accepted",
            jti.chars().count()
        )));
    }
    let htm = string("htm")?;
    let htu = string("htu")?;
    let iat = match claims.get("iat") {
        Some(v) => crate::claims::numeric_date(v)
            .ok_or_else(|| invalid("its iat is not a NumericDate (seconds since 1970)"))?,
        None => return Err(invalid("it has no iat claim")),
    };
    if htm != method {
        return Err(ValidationError::DpopMethodMismatch {
            expected: method.to_string(),
            found: htm.to_string(),
        });
    }
    let expected_url = normalize_htu(url).map_err(|why| ValidationError::DpopUrlMismatch {
        expected: format!(
            "(the request URL {:?} cannot be read: {why})",
            cut(url).to_string()
        ),
        found: htu.to_string(),
    })?;
    match normalize_htu(htu) {
        Ok(found) if found == expected_url => {}
        _ => {
            return Err(ValidationError::DpopUrlMismatch {
                expected: expected_url,
                found: htu.to_string(),
            })
        }
    }
    let leeway = i64::try_from(options.leeway).unwrap_or(i64::MAX);
    let window = i64::try_from(options.window).unwrap_or(i64::MAX);
    if iat > now.saturating_add(leeway) || iat < now.saturating_sub(window.saturating_add(leeway)) {
        return Err(ValidationError::DpopProofTime {
            iat,
            now,
            window: options.window,
            leeway: options.leeway,
        });
    }
    if let Some(token) = access_token {
        let expected = access_token_hash(token);
        match claims.get("ath") {
            Some(Value::String(ath)) if *ath == expected => {}
            Some(Value::String(ath)) => {
                return Err(ValidationError::DpopAthMismatch {
                    expected,
                    found: Some(ath.clone()),
                })
            }
            Some(other) => {
                return Err(ValidationError::DpopAthMismatch {
                    expected,
                    found: Some(crate::json::preview(other, 40)),
                })
            }
            None => {
                return Err(ValidationError::DpopAthMismatch {
                    expected,
                    found: None,
                })
            }
        }
    }
    Ok(CheckedProof {
        jkt: key.thumbprint().to_string(),
        jti: jti.to_string(),
        iat,
    })
}

/// The replay cache key ([`replay_key`]) of a proof, read without checking it: for the
/// doctor, which is told which proofs a server already accepted. `None` when the proof has
/// no readable `jwk` or `jti`.
pub fn replay_key_of(proof: &str) -> Option<String> {
    let decoded = jws::decode(proof.trim(), DEFAULT_MAX_PROOF_SIZE).ok()?;
    let jkt = crate::jwk::thumbprint_of(decoded.header.raw().get("jwk")?).ok()?;
    let claims = decoded.claims().ok()?;
    Some(replay_key(&jkt, claims.get("jti")?.as_str()?))
}

/// Makes a proof with `key` for a request (`method`, `url`; the query and fragment are
/// left out of `htu`), with `ath` when `access_token` is given, `iat` = `now` and a random
/// `jti`: for clients, `tollgate dpop` and tests.
pub fn make_proof(
    key: &SigningKey,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    now: i64,
) -> Result<String, KeyError> {
    let mut jwk = key.public_jwk();
    if let Some(o) = jwk.as_object_mut() {
        o.remove("kid");
    }
    let htu = match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    };
    let mut id = [0u8; 16];
    random_bytes(&mut id);
    let mut claims = json!({"jti": b64::encode(id), "htm": method, "htu": htu, "iat": now});
    if let Some(token) = access_token {
        claims["ath"] = json!(access_token_hash(token));
    }
    jws::sign(
        &json!({"typ": PROOF_TYP, "jwk": jwk, "kid": null}),
        &claims,
        key,
    )
}
