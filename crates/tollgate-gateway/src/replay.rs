//! The DPoP replay cache shared by gateway replicas: Redis (`[replay] redis`).
//!
//! Each proof is one script ([`INSERT_SCRIPT`], run atomically by Redis, whichever replica
//! asks) over two keys: the proof's `<prefix><replay key>` (set with `PX <ms>` on first use;
//! present means a replay) and its DPoP key's `<prefix>jkt:<thumbprint>`, a sorted set of
//! that key's live proofs by expiry. A key already holding `[replay] max_per_key` live
//! proofs is refused (`dpop_key_over_quota`, 429) and its new proof not recorded, so one
//! client cannot grow Redis without bound nor slow the others. Both keys expire when their
//! proofs could no longer be accepted anyway (the proof window plus leeway); expiry is
//! counted by Redis's clock (`TIME`), the same clock as `PX`. The script is sent once
//! (`SCRIPT LOAD`) and then run by its SHA-1 (`EVALSHA`); when Redis no longer knows it
//! (restarted, `SCRIPT FLUSH`), the request runs it with `EVAL`, which loads it again.
//!
//! Fail closed: when Redis does not answer within `[replay] timeout_ms` (connection refused,
//! timeout, an error reply), the request is refused with 503 "cannot verify now"
//! (`replay_cache_unavailable`), never allowed. The connection is made on first use and
//! made again after a failure, so the gateway starts while Redis is down and recovers when
//! it returns.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;
use tollgate::dpop::{
    MemoryReplayCache, ProofId, ReplayCache, ReplayFuture, ReplayRefusal, DEFAULT_MAX_PER_KEY,
};

use crate::config::ReplaySettings;

/// The key prefix, so the cache can share a Redis with other data.
pub const KEY_PREFIX: &str = "tollgate:dpop:";

/// The prefix of a DPoP key's set of live proofs, after [`KEY_PREFIX`]. A replay key is
/// base64url, which has no `:`, so the two never meet.
pub const QUOTA_PREFIX: &str = "jkt:";

/// Records one proof, atomically. `KEYS[1]` the proof's key, `KEYS[2]` its DPoP key's set
/// of live proofs (member: the proof's key, score: its expiry in ms, by Redis's clock);
/// `ARGV[1]` how long to keep the proof (ms), `ARGV[2]` the most live proofs per key.
/// Answers `{1, 0}` recorded, `{0, 0}` a replay, `{2, ms}` over quota until the key's
/// soonest proof expires in `ms`. A replay is answered as one even over quota.
pub const INSERT_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  local soonest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tonumber(soonest[2]) - now}
end
redis.call('SET', KEYS[1], '1', 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {1, 0}
";

/// A replay cache in Redis.
pub struct RedisReplayCache {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    timeout: Duration,
    max_per_key: usize,
    /// [`INSERT_SCRIPT`]'s SHA-1, as Redis named it when it was loaded.
    script_sha: OnceLock<String>,
}

impl std::fmt::Debug for RedisReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayCache")
            .field("timeout", &self.timeout)
            .field("max_per_key", &self.max_per_key)
            .finish_non_exhaustive()
    }
}

