//! Sender-constrained tokens: what a request carries besides its token, and the check that
//! the sender holds what the token is bound to.
//!
//! - DPoP (RFC 9449): `Authorization: DPoP <token>` with a `DPoP` proof header; the token's
//!   `cnf.jkt` names the proof key ([`crate::dpop`]).
//! - Certificate-bound tokens (RFC 8705): the token's `cnf["x5t#S256"]` is
//!   base64url(SHA-256(DER)) of the client certificate, which a TLS-terminating proxy passes
//!   in a header ([`read_client_cert`]; a gateway honours it from trusted proxies only).
//!
//! [`check_binding`] is the one check every front end runs (the gateway in both modes and
//! the tower layer, through [`crate::validator::TokenValidator::check_binding`]), after the
//! token itself is valid and on every request (proofs are per request; the token's
//! validation may come from a cache).

use std::borrow::Cow;

use serde_json::Value;

pub use crate::challenge::AuthScheme;

use crate::b64;
use crate::claims::Claims;
use crate::crypto::sha256;
use crate::dpop::{self, CheckedProof, DpopMode, DpopOptions, ReplayCache};
use crate::error::ValidationError;
use crate::json;

use crate::validate::Verified;

/// The client certificate a request came with, as a trusted proxy passed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// None is available; why (no header, an untrusted peer, ...). Borrowed for the fixed
    /// reasons, so a request without a certificate costs no allocation.
    Absent(Cow<'static, str>),
    /// The certificate's DER.
    Der(Vec<u8>),
}

impl Default for ClientCert {
    fn default() -> ClientCert {
        ClientCert::Absent("the request carries no client certificate".into())
    }
}

/// What a request presents with its token: scheme, method, URL, proofs, certificate.
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct RequestContext<'a> {
    /// The scheme the token came with.
    pub scheme: AuthScheme,
    /// The token (without the scheme).
    pub token: &'a str,
    /// The request's method, as sent (`htm`).
    pub method: Cow<'a, str>,
    /// The absolute URL the client sent the request to (`htu`): behind a proxy, the public
    /// one. `None` when the front end cannot know it (DPoP is then refused).
    pub url: Option<String>,
    /// Every `DPoP` header value (exactly one is accepted).
    pub dpop_proofs: Vec<&'a str>,
    /// The client certificate.
    pub client_cert: ClientCert,
}

impl<'a> RequestContext<'a> {
    /// A request with `token` sent under `scheme`, `method` and the public `url`.
    pub fn new(
        scheme: AuthScheme,
        token: &'a str,
        method: impl Into<Cow<'a, str>>,
        url: Option<String>,
    ) -> RequestContext<'a> {
        RequestContext {
            scheme,
            token,
            method: method.into(),
            url,
            dpop_proofs: Vec::new(),
            client_cert: ClientCert::default(),
        }
    }
    /// A bearer token alone (no method, URL, proof nor certificate).
    pub fn bearer(token: &'a str) -> RequestContext<'a> {
        RequestContext::new(AuthScheme::Bearer, token, "", None)
    }
    /// Sets the `DPoP` header values.
    pub fn dpop_proofs(mut self, proofs: Vec<&'a str>) -> RequestContext<'a> {
        self.dpop_proofs = proofs;
        self
    }
    /// Sets the client certificate.
    pub fn client_cert(mut self, cert: ClientCert) -> RequestContext<'a> {
        self.client_cert = cert;
        self
    }
}

crate::error::vocabulary! {
    /// How a proxy writes the client certificate into a header; the string is the
    /// configuration spelling (`[client_cert] format`).
    pub enum CertFormat {
        /// URL-encoded PEM: nginx `$ssl_client_escaped_cert`, Traefik `passTLSClientCert`.
        EscapedPem = "escaped_pem",
        /// Envoy `X-Forwarded-Client-Cert`: `Hash=...;Cert="<URL-encoded PEM>";...`, exactly one
        /// element.
        Xfcc = "xfcc",
        /// base64 (standard alphabet) DER: Caddy `{http.request.tls.client.certificate_der_base64}`.
        DerBase64 = "der_base64",
    }
}

