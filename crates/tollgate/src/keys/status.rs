//! A snapshot of one issuer's key cache, for the gateway's admin view, metrics and logs.

use crate::jwk::SkippedKey;

/// The state of one issuer's keys at one moment. Times are Unix seconds on the
/// validator's clock.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IssuerStatus {
    /// The configured issuer.
    pub issuer: String,
    /// `discovery`, `jwks_uri` or `static`.
    pub source: &'static str,
    /// Where the keys come from: the JWKS URL in use (after discovery), else the configured
    /// discovery URL; `None` for static keys.
    pub source_url: Option<String>,
    /// The kids of the usable keys held.
    pub kids: Vec<String>,
    /// When the keys held were last fetched or revalidated (304).
    pub fetched_at: Option<i64>,
    /// When the next fetch is due: the refresh-ahead time, or the next retry after a failure.
    pub next_refresh: Option<i64>,
    /// When the keys held expire (fetched_at + TTL); after that they are stale.
    pub expires_at: Option<i64>,
    /// The TTL applied to the keys held, in seconds (Cache-Control max-age clamped).
    pub ttl_secs: Option<u64>,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
    /// Since when the keys held are past their expiry without a successful refresh.
    pub stale_since: Option<i64>,
    /// Until when the keys held may still be used (expiry + max_stale).
    pub usable_until: Option<i64>,
    /// True when keys are held and usable now.
    pub ready: bool,
    /// Fetches that returned a usable key set.
    pub fetches_ok: u64,
    /// Revalidations answered `304 Not Modified`.
    pub fetches_not_modified: u64,
    /// Fetches that failed (network, status, JSON, empty set, issuer mismatch).
    pub fetches_failed: u64,
    /// Fetches triggered by a token with an unknown kid.
    pub unknown_kid_fetches: u64,
    /// Kids currently remembered as unknown (the negative cache).
    pub unknown_kids_remembered: usize,
    /// Keys of the set held that were skipped, with the reason.
    pub skipped: Vec<SkippedKey>,
    /// Age of the key set held, in seconds.
    pub key_set_age_secs: Option<i64>,
    /// The `Cache-Control` header of the last JWKS response.
    pub cache_control: Option<String>,
    /// The `ETag` of the key set held.
    pub etag: Option<String>,
    /// The state of its token introspection, when configured (no secret is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection: Option<crate::introspection::IntrospectionStatus>,
}
