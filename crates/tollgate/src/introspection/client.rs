//! One issuer's introspection client: the endpoint (configured or from discovery), the
//! call, the strict reading of the answer, the answer cache and the one call in flight per
//! token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use reqwest::{header, StatusCode};
use serde_json::{Map, Value};

use super::{ClientAuth, Introspected, IntrospectionOptions, IntrospectionStatus};
use crate::alg::Algorithm;
use crate::claims::numeric_date;
use crate::clock::Clock;
use crate::error::ValidationError;
use crate::json;
use crate::keys::{check_remote_url, discovery_url, Fetched, Fetcher, KeyCache, KeySource};

/// The cache key: SHA-256 of the exact token bytes.
type TokenHash = [u8; 32];

/// The media type of a signed introspection answer (RFC 9701).
const JWT_ANSWER: &str = "application/token-introspection+jwt";

/// What the endpoint said about one token, as cached.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The answer's members (without `active`), `iss` filled in; `None`: inactive.
    pub(crate) claims: Option<Map<String, Value>>,
    /// When the answer arrived and until when it is reused.
    pub(crate) info: Introspected,
}

type Flight = Shared<BoxFuture<'static, Result<Arc<Answer>, ValidationError>>>;

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    active: AtomicU64,
    inactive: AtomicU64,
    failed: AtomicU64,
    malformed: AtomicU64,
    micros: AtomicU64,
}

/// One issuer's introspection.
pub(crate) struct Introspector {
    issuer: String,
    options: IntrospectionOptions,
    /// Where the endpoint is found when not configured.
    discovery: Option<String>,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    endpoint: Mutex<Option<String>>,
    /// The issuer's keys and allowed algorithms, for signed (RFC 9701) answers.
    keys: KeyCache,
    algorithms: Vec<Algorithm>,
    cache: Mutex<HashMap<TokenHash, Arc<Answer>>>,
    flights: Mutex<HashMap<TokenHash, Flight>>,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    last_answer_at: Mutex<Option<i64>>,
    /// When finding the endpoint by discovery last failed, and why: repeated for
    /// [`DISCOVERY_RETRY_SECS`] instead of fetching the document again for every token.
    discovery_failed: Mutex<Option<(i64, ValidationError)>>,
}

