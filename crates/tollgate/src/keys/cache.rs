//! The key cache of one issuer: the parsed key set behind an `ArcSwap` (requests read it
//! without a lock), refreshed ahead of expiry, refetched once for an unknown kid, and kept
//! through outages for at most `max_stale`.
//!
//! Time: every cache decision (expiry, cooldown, backoff, staleness) reads the validator's
//! [`Clock`] in Unix seconds, so tests move hours in a line and `--now` stays consistent.
//! Waiting (`max_wait`, HTTP timeouts) uses tokio's timer.
//!
//! Periodic refresh is driven by traffic: the first request that sees the refresh time has
//! passed spawns the fetch on the tokio runtime and goes on with the keys held; nothing waits
//! for it. An idle validator makes no requests unless
//! [`crate::Validator::spawn_refresher`] runs a background task that does the same check on
//! a timer (so keys stay warm and `is_ready` stays true without traffic).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures::future::{BoxFuture, FutureExt, Shared};

use super::fetch::{FetchError, FetchOptions, FetchedJwks, Fetcher};
use super::status::IssuerStatus;
use super::{discovery_url, KeySource};
use crate::clock::Clock;
use crate::error::ValidationError;
use crate::jwk::JwkSet;
use crate::text::{cut_quoted, cut_text};

/// How an issuer's keys are cached and refreshed.
///
/// ```
/// use std::time::Duration;
/// use tollgate::CacheOptions;
/// let options = CacheOptions::default().cooldown(Duration::from_secs(60));
/// assert_eq!(options.max_wait, Duration::from_secs(5));
/// ```
///
/// The struct is `#[non_exhaustive]`: start from [`CacheOptions::default`] and change what
/// you need with the builder methods, so a new option is not a breaking change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// TTL of a key set whose response has no `Cache-Control: max-age`. Default 1 h: IdPs
    /// announce a new key days before signing with it, and an unknown kid triggers an
    /// immediate refetch anyway, so an hour keeps the IdP load negligible.
    pub default_ttl: Duration,
    /// The shortest TTL honoured (`max-age` below it, `no-cache` and `no-store` are raised to
    /// it). Default 5 min: some IdPs send `no-cache` or tiny max-ages meant for browsers;
    /// refetching on every request would turn each API call into an IdP call.
    pub min_ttl: Duration,
    /// The longest TTL honoured. Default 24 h: a removed (compromised) key must stop
    /// validating within a day even if the IdP advertises a week.
    pub max_ttl: Duration,
    /// The minimum time between two fetches triggered by unknown kids. Default 30 s: bounds
    /// what a flood of random kids costs the IdP to one request per 30 s, while a real
    /// rotation is picked up by its first token (fetches at start-up or by the periodic
    /// refresh do not count).
    pub cooldown: Duration,
    /// How long past its expiry a key set is still used while refreshes fail. Default 24 h:
    /// rides out a long IdP outage (keys rotate on a scale of weeks), but a key removed at
    /// the IdP stops working within a day even if we can never reach it again.
    pub max_stale: Duration,
    /// The longest a request waits for a fetch (cold start, unknown kid, stale keys).
    /// Default 5 s: a typical API client timeout is 10-30 s; answering "cannot verify now"
    /// after 5 s beats hanging on a dead IdP.
    pub max_wait: Duration,
    /// The first retry delay after a failed fetch; doubled after each further failure, with
    /// jitter (a random delay between half and all of it). Default 2 s: a blip is retried
    /// almost at once, without every instance hitting the IdP in the same second.
    pub retry_min: Duration,
    /// The cap of the retry delay. Default 5 min: an IdP back from an outage is noticed within
    /// minutes, and a down IdP gets at most a request per few minutes from each instance.
    pub retry_max: Duration,
    /// HTTP settings (timeouts, body limit).
    pub fetch: FetchOptions,
}

impl Default for CacheOptions {
    fn default() -> CacheOptions {
        CacheOptions {
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(24 * 3600),
            cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            max_wait: Duration::from_secs(5),
            retry_min: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            fetch: FetchOptions::default(),
        }
    }
}