impl std::str::FromStr for CertFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<CertFormat, String> {
        CertFormat::parse(s).ok_or_else(|| {
            format!(
                "client certificate format must be one of {}, not {}",
                CertFormat::STRS.join(", "),
                crate::text::cut_quoted(s)
            )
        })
    }
}

/// Largest certificate header read: 16 KiB (a client certificate is 1-2 KiB).
pub const MAX_CERT_HEADER: usize = 16 * 1024;

/// Reads the client certificate's DER from a proxy's header value.
///
/// ```
/// use tollgate::binding::{read_client_cert, CertFormat};
/// assert!(read_client_cert("not a cert", CertFormat::EscapedPem).is_err());
/// assert!(read_client_cert("", CertFormat::Xfcc).is_err());
/// ```
pub fn read_client_cert(value: &str, format: CertFormat) -> Result<Vec<u8>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    if value.len() > MAX_CERT_HEADER {
        return Err(format!(
            "the certificate header is {} bytes, over the limit of {MAX_CERT_HEADER}",
            value.len()
        ));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err("the certificate header is empty (the client sent no certificate)".into());
    }
    let pem_of = |escaped: &str| -> Result<Vec<u8>, String> {
        let pem = percent_encoding::percent_decode_str(escaped)
            .decode_utf8()
            .map_err(|_| "the certificate is not URL-encoded UTF-8 PEM".to_string())?;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .map(|c| c.as_ref().to_vec())
            .map_err(|e| format!("the certificate is not a PEM CERTIFICATE ({e:?})"))
    };
    let der = match format {
        CertFormat::EscapedPem => pem_of(value)?,
        CertFormat::DerBase64 => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| format!("the certificate is not base64 DER ({e})"))?
        }
        CertFormat::Xfcc => {
            let elements = xfcc_split(value, ',');
            if elements.len() != 1 {
                return Err(format!(
                    "X-Forwarded-Client-Cert has {} elements; exactly one (the client's) is accepted: have the proxy sanitise and set it (forward_client_cert_details: SANITIZE_SET)",
                    elements.len()
                ));
            }
            let mut cert = None;
            for pair in xfcc_split(elements[0], ';') {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if key.trim().eq_ignore_ascii_case("cert") {
                    if cert.is_some() {
                        return Err("X-Forwarded-Client-Cert has two Cert values".into());
                    }
                    let v = value.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    cert = Some(v);
                }
            }
            let cert = cert.ok_or_else(|| {
                "X-Forwarded-Client-Cert has no Cert value: set the proxy to include the certificate (set_current_client_cert_details: cert: true)".to_string()
            })?;
            pem_of(cert)?
        }
    };
    // A certificate is a DER SEQUENCE; anything else is not one.
    if der.first() != Some(&0x30) || der.len() < 64 {
        return Err("the value is not a DER certificate".into());
    }
    Ok(der)
}

/// Splits an XFCC value at `sep` outside double quotes.
fn xfcc_split(value: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out.retain(|s| !s.trim().is_empty());
    out
}

/// `scheme://host[:port]` from a request's scheme and `Host` (or a proxy's
/// `X-Forwarded-Proto` and `-Host`), or `None` when either is not one: the scheme `http` or
/// `https`, the host only the characters of a DNS name, an IPv4 or a bracketed IPv6 address
/// and a port. The client writes `Host`: a value holding `/`, `?`, `#`, `\` or `@` would move
/// the request's own path into a fragment or userinfo of the URL compared with a proof's
/// `htu`, so a proof signed for another path would match.
///
/// ```
/// use tollgate::binding::request_origin;
/// assert_eq!(request_origin("HTTPS", "api.example:8443").as_deref(), Some("https://api.example:8443"));
/// assert_eq!(request_origin("http", "api.example/orders/1#"), None);
/// assert_eq!(request_origin("ftp", "api.example"), None);
/// ```
pub fn request_origin(scheme: &str, host: &str) -> Option<String> {
    let scheme = scheme.trim().to_ascii_lowercase();
    let host = host.trim();
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
    ((scheme == "http" || scheme == "https") && host_ok).then(|| format!("{scheme}://{host}"))
}

