//! The seam between the gateway and token validation: one small trait, so decisions do not
//! care whether keys are fixed or fetched, and tests can drive either.

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use tollgate::{jws, LocalValidator, ValidationError, Verified};

/// Validates tokens and reports the state of the keys behind them.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Validates one token (without the `Bearer ` prefix).
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Verified, ValidationError>>;
    /// True when every issuer has usable keys (`/readyz`).
    fn is_ready(&self) -> bool;
    /// The key cache of each issuer (`/keys`, `/metrics`).
    fn key_status(&self) -> Vec<IssuerKeys>;
    /// Fetches every issuer's keys now (at startup, so the first requests do not wait).
    fn warm_up(&self) -> BoxFuture<'_, ()>;
}

/// The gateway's view of one issuer's key cache.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IssuerKeys {
    /// The issuer.
    pub issuer: String,
    /// Whether usable keys are held.
    pub ready: bool,
    /// The key ids held.
    pub kids: Vec<String>,
    /// Successful fetches.
    pub fetches_ok: u64,
    /// Fetches answered 304 Not Modified.
    pub fetches_not_modified: u64,
    /// Failed fetches.
    pub fetches_failed: u64,
    /// Fetches caused by an unknown `kid`.
    pub unknown_kid_fetches: u64,
    /// Age of the key set, in seconds.
    pub key_set_age_secs: Option<u64>,
    /// Everything the key cache reports (source URL, fetched at, next refresh, last error,
    /// stale since), as JSON.
    pub detail: Value,
}

/// Fixed key sets per issuer (`jwks_file`), no network: the issuer is chosen by the token's
/// exact `iss`, then its keys and policy decide.
pub struct StaticVerifier {
    issuers: Vec<(String, LocalValidator)>,
}

impl StaticVerifier {
    /// A verifier over `(issuer, validator)` pairs.
    pub fn new(issuers: Vec<(String, LocalValidator)>) -> StaticVerifier {
        StaticVerifier { issuers }
    }

    /// Validates synchronously.
    pub fn verify_now(&self, token: &str) -> Result<Verified, ValidationError> {
        let max = self
            .issuers
            .iter()
            .map(|(_, v)| v.policy().max_token_size)
            .max()
            .unwrap_or(jws::DEFAULT_MAX_TOKEN_SIZE);
        let decoded = jws::decode(token, max)?;
        let claims = decoded.claims()?;
        let iss = claims.get("iss").and_then(Value::as_str);
        match self.issuers.iter().find(|(i, _)| Some(i.as_str()) == iss) {
            Some((_, validator)) => validator.validate(token),
            None => Err(ValidationError::IssuerMismatch {
                expected: self.issuers.iter().map(|(i, _)| i.clone()).collect(),
                found: iss.map(str::to_string),
            }),
        }
    }
}

impl TokenVerifier for StaticVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Verified, ValidationError>> {
        Box::pin(async move { self.verify_now(token) })
    }
    fn is_ready(&self) -> bool {
        true
    }
    fn key_status(&self) -> Vec<IssuerKeys> {
        self.issuers
            .iter()
            .map(|(issuer, v)| IssuerKeys {
                issuer: issuer.clone(),
                ready: true,
                kids: v.keys().kids(),
                detail: serde_json::json!({"issuer": issuer, "source": "static", "kids": v.keys().kids()}),
                ..Default::default()
            })
            .collect()
    }
    fn warm_up(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