impl CacheOptions {
    /// Sets [`default_ttl`](CacheOptions::default_ttl).
    pub fn default_ttl(mut self, value: Duration) -> CacheOptions {
        self.default_ttl = value;
        self
    }
    /// Sets [`min_ttl`](CacheOptions::min_ttl).
    pub fn min_ttl(mut self, value: Duration) -> CacheOptions {
        self.min_ttl = value;
        self
    }
    /// Sets [`max_ttl`](CacheOptions::max_ttl).
    pub fn max_ttl(mut self, value: Duration) -> CacheOptions {
        self.max_ttl = value;
        self
    }
    /// Sets [`cooldown`](CacheOptions::cooldown).
    pub fn cooldown(mut self, value: Duration) -> CacheOptions {
        self.cooldown = value;
        self
    }
    /// Sets [`max_stale`](CacheOptions::max_stale).
    pub fn max_stale(mut self, value: Duration) -> CacheOptions {
        self.max_stale = value;
        self
    }
    /// Sets [`max_wait`](CacheOptions::max_wait).
    pub fn max_wait(mut self, value: Duration) -> CacheOptions {
        self.max_wait = value;
        self
    }
    /// Sets [`retry_min`](CacheOptions::retry_min).
    pub fn retry_min(mut self, value: Duration) -> CacheOptions {
        self.retry_min = value;
        self
    }
    /// Sets [`retry_max`](CacheOptions::retry_max).
    pub fn retry_max(mut self, value: Duration) -> CacheOptions {
        self.retry_max = value;
        self
    }
    /// Sets [`fetch`](CacheOptions::fetch).
    pub fn fetch(mut self, value: FetchOptions) -> CacheOptions {
        self.fetch = value;
        self
    }
}

impl CacheOptions {
    /// The TTL for a response with this `max-age`: `default_ttl` when absent, clamped to
    /// `[min_ttl, max_ttl]`.
    ///
    /// ```
    /// use tollgate::CacheOptions;
    /// let o = CacheOptions::default();
    /// assert_eq!(o.ttl_for(None), 3600);
    /// assert_eq!(o.ttl_for(Some(60)), 300);
    /// assert_eq!(o.ttl_for(Some(7 * 86_400)), 86_400);
    /// ```
    pub fn ttl_for(&self, max_age: Option<u64>) -> u64 {
        let min = self.min_ttl.as_secs();
        let max = self.max_ttl.as_secs().max(min);
        max_age
            .unwrap_or(self.default_ttl.as_secs())
            .clamp(min, max)
    }

    /// The retry delay after `failures` consecutive failures, before jitter.
    pub fn retry_delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.retry_min
            .saturating_mul(1u32 << exp)
            .min(self.retry_max)
    }
}

/// Most kids remembered as unknown; beyond this a flood is still bounded by the cooldown.
const MAX_NEGATIVE: usize = 10_000;

/// How an unknown kid is remembered: its SHA-256, 32 bytes whatever the kid's length.
fn negative_key(kid: &str) -> [u8; 32] {
    crate::sha256(kid.as_bytes())
}

/// Why a fetch was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FetchKind {
    /// First load, on demand (no keys yet) or keys stale beyond `max_stale`.
    Load,
    /// `refresh_all`.
    Startup,
    /// Refresh ahead of expiry or a retry after a failure.
    Periodic,
    /// A token named a kid the set does not hold.
    UnknownKid,
}

impl FetchKind {
    fn as_str(self) -> &'static str {
        match self {
            FetchKind::Load => "load",
            FetchKind::Startup => "startup",
            FetchKind::Periodic => "periodic",
            FetchKind::UnknownKid => "unknown_kid",
        }
    }
}

type FetchFuture = Shared<BoxFuture<'static, Result<(), FetchError>>>;

/// The keys held, immutable; replaced as a whole.
#[derive(Debug)]
struct Snapshot {
    set: Arc<JwkSet>,
    source_url: Option<String>,
    fetched_at: i64,
    ttl: u64,
    expires_at: i64,
    refresh_at: i64,
    etag: Option<String>,
    cache_control: Option<String>,
}