/// base64url(SHA-256(DER)): a certificate's `x5t#S256` (RFC 8705 section 3.1).
pub fn cert_thumbprint(der: &[u8]) -> String {
    b64::encode(sha256(der))
}

/// A `cnf` member of the token: `Ok(None)` when absent, an error when not a string.
fn confirmation<'v>(claims: &'v Claims, member: &str) -> Result<Option<&'v str>, ValidationError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let Some(cnf) = cnf.as_object() else {
        return Err(ValidationError::InvalidClaim {
            claim: "cnf".into(),
            expected: "a JSON object (RFC 7800)".into(),
            found: json::preview(cnf, 40),
        });
    };
    match cnf.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ValidationError::InvalidClaim {
            claim: format!("cnf.{member}"),
            expected: "a string".into(),
            found: json::preview(other, 40),
        }),
    }
}

/// Checks the certificate binding (RFC 8705): nothing to do when the token has no
/// `cnf["x5t#S256"]`.
pub fn check_certificate(
    verified: &Verified,
    request: &RequestContext<'_>,
) -> Result<(), ValidationError> {
    check_certificate_of(&verified.claims, request)
}

/// The `cnf` members this module checks: DPoP's key thumbprint and the certificate's.
const CHECKED_CONFIRMATIONS: [&str; 2] = ["jkt", "x5t#S256"];

/// Refuses a `cnf` that binds the token to nothing this module can check (`cnf.jwk`,
/// `cnf.kid`, `cnf.jku`, a misspelled `X5T#S256`, an empty object): its issuer meant it for
/// its holder only, and using it as a plain bearer token would drop that binding unseen.
fn check_confirmation_known(claims: &Claims) -> Result<(), ValidationError> {
    let Some(cnf) = claims.get("cnf").and_then(Value::as_object) else {
        return Ok(());
    };
    if CHECKED_CONFIRMATIONS.iter().any(|m| cnf.contains_key(*m)) {
        return Ok(());
    }
    Err(ValidationError::InvalidClaim {
        claim: "cnf".into(),
        expected: "a confirmation this server checks, \"jkt\" (DPoP, RFC 9449) or \"x5t#S256\" (a client certificate, RFC 8705); a token bound to another kind of key is refused rather than used as a bearer token: have the issuer bind it with DPoP or mTLS".into(),
        found: json::preview(&Value::Object(cnf.clone()), 40),
    })
}

fn check_certificate_of(
    claims: &Claims,
    request: &RequestContext<'_>,
) -> Result<(), ValidationError> {
    check_confirmation_known(claims)?;
    let Some(expected) = confirmation(claims, "x5t#S256")? else {
        return Ok(());
    };
    match &request.client_cert {
        ClientCert::Absent(reason) => Err(ValidationError::ClientCertMissing {
            reason: reason.to_string(),
        }),
        ClientCert::Der(der) => {
            let found = cert_thumbprint(der);
            if found == expected {
                Ok(())
            } else {
                Err(ValidationError::ClientCertMismatch {
                    expected: expected.to_string(),
                    found,
                })
            }
        }
    }
}

