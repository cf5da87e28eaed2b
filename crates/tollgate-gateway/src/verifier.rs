//! The seam between the gateway and token validation: one small trait, so decisions do not
//! care whether keys are fixed or fetched, and tests can drive either.

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use tollgate::{ValidationError, Validator, Verified};

/// Validates tokens and reports the state of the keys behind them.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Validates one token (without the `Bearer ` prefix).
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Verified, ValidationError>>;
    /// True when every issuer has usable keys (`/readyz`).
    fn is_ready(&self) -> bool;
    /// The key cache of each issuer (`/keys`, `/metrics`).
    fn key_status(&self) -> Vec<IssuerKeys>;
    /// Loads every issuer's keys now (so the first requests do not wait), then keeps them
    /// fresh while the gateway is idle. Runs until the gateway aborts it at shutdown.
    fn maintain(&self) -> BoxFuture<'_, ()>;
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

impl TokenVerifier for Validator {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Verified, ValidationError>> {
        Box::pin(self.validate(token))
    }
    fn is_ready(&self) -> bool {
        Validator::is_ready(self)
    }
    fn key_status(&self) -> Vec<IssuerKeys> {
        self.status()
            .into_iter()
            .map(|s| IssuerKeys {
                issuer: s.issuer.clone(),
                ready: s.ready,
                kids: s.kids.clone(),
                fetches_ok: s.fetches_ok,
                fetches_not_modified: s.fetches_not_modified,
                fetches_failed: s.fetches_failed,
                unknown_kid_fetches: s.unknown_kid_fetches,
                key_set_age_secs: s.key_set_age_secs.map(|a| a.max(0) as u64),
                detail: serde_json::to_value(&s).unwrap_or(Value::Null),
            })
            .collect()
    }
    fn maintain(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.refresh_all().await;
            // Keys are refreshed when requests need them; an idle gateway (or one serving
            // only cached tokens) keeps them fresh here, so /readyz and the key view stay
            // true. Only issuers whose refresh is due are fetched.
            loop {
                tokio::time::sleep(MAINTENANCE_INTERVAL).await;
                let now = tollgate::clock::unix_now();
                let due = self
                    .status()
                    .iter()
                    .any(|s| s.source != "static" && s.next_refresh.is_none_or(|t| t <= now));
                if due {
                    self.refresh_all().await;
                }
            }
        })
    }
}

/// How often an idle gateway checks whether an issuer's keys are due for a refresh: 30 s,
/// the key cache's unknown-kid cooldown, so the check itself never adds IdP load.
pub const MAINTENANCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