#[derive(Default)]
struct State {
    inflight: Option<(FetchKind, FetchFuture)>,
    jwks_uri: Option<String>,
    last_unknown_kid_fetch: Option<i64>,
    /// Unknown kids, by SHA-256: a client-chosen kid can be kilobytes long.
    negative: HashSet<[u8; 32]>,
    failures: u32,
    retry_at: Option<i64>,
    last_error: Option<String>,
    fetches_ok: u64,
    fetches_not_modified: u64,
    fetches_failed: u64,
    unknown_kid_fetches: u64,
}

struct Inner {
    issuer: String,
    source: KeySource,
    options: CacheOptions,
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    current: ArcSwapOption<Snapshot>,
    /// Earliest time a background refresh may start (i64::MAX while one runs); read without
    /// a lock on every request.
    next_attempt: AtomicI64,
    state: Mutex<State>,
}

/// The key cache of one issuer. Cheap to clone.
#[derive(Clone)]
pub(crate) struct KeyCache {
    inner: Arc<Inner>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// A random point between half and all of `delay`, in seconds (at least 1).
fn jittered(delay: Duration) -> i64 {
    let s = secs(delay).max(1);
    let low = (s / 2).max(1);
    if low >= s {
        s
    } else {
        rand::random_range(low..=s)
    }
}

impl KeyCache {
    pub(crate) fn new(
        issuer: String,
        source: KeySource,
        options: CacheOptions,
        fetcher: Fetcher,
        clock: Arc<dyn Clock>,
    ) -> KeyCache {
        let current = ArcSwapOption::empty();
        if let KeySource::Static(set) = &source {
            current.store(Some(Arc::new(Snapshot {
                set: set.clone(),
                source_url: None,
                fetched_at: clock.now(),
                ttl: u64::MAX,
                expires_at: i64::MAX,
                refresh_at: i64::MAX,
                etag: None,
                cache_control: None,
            })));
        }
        KeyCache {
            inner: Arc::new(Inner {
                issuer,
                source,
                options,
                fetcher,
                clock,
                current,
                next_attempt: AtomicI64::new(i64::MIN),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn is_static(&self) -> bool {
        matches!(self.inner.source, KeySource::Static(_))
    }

    /// The keys to check a token with `kid` against, fetching first when needed (no keys,
    /// keys stale beyond `max_stale`, or an unknown kid allowed to trigger a fetch).
    pub(crate) async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, ValidationError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let snapshot = inner.current.load_full();
        let Some(snapshot) = snapshot else {
            return self
                .wait_for_load(now, "no keys have been loaded yet")
                .await;
        };
        if self.is_static() {
            return Ok(snapshot.set.clone());
        }
        if now > self.usable_until(&snapshot) {
            return self
                .wait_for_load(
                    now,
                    &format!(
                        "the keys held expired at {} and could not be refreshed for longer than max_stale ({} s)",
                        snapshot.expires_at,
                        inner.options.max_stale.as_secs()
                    ),
                )
                .await;
        }
        if now >= inner.next_attempt.load(Ordering::Acquire) {
            self.spawn_refresh(now);
        }
        match kid {
            Some(kid)
                if !snapshot.set.contains_kid(kid)
                    && !snapshot
                        .set
                        .skipped()
                        .iter()
                        .any(|s| s.kid.as_deref() == Some(kid)) =>
            {
                self.unknown_kid(kid, now, snapshot).await
            }
            _ => Ok(snapshot.set.clone()),
        }
    }

    fn usable_until(&self, s: &Snapshot) -> i64 {
        s.expires_at
            .saturating_add(secs(self.inner.options.max_stale))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent in a way that
        // matters more than refusing every request; recover the guard.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unavailable(&self, reason: String) -> ValidationError {
        ValidationError::KeysUnavailable {
            issuer: Some(self.inner.issuer.clone()),
            reason,
        }
    }

    /// No usable keys: join or start a fetch and wait for it, at most `max_wait`.
    async fn wait_for_load(&self, now: i64, why: &str) -> Result<Arc<JwkSet>, ValidationError> {
        let fut = {
            let mut state = self.lock();
            match &state.inflight {
                Some((_, f)) => f.clone(),
                None => {
                    if let (Some(retry_at), Some(err)) = (state.retry_at, &state.last_error) {
                        if now < retry_at {
                            return Err(self.unavailable(format!(
                                "{why}; the last fetch failed ({err}); next attempt in {} s",
                                retry_at - now
                            )));
                        }
                    }
                    self.start_fetch(&mut state, FetchKind::Load)
                }
            }
        };
        self.wait(fut, why).await?;
        match self.inner.current.load_full() {
            Some(s) if self.inner.clock.now() <= self.usable_until(&s) => Ok(s.set.clone()),
            _ => Err(self.unavailable(why.to_string())),
        }
    }

    async fn wait(&self, fut: FetchFuture, why: &str) -> Result<(), ValidationError> {
        let max_wait = self.inner.options.max_wait;
        match tokio::time::timeout(max_wait, fut).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.unavailable(format!("{why}; {e}"))),
            Err(_) => Err(self.unavailable(format!(
                "{why}; the fetch did not finish within max_wait ({} ms) and goes on in the background",
                max_wait.as_millis()
            ))),
        }
    }

    async fn unknown_kid(
        &self,
        kid: &str,
        now: i64,
        held: Arc<Snapshot>,
    ) -> Result<Arc<JwkSet>, ValidationError> {
        let cooldown = secs(self.inner.options.cooldown);
        let fut = {
            let mut state = self.lock();
            if let Some((_, f)) = &state.inflight {
                f.clone()
            } else {
                let cooled = state
                    .last_unknown_kid_fetch
                    .is_none_or(|t| now >= t.saturating_add(cooldown));
                let backoff_over = state.retry_at.is_none_or(|t| now >= t);
                if cooled && backoff_over {
                    state.last_unknown_kid_fetch = Some(now);
                    state.negative.clear();
                    state.unknown_kid_fetches += 1;
                    tracing::info!(issuer = %self.inner.issuer, kid = %cut_text(kid), "unknown kid: fetching the key set");
                    self.start_fetch(&mut state, FetchKind::UnknownKid)
                } else if state.failures > 0 && !state.negative.contains(&negative_key(kid)) {
                    let err = state.last_error.clone().unwrap_or_default();
                    let next = state
                        .retry_at
                        .max(
                            state
                                .last_unknown_kid_fetch
                                .map(|t| t.saturating_add(cooldown)),
                        )
                        .unwrap_or(now);
                    return Err(self.unavailable(format!(
                        "kid {} is not among the keys held and the last fetch failed ({err}); next attempt in {} s",
                        cut_quoted(kid),
                        (next - now).max(0)
                    )));
                } else {
                    if state.negative.len() < MAX_NEGATIVE {
                        state.negative.insert(negative_key(kid));
                    }
                    return Ok(held.set.clone());
                }
            }
        };
        let why = format!("kid {} is not among the keys held", cut_quoted(kid));
        self.wait(fut, &why).await?;
        let latest = self.inner.current.load_full().unwrap_or(held);
        if !latest.set.contains_kid(kid) {
            let mut state = self.lock();
            if state.negative.len() < MAX_NEGATIVE {
                state.negative.insert(negative_key(kid));
            }
        }
        Ok(latest.set.clone())
    }

    /// Starts a background refresh if none runs and none is due later (checked again under
    /// the lock). Never waits.
    fn spawn_refresh(&self, now: i64) {
        let mut state = self.lock();
        if state.inflight.is_some() || now < self.inner.next_attempt.load(Ordering::Acquire) {
            return;
        }
        drop(self.start_fetch(&mut state, FetchKind::Periodic));
    }

    /// For the optional background task: starts a refresh when one is due (refresh-ahead
    /// time passed, retry time passed, or nothing loaded yet). Never waits.
    pub(crate) fn tick(&self) {
        if !self.is_static() {
            let now = self.inner.clock.now();
            if now >= self.inner.next_attempt.load(Ordering::Acquire) {
                self.spawn_refresh(now);
            }
        }
    }

    /// Starts a fetch now, or joins the one running; waits for it without `max_wait`
    /// (bounded by the HTTP timeouts). For start-up.
    pub(crate) async fn refresh_now(&self) -> Result<(), FetchError> {
        if self.is_static() {
            return Ok(());
        }
        let fut = {
            let mut state = self.lock();
            match &state.inflight {
                Some((_, f)) => f.clone(),
                None => self.start_fetch(&mut state, FetchKind::Startup),
            }
        };
        fut.await
    }

    /// Spawns the fetch on the runtime (so it completes even if every waiter gives up) and
    /// records it as in flight. Call with the state locked and no fetch in flight.
    fn start_fetch(&self, state: &mut State, kind: FetchKind) -> FetchFuture {
        self.inner.next_attempt.store(i64::MAX, Ordering::Release);
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { inner.run_fetch(kind).await });
        let issuer = self.inner.issuer.clone();
        let fut = async move {
            match task.await {
                Ok(result) => result,
                Err(e) => Err(FetchError::Read {
                    what: super::Fetched::Jwks,
                    url: issuer,
                    reason: format!("the fetch task ended abnormally: {e}"),
                }),
            }
        }
        .boxed()
        .shared();
        state.inflight = Some((kind, fut.clone()));
        fut
    }