/// Checks everything a request presents beyond its valid token, for a token of `issuer`
/// with its DPoP `options`, at `now`: the certificate binding, then the scheme against the
/// mode and the token's `cnf.jkt`, then the proof ([`dpop::check_proof`]), the key binding
/// and, last, the replay cache (a replay is `dpop_replayed`, a key over its quota
/// `dpop_key_over_quota`, a cache that cannot answer "cannot verify now";
/// [`CheckedProof::replay_verdict`]).
pub async fn check_binding(
    verified: &Verified,
    request: &RequestContext<'_>,
    issuer: &str,
    options: &DpopOptions,
    replay: &dyn ReplayCache,
    now: i64,
) -> Result<(), ValidationError> {
    let Some(checked) = check_binding_now(&verified.claims, request, issuer, options, now)? else {
        return Ok(());
    };
    let answer = replay
        .insert_new(checked.id(), now, options.replay_until(checked.iat))
        .await;
    checked.replay_verdict(answer)
}

/// [`check_binding`] without the replay cache: every check that needs no state. `Ok(None)`
/// when no proof was needed (a bearer token), `Ok(Some(proof))` when the proof passed and
/// only its `jti` remains to be recorded. The doctor runs this.
pub fn check_binding_now(
    claims: &Claims,
    request: &RequestContext<'_>,
    issuer: &str,
    options: &DpopOptions,
    now: i64,
) -> Result<Option<CheckedProof>, ValidationError> {
    // Most tokens are bound to nothing: that is answered without building the claims map.
    let bound = claims.contains("cnf");
    if bound {
        check_certificate_of(claims, request)?;
    }
    let jkt = if bound {
        confirmation(claims, "jkt")?
    } else {
        None
    };
    if request.scheme == AuthScheme::Bearer {
        if let Some(jkt) = jkt {
            return Err(ValidationError::BoundTokenAsBearer {
                jkt: jkt.to_string(),
            });
        }
        if options.mode == DpopMode::Required {
            return Err(ValidationError::DpopRequired {
                issuer: issuer.to_string(),
            });
        }
        return Ok(None);
    }
    if options.mode == DpopMode::Off {
        return Err(ValidationError::DpopNotAccepted {
            issuer: issuer.to_string(),
        });
    }
    let proof = match request.dpop_proofs.as_slice() {
        [] => {
            return Err(ValidationError::DpopProofMissing {
                reason: "the token came with the DPoP scheme and the request has no DPoP header"
                    .into(),
            })
        }
        [one] => *one,
        more => {
            return Err(ValidationError::DpopProofInvalid {
                reason: format!(
                    "the request has {} DPoP headers; exactly one is accepted",
                    more.len()
                ),
            })
        }
    };
    let Some(url) = request.url.as_deref() else {
        return Err(ValidationError::DpopUrlMismatch {
            expected: "(unknown: the server cannot tell the URL the client used; configure its public URL)".into(),
            found: String::new(),
        });
    };
    let checked = dpop::check_proof(
        proof,
        &request.method,
        url,
        Some(request.token),
        options,
        now,
    )?;
    match jkt {
        Some(jkt) if jkt == checked.jkt => Ok(Some(checked)),
        other => Err(ValidationError::DpopKeyMismatch {
            expected: other.map(str::to_string),
            found: checked.jkt,
        }),
    }
}

/// The fail-closed check for a validator without DPoP state (no replay cache): the
/// certificate binding is checked; a DPoP scheme or a DPoP-bound token is refused.
pub fn check_binding_without_dpop(
    verified: &Verified,
    request: &RequestContext<'_>,
) -> Result<(), ValidationError> {
    // Most tokens are bound to nothing: that is answered without building the claims map.
    if verified.claims.contains("cnf") {
        check_certificate(verified, request)?;
        if let Some(jkt) = confirmation(&verified.claims, "jkt")? {
            if request.scheme == AuthScheme::Bearer {
                return Err(ValidationError::BoundTokenAsBearer {
                    jkt: jkt.to_string(),
                });
            }
        }
    }
    if request.scheme == AuthScheme::Dpop {
        return Err(ValidationError::DpopNotAccepted {
            issuer: verified.claims.issuer().unwrap_or_default().to_string(),
        });
    }
    Ok(())
}