/// How long a failed discovery of the endpoint is repeated before the document is fetched
/// again: without it, every opaque token (each distinct one a new call) would cost the
/// server a discovery fetch while discovery fails or names no endpoint.
const DISCOVERY_RETRY_SECS: i64 = 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Introspector {
    /// The URL first asked for `issuer` (the endpoint, else the discovery document), for
    /// the https-or-loopback check at configuration time.
    pub(crate) fn first_url(
        issuer: &str,
        source: &KeySource,
        options: &IntrospectionOptions,
    ) -> String {
        match (&options.endpoint, source) {
            (Some(url), _) => url.clone(),
            (None, KeySource::DiscoveryUrl(url)) => url.clone(),
            (None, _) => discovery_url(issuer),
        }
    }

    pub(crate) fn new(
        issuer: &str,
        source: &KeySource,
        options: IntrospectionOptions,
        clock: Arc<dyn Clock>,
        keys: KeyCache,
        algorithms: Vec<Algorithm>,
    ) -> Introspector {
        let discovery = options
            .endpoint
            .is_none()
            .then(|| Introspector::first_url(issuer, source, &options));
        Introspector {
            issuer: issuer.to_string(),
            fetcher: Fetcher::new(options.fetch.clone()),
            endpoint: Mutex::new(options.endpoint.clone()),
            keys,
            algorithms,
            options,
            discovery,
            clock,
            cache: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            last_error: Mutex::new(None),
            last_answer_at: Mutex::new(None),
            discovery_failed: Mutex::new(None),
        }
    }

    pub(crate) fn options(&self) -> &IntrospectionOptions {
        &self.options
    }

    /// True when this issuer takes `token` by its prefix; `None` when it has no prefix.
    pub(crate) fn prefix_len(&self, token: &str) -> Option<Option<usize>> {
        match &self.options.token_prefix {
            None => Some(None),
            Some(p) if token.starts_with(p.as_str()) => Some(Some(p.len())),
            Some(_) => None,
        }
    }

    /// The answer for `token`: from the cache, from the call already in flight for it, or
    /// from a new call (cached, then returned to every caller waiting on it).
    pub(crate) async fn introspect(
        self: &Arc<Self>,
        token: &str,
    ) -> Result<Arc<Answer>, ValidationError> {
        let key = crate::sha256(token.as_bytes());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let flight = {
            let mut flights = lock(&self.flights);
            // Checked again under the flights lock: a call that just ended has cached its
            // answer before leaving the map.
            if let Some(hit) = self.cached(&key) {
                return Ok(hit);
            }
            flights
                .entry(key)
                .or_insert_with(|| {
                    let this = self.clone();
                    let token = token.to_string();
                    // Spawned, so that the call ends (caching its answer and leaving
                    // `flights`) even when every caller is dropped mid-flight: a flight
                    // only the map holds is never polled again, and would stay there
                    // (with the token) forever, or be resumed later with its timeout spent.
                    let task = tokio::spawn(async move {
                        let result = this.call(&token).await.map(Arc::new);
                        let mut flights = lock(&this.flights);
                        if let Ok(answer) = &result {
                            this.store(key, answer.clone());
                        }
                        flights.remove(&key);
                        result
                    });
                    let issuer = self.issuer.clone();
                    async move {
                        task.await.unwrap_or_else(|e| {
                            Err(ValidationError::IntrospectionUnavailable {
                                issuer,
                                reason: format!("the introspection task ended abnormally: {e}"),
                            })
                        })
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        flight.await
    }

    fn cached(&self, key: &TokenHash) -> Option<Arc<Answer>> {
        let now = self.clock.now();
        let mut cache = lock(&self.cache);
        match cache.get(key) {
            Some(a) if now < a.info.valid_until => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                Some(a.clone())
            }
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps an answer; when full, expired answers go first, then an arbitrary eighth.
    fn store(&self, key: TokenHash, answer: Arc<Answer>) {
        let max = self.options.max_entries;
        let now = self.clock.now();
        if max == 0 || answer.info.valid_until <= now {
            return;
        }
        let mut cache = lock(&self.cache);
        if cache.len() >= max && !cache.contains_key(&key) {
            cache.retain(|_, a| now < a.info.valid_until);
            if cache.len() >= max {
                let victims: Vec<TokenHash> =
                    cache.keys().take((max / 8).max(1)).copied().collect();
                for v in victims {
                    cache.remove(&v);
                }
            }
        }
        cache.insert(key, answer);
    }

    fn unavailable(&self, reason: impl Into<String>) -> ValidationError {
        ValidationError::IntrospectionUnavailable {
            issuer: self.issuer.clone(),
            reason: reason.into(),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> ValidationError {
        ValidationError::IntrospectionMalformed {
            issuer: self.issuer.clone(),
            reason: reason.into(),
        }
    }

    /// The endpoint: configured, or the discovery document's `introspection_endpoint`.
    async fn endpoint(&self) -> Result<String, ValidationError> {
        if let Some(url) = lock(&self.endpoint).clone() {
            return Ok(url);
        }
        let now = self.clock.now();
        if let Some((at, e)) = &*lock(&self.discovery_failed) {
            if now < at.saturating_add(DISCOVERY_RETRY_SECS) {
                return Err(e.clone());
            }
        }
        let found = self.discover().await;
        *lock(&self.discovery_failed) = found.as_ref().err().map(|e| (now, e.clone()));
        let url = found?;
        *lock(&self.endpoint) = Some(url.clone());
        Ok(url)
    }

    /// The discovery document's `introspection_endpoint`, checked.
    async fn discover(&self) -> Result<String, ValidationError> {
        let discovery = self.discovery.as_deref().unwrap_or_default();
        let doc = self
            .fetcher
            .discovery_for(&self.issuer, discovery)
            .await
            .map_err(|e| {
                self.unavailable(format!(
                    "the introspection endpoint is not configured and discovery failed: {e}"
                ))
            })?;
        let url = match doc.raw.get("introspection_endpoint") {
            Some(Value::String(url)) => url.clone(),
            _ => {
                return Err(self.unavailable(format!(
                    "the discovery document at {discovery} names no introspection_endpoint; configure the endpoint"
                )))
            }
        };
        check_remote_url(&url).map_err(|e| {
            self.unavailable(format!(
                "the discovery document's introspection_endpoint is refused: {e}"
            ))
        })?;
        Ok(url)
    }

    /// One call, counted and timed.
    async fn call(&self, token: &str) -> Result<Answer, ValidationError> {
        let started = std::time::Instant::now();
        let result = self.call_once(token).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.counters.micros.fetch_add(micros, Ordering::Relaxed);
        let counter = match &result {
            Ok(a) if a.claims.is_some() => &self.counters.active,
            Ok(_) => &self.counters.inactive,
            Err(ValidationError::IntrospectionMalformed { .. }) => &self.counters.malformed,
            Err(_) => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match &result {
            Ok(_) => {
                *lock(&self.last_error) = None;
                *lock(&self.last_answer_at) = Some(self.clock.now());
            }
            Err(e) => {
                tracing::warn!(issuer = %crate::text::cut(&self.issuer), error = %e, "token introspection failed");
                *lock(&self.last_error) = Some(e.to_string());
            }
        }
        result
    }

    async fn call_once(&self, token: &str) -> Result<Answer, ValidationError> {
        let url = self.endpoint().await?;
        let o = &self.options;
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let basic = match o.auth {
            ClientAuth::ClientSecretBasic => Some((o.client_id.as_str(), o.client_secret.expose())),
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", o.client_id.as_str()));
                form.push(("client_secret", o.client_secret.expose()));
                None
            }
        };
        let accept = if o.jwt_answers {
            JWT_ANSWER
        } else {
            "application/json"
        };
        let response = self
            .fetcher
            .post_form(Fetched::Introspection, &url, accept, &form, basic)
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        // The body of a refusal may echo the request (the token, the secret): never shown.
        match response.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(self.unavailable(format!(
                    "{url} refused the client {:?} (HTTP {}): check the client id, the secret and the authentication method ({})",
                    crate::text::cut(&o.client_id).to_string(),
                    response.status.as_u16(),
                    o.auth.as_str()
                )))
            }
            other => {
                return Err(self.unavailable(format!(
                    "{url} answered HTTP status {}",
                    other.as_u16()
                )))
            }
        }
        let content_type = response
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let now = self.clock.now();
        let mut members = match essence.as_str() {
            "application/json" => parse_answer(&response.body).map_err(|r| self.malformed(r))?,
            JWT_ANSWER if o.jwt_answers => self.signed_answer(&response.body).await?,
            JWT_ANSWER => {
                return Err(self.malformed(
                    "the answer is a JWT (RFC 9701) but jwt_answers is off; turn it on to accept signed answers, or configure the server to answer JSON",
                ))
            }
            _ => {
                return Err(self.malformed(format!(
                    "the content type is {:?}, expected application/json",
                    crate::text::cut(content_type).to_string()
                )))
            }
        };
        let active = match members.remove("active") {
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(self.malformed(format!(
                    "member \"active\" must be the boolean true or false, found {}",
                    json::preview(&other, 40)
                )))
            }
            None => return Err(self.malformed("member \"active\" is missing")),
        };
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        if !active {
            return Ok(Answer {
                claims: None,
                info: Introspected {
                    issuer: self.issuer.clone(),
                    checked_at: now,
                    valid_until: now.saturating_add(secs(o.inactive_ttl)),
                },
            });
        }
        members
            .entry("iss")
            .or_insert_with(|| Value::String(self.issuer.clone()));
        let mut until = now.saturating_add(secs(o.max_ttl));
        if let Some(exp) = members.get("exp").and_then(numeric_date) {
            until = until.min(exp);
        }
        Ok(Answer {
            claims: Some(members),
            info: Introspected {
                issuer: self.issuer.clone(),
                checked_at: now,
                valid_until: until,
            },
        })
    }

    /// The members of a signed answer (RFC 9701): a compact JWS with header `typ`
    /// `token-introspection+jwt`, signed by one of the issuer's keys with an allowed
    /// algorithm, `iss` the issuer, `aud` the client id, the answer in `token_introspection`.
    async fn signed_answer(&self, body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
        let bad = |why: String| self.malformed(format!("the signed (RFC 9701) answer {why}"));
        let jwt = std::str::from_utf8(body)
            .map_err(|_| bad("is not UTF-8".into()))?
            .trim();
        let kid = crate::jws::decode(jwt, self.options.fetch.max_body)
            .map_err(|e| bad(format!("is not a compact JWS: {e}")))?
            .header
            .kid;
        let keys = self.keys.keys_for(kid.as_deref()).await?;
        let (header, payload) = crate::validate::verify_jws(jwt, &keys, &self.algorithms)
            .map_err(|e| bad(format!("does not verify with the issuer's keys: {e}")))?;
        let typ = header.typ.as_deref().unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case("token-introspection+jwt") {
            return Err(bad(format!(
                "has header typ {:?}, expected token-introspection+jwt",
                crate::text::cut(typ).to_string()
            )));
        }
        let mut claims = parse_answer(&payload).map_err(&bad)?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(bad("names another iss than the issuer".into()));
        }
        let client = self.options.client_id.as_str();
        let for_us = match claims.get("aud") {
            Some(Value::String(a)) => a == client,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client)),
            _ => false,
        };
        if !for_us {
            return Err(bad(format!(
                "is not for this client (aud is not {client:?})"
            )));
        }
        match claims.remove("token_introspection") {
            Some(Value::Object(answer)) => Ok(answer),
            _ => Err(bad("has no token_introspection object".into())),
        }
    }

    pub(crate) fn status(&self) -> IntrospectionStatus {
        let c = &self.counters;
        let o = &self.options;
        IntrospectionStatus {
            endpoint: lock(&self.endpoint).clone(),
            client_id: o.client_id.clone(),
            auth: o.auth,
            token_prefix: o.token_prefix.clone(),
            introspect_jwts: o.introspect_jwts,
            max_ttl_secs: o.max_ttl.as_secs(),
            inactive_ttl_secs: o.inactive_ttl.as_secs(),
            cache_entries: lock(&self.cache).len(),
            cache_capacity: o.max_entries,
            cache_hits: c.hits.load(Ordering::Relaxed),
            calls_active: c.active.load(Ordering::Relaxed),
            calls_inactive: c.inactive.load(Ordering::Relaxed),
            calls_failed: c.failed.load(Ordering::Relaxed),
            calls_malformed: c.malformed.load(Ordering::Relaxed),
            call_seconds_total: c.micros.load(Ordering::Relaxed) as f64 / 1e6,
            last_error: lock(&self.last_error).clone(),
            last_answer_at: *lock(&self.last_answer_at),
        }
    }
}

/// The answer's members: strict JSON (UTF-8, no duplicate member names anywhere), an object.
fn parse_answer(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.is_empty() {
        return Err("the body is empty".into());
    }
    match json::parse_value(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "expected a JSON object, found {}",
            json::kind(&other)
        )),
        Err(e) => Err(format!("the body {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        assert!(parse_answer(br#"{"active": true}"#).is_ok());
        let dup = parse_answer(br#"{"active": false, "active": true}"#).unwrap_err();
        assert!(dup.contains("duplicate"), "{dup}");
        assert!(parse_answer(b"[true]").unwrap_err().contains("array"));
        assert!(parse_answer(b"").unwrap_err().contains("empty"));
        assert!(parse_answer(b"<html>").is_err());
    }
}