    pub(crate) fn is_ready(&self) -> bool {
        match self.inner.current.load_full() {
            Some(s) => self.is_static() || self.inner.clock.now() <= self.usable_until(&s),
            None => false,
        }
    }

    pub(crate) fn status(&self) -> IssuerStatus {
        let inner = &self.inner;
        let now = inner.clock.now();
        let snapshot = inner.current.load_full();
        let state = self.lock();
        let source = match &inner.source {
            KeySource::Discovery | KeySource::DiscoveryUrl(_) => "discovery",
            KeySource::JwksUri(_) => "jwks_uri",
            KeySource::Static(_) => "static",
        };
        let configured_url = match &inner.source {
            KeySource::Discovery => Some(discovery_url(&inner.issuer)),
            KeySource::DiscoveryUrl(u) | KeySource::JwksUri(u) => Some(u.clone()),
            KeySource::Static(_) => None,
        };
        let is_static = self.is_static();
        let s = snapshot.as_deref();
        let next_refresh = if is_static {
            None
        } else if state.inflight.is_some() {
            Some(now)
        } else {
            match (state.retry_at, s) {
                (Some(r), _) => Some(r),
                (None, Some(s)) => Some(s.refresh_at),
                (None, None) => None,
            }
        };
        IssuerStatus {
            issuer: inner.issuer.clone(),
            source,
            source_url: s
                .and_then(|s| s.source_url.clone())
                .or_else(|| state.jwks_uri.clone())
                .or(configured_url),
            kids: s.map(|s| s.set.kids()).unwrap_or_default(),
            fetched_at: s.filter(|_| !is_static).map(|s| s.fetched_at),
            next_refresh,
            expires_at: s.filter(|_| !is_static).map(|s| s.expires_at),
            ttl_secs: s.filter(|_| !is_static).map(|s| s.ttl),
            last_error: state.last_error.clone(),
            stale_since: s
                .filter(|s| !is_static && now > s.expires_at)
                .map(|s| s.expires_at),
            usable_until: s.filter(|_| !is_static).map(|s| self.usable_until(s)),
            ready: s.is_some_and(|s| is_static || now <= self.usable_until(s)),
            fetches_ok: state.fetches_ok,
            fetches_not_modified: state.fetches_not_modified,
            fetches_failed: state.fetches_failed,
            unknown_kid_fetches: state.unknown_kid_fetches,
            unknown_kids_remembered: state.negative.len(),
            skipped: s.map(|s| s.set.skipped().to_vec()).unwrap_or_default(),
            key_set_age_secs: s.filter(|_| !is_static).map(|s| now - s.fetched_at),
            cache_control: s.and_then(|s| s.cache_control.clone()),
            etag: s.and_then(|s| s.etag.clone()),
            introspection: None,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves the JWKS URL (discovering it when needed) and fetches the set.
    async fn fetch_remote(
        &self,
        etag_of: Option<Arc<Snapshot>>,
    ) -> Result<FetchedJwks, FetchError> {
        let jwks_uri = match &self.source {
            KeySource::JwksUri(u) => u.clone(),
            KeySource::Discovery | KeySource::DiscoveryUrl(_) => {
                let known = self.lock().jwks_uri.clone();
                match known {
                    Some(u) => u,
                    None => {
                        let url = match &self.source {
                            KeySource::DiscoveryUrl(u) => u.clone(),
                            _ => discovery_url(&self.issuer),
                        };
                        let doc = self.fetcher.discovery_for(&self.issuer, &url).await;
                        match &doc {
                            Ok(d) => {
                                tracing::info!(issuer = %self.issuer, url = %url, jwks_uri = %d.jwks_uri, "discovery document fetched")
                            }
                            Err(e) => {
                                tracing::warn!(issuer = %self.issuer, url = %url, error = %e, kind = e.kind(), "discovery failed")
                            }
                        }
                        let doc = doc?;
                        self.lock().jwks_uri = Some(doc.jwks_uri.clone());
                        doc.jwks_uri
                    }
                }
            }
            KeySource::Static(_) => unreachable_static(),
        };
        let etag = etag_of
            .as_deref()
            .filter(|s| s.source_url.as_deref() == Some(jwks_uri.as_str()))
            .and_then(|s| s.etag.clone());
        self.fetcher.jwks(&jwks_uri, etag.as_deref()).await
    }

    async fn run_fetch(self: Arc<Self>, kind: FetchKind) -> Result<(), FetchError> {
        let held = self.current.load_full();
        let result = self.fetch_remote(held.clone()).await;
        let now = self.clock.now();
        let mut state = self.lock();
        state.inflight = None;
        match result {
            Ok(fetched) => {
                let ttl = self.options.ttl_for(fetched.max_age);
                let ttl_i = i64::try_from(ttl).unwrap_or(i64::MAX / 4);
                // Refresh ahead: at a random point between 80 % and 90 % of the TTL, so
                // instances started together do not refresh together.
                let ahead = if ttl_i >= 10 {
                    rand::random_range(ttl_i / 10..=ttl_i / 5)
                } else {
                    0
                };
                let set = match (&held, fetched.not_modified) {
                    (Some(h), true) => h.set.clone(),
                    _ => Arc::new(fetched.set),
                };
                if fetched.not_modified {
                    state.fetches_not_modified += 1;
                } else {
                    state.fetches_ok += 1;
                }
                tracing::info!(
                    issuer = %self.issuer,
                    url = %fetched.url,
                    trigger = kind.as_str(),
                    status = fetched.status,
                    not_modified = fetched.not_modified,
                    kids = ?set.kids(),
                    skipped = set.skipped().len(),
                    ttl_secs = ttl,
                    elapsed_ms = fetched.elapsed.as_millis() as u64,
                    "JWKS fetched"
                );
                let snapshot = Snapshot {
                    set,
                    source_url: Some(fetched.url),
                    fetched_at: now,
                    ttl,
                    expires_at: now.saturating_add(ttl_i),
                    refresh_at: now.saturating_add(ttl_i - ahead),
                    etag: fetched.etag,
                    cache_control: fetched.cache_control,
                };
                let refresh_at = snapshot.refresh_at;
                self.current.store(Some(Arc::new(snapshot)));
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                self.next_attempt.store(refresh_at, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                state.fetches_failed += 1;
                state.failures = state.failures.saturating_add(1);
                let delay = jittered(self.options.retry_delay(state.failures));
                let retry_at = now.saturating_add(delay);
                state.retry_at = Some(retry_at);
                state.last_error = Some(e.to_string());
                if !matches!(e, FetchError::IssuerMismatch { .. }) {
                    // The JWKS URL may have moved: discover again next time.
                    state.jwks_uri = None;
                }
                self.next_attempt.store(retry_at, Ordering::Release);
                tracing::warn!(
                    issuer = %self.issuer,
                    url = %e.url(),
                    trigger = kind.as_str(),
                    kind = e.kind(),
                    error = %e,
                    failures = state.failures,
                    retry_in_secs = delay,
                    keeping_keys = held.is_some(),
                    "JWKS fetch failed"
                );
                Err(e)
            }
        }
    }
}

fn unreachable_static() -> String {
    // Static sources never start a fetch (`KeyCache::keys_for` and `refresh_now` return
    // early); an empty URL makes any mistake fail as an invalid URL rather than panic.
    String::new()
}