impl RedisReplayCache {
    /// A cache at `url` (`redis://host:port[/db]`), with at most
    /// [`DEFAULT_MAX_PER_KEY`] live proofs per key; connects on first use.
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
            max_per_key: DEFAULT_MAX_PER_KEY,
            script_sha: OnceLock::new(),
        })
    }

    /// Sets the most live proofs one key may have (at least 1), counted across every
    /// replica. Default [`DEFAULT_MAX_PER_KEY`].
    pub fn max_per_key(mut self, limit: usize) -> RedisReplayCache {
        self.max_per_key = limit.max(1);
        self
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

    async fn insert(
        &self,
        proof: ProofId<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, ReplayRefusal> {
        let ttl_ms = ttl_ms(now, expires_at);
        let attempt = async {
            let mut c = self.connection().await?;
            let sha = self.script_sha(&mut c).await?;
            let proof_key = format!("{KEY_PREFIX}{}", proof.replay_key());
            let set_key = format!("{KEY_PREFIX}{QUOTA_PREFIX}{}", proof.jkt);
            let run = |command: &str, script: &str| {
                let mut cmd = redis::cmd(command);
                cmd.arg(script)
                    .arg(2)
                    .arg(&proof_key)
                    .arg(&set_key)
                    .arg(ttl_ms)
                    .arg(self.max_per_key);
                cmd
            };
            let answer: (i64, i64) = match run("EVALSHA", sha).query_async(&mut c).await {
                // Redis forgot the script (restarted, flushed): EVAL runs and loads it.
                Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                    run("EVAL", INSERT_SCRIPT).query_async(&mut c).await
                }
                other => other,
            }
            .map_err(|e| format!("Redis did not answer: {e}"))?;
            read_answer(answer, self.max_per_key)
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "Redis did not answer within {} ms",
                self.timeout.as_millis()
            )),
        };
        match result {
            Ok(answer) => answer,
            Err(reason) => {
                // Connect afresh next time.
                *self.connection.lock().await = None;
                Err(ReplayRefusal::Unavailable(reason))
            }
        }
    }

    /// [`INSERT_SCRIPT`]'s SHA-1: loaded into Redis (`SCRIPT LOAD`) the first time, which
    /// answers with it. An answer that is not 40 hex digits is an error (fail closed).
    async fn script_sha(&self, c: &mut MultiplexedConnection) -> Result<&str, String> {
        if let Some(sha) = self.script_sha.get() {
            return Ok(sha);
        }
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(INSERT_SCRIPT)
            .query_async(c)
            .await
            .map_err(|e| format!("Redis did not load the replay script: {e}"))?;
        if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "Redis answered {:?} to SCRIPT LOAD, not a SHA-1",
                tollgate::text::cut(&sha).to_string()
            ));
        }
        Ok(self.script_sha.get_or_init(|| sha))
    }
}

/// The script's answer (see [`INSERT_SCRIPT`]) as the cache's; anything else is an error
/// (fail closed).
fn read_answer(
    (outcome, ms): (i64, i64),
    limit: usize,
) -> Result<Result<bool, ReplayRefusal>, String> {
    match outcome {
        1 => Ok(Ok(true)),
        0 => Ok(Ok(false)),
        2 => Ok(Err(ReplayRefusal::OverQuota {
            limit,
            // Whole seconds, rounded up: retrying earlier would be refused again.
            retry_after: u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1),
        })),
        other => Err(format!("Redis answered {other} to the replay script")),
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
    fn insert_new<'a>(&'a self, proof: ProofId<'a>, now: i64, expires_at: i64) -> ReplayFuture<'a> {
        Box::pin(self.insert(proof, now, expires_at))
    }
}

/// The replay cache `[replay]` asks for: Redis when `redis` is set, else in memory.
pub fn replay_cache_for(settings: &ReplaySettings) -> Result<Arc<dyn ReplayCache>, String> {
    match &settings.redis {
        Some(url) => Ok(Arc::new(
            RedisReplayCache::new(url, settings.timeout)?.max_per_key(settings.max_per_key),
        )),
        None => Ok(Arc::new(
            MemoryReplayCache::new(settings.max_entries).max_per_key(settings.max_per_key),
        )),
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

    #[test]
    fn script_answers_are_read_strictly() {
        assert_eq!(read_answer((1, 0), 5), Ok(Ok(true)));
        assert_eq!(read_answer((0, 0), 5), Ok(Ok(false)));
        let over = |retry_after| {
            Ok(Err(ReplayRefusal::OverQuota {
                limit: 5,
                retry_after,
            }))
        };
        assert_eq!(read_answer((2, 59_001), 5), over(60));
        assert_eq!(read_answer((2, 60_000), 5), over(60));
        assert_eq!(read_answer((2, 0), 5), over(1));
        assert_eq!(read_answer((2, -5), 5), over(1));
        assert!(read_answer((3, 0), 5).is_err());
    }
}
