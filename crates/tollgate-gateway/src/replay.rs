//! The DPoP replay cache shared by gateway replicas: Redis (`[replay] redis`).
//!
//! Each accepted proof is one `SET <prefix><key> 1 NX PX <ms>`: Redis answers `OK` for the
//! first use and nil for a replay, atomically, whichever replica asks. The entry expires
//! when the proof could no longer be accepted anyway (the proof window plus leeway).
//!
//! Fail closed: when Redis does not answer within `[replay] timeout_ms` (connection refused,
//! timeout, an error reply), the request is refused with 503 "cannot verify now"
//! (`replay_cache_unavailable`), never allowed. The connection is made on first use and
//! made again after a failure, so the gateway starts while Redis is down and recovers when
//! it returns.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;
use tollgate::dpop::{MemoryReplayCache, ReplayCache, ReplayFuture};

use crate::config::ReplaySettings;

/// The key prefix, so the cache can share a Redis with other data.
pub const KEY_PREFIX: &str = "tollgate:dpop:";

/// A replay cache in Redis.
pub struct RedisReplayCache {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayCache")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayCache {
    /// A cache at `url` (`redis://host:port[/db]`); connects on first use.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisReplayCache, String> {
        let client = redis::Client::open(url).map_err(|e| {
            format!(
                "[replay] redis {:?}: {e}",
                tollgate::text::cut(url).to_string()
            )
        })?;
        Ok(RedisReplayCache {
            client,
            connection: Mutex::new(None),
            timeout,
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        let mut held = self.connection.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        *held = Some(c.clone());
        Ok(c)
    }

    async fn insert(&self, key: &str, now: i64, expires_at: i64) -> Result<bool, String> {
        let ttl_ms = ttl_ms(now, expires_at);
        let attempt = async {
            let mut c = self.connection().await?;
            let answer: Option<String> = redis::cmd("SET")
                .arg(format!("{KEY_PREFIX}{key}"))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut c)
                .await
                .map_err(|e| format!("Redis did not answer: {e}"))?;
            Ok::<bool, String>(answer.is_some())
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "Redis did not answer within {} ms",
                self.timeout.as_millis()
            )),
        };
        if result.is_err() {
            // Connect afresh next time.
            *self.connection.lock().await = None;
        }
        result
    }
}

/// How long Redis keeps a proof: until `expires_at`, at least a second. Never shorter,
/// whatever `dpop_window` says: an entry that left before its proof stopped being accepted
/// would let that proof be replayed (an expiry Redis refuses fails closed, as an error).
fn ttl_ms(now: i64, expires_at: i64) -> u64 {
    u64::try_from(expires_at.saturating_sub(now))
        .unwrap_or(0)
        .max(1)
        .saturating_mul(1000)
}

impl ReplayCache for RedisReplayCache {
    fn insert_new<'a>(&'a self, key: &'a str, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        Box::pin(self.insert(key, now, expires_at))
    }
}

/// The replay cache `[replay]` asks for: Redis when `redis` is set, else in memory.
pub fn replay_cache_for(settings: &ReplaySettings) -> Result<Arc<dyn ReplayCache>, String> {
    match &settings.redis {
        Some(url) => Ok(Arc::new(RedisReplayCache::new(url, settings.timeout)?)),
        None => Ok(Arc::new(MemoryReplayCache::new(settings.max_entries))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_last_as_long_as_their_proof_is_accepted() {
        assert_eq!(ttl_ms(100, 160), 60_000);
        assert_eq!(ttl_ms(100, 100), 1_000);
        assert_eq!(ttl_ms(100, 0), 1_000);
        // A window over a day (dpop_window = 100000) is not cut to a day.
        assert_eq!(ttl_ms(0, 100_010), 100_010_000);
        assert_eq!(ttl_ms(i64::MIN, i64::MAX), u64::MAX);
    }
}
