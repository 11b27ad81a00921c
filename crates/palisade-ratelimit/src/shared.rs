//! Shared state in Redis: the GCRA script, counters for brute-force defence,
//! and the connection handling that keeps the gateway serving while Redis is
//! away.
//!
//! Every operation is one atomic Lua script. The GCRA script reads the clock
//! with `TIME` on the Redis server, so instances with skewed clocks still share
//! one timeline. After a failure (connection refused, timeout) the connection
//! is dropped and Redis is not tried again for `retry_interval_ms`; callers
//! apply their failure policy meanwhile, so a dead Redis costs no latency.
//! The first success after that logs the recovery.
//!
//! GCRA steps that arrive while another is on its way to Redis are sent
//! together in the next script call (see [`GcraBatch`]): each request still
//! gets its own exact, atomic GCRA decision in arrival order, but a busy
//! gateway makes one round trip per batch instead of one per request.
//!
//! Limits fast enough to afford it are leased in slices ([`crate::lease`]):
//! an instance takes a few units of allowance in one step and spends them
//! locally, exact again as soon as the limit comes close.

use crate::config::RedisConfig;
use crate::gcra::{GcraDecision, GcraParams};
use crate::lease::{slice_cap, LeaseBook, LeaseStep};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script, ToRedisArgs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why a shared operation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedError {
    #[error("redis is unavailable (retrying later)")]
    Unavailable,
    #[error("redis error: {0}")]
    Redis(String),
    #[error("redis timed out")]
    Timeout,
}

const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + cost * interval
local ahead = new_tat - now
if ahead <= tolerance then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor(ahead / 1000) + 1)
  return {1, math.floor((tolerance - ahead) / interval), ahead, 0}
end
local current = tat - now
local retry = ahead - tolerance
if cost > burst then retry = tolerance end
return {0, math.floor((tolerance - current) / interval), current, retry}
"#;

/// The GCRA step of [`GCRA_LUA`] applied to every key in turn, at one instant;
/// a key listed twice sees the first step's new TAT.
const GCRA_BATCH_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tolerance = interval * burst
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local ahead = new_tat - now
  if ahead <= tolerance then
    redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', math.floor(ahead / 1000) + 1)
    out[#out + 1] = 1
    out[#out + 1] = math.floor((tolerance - ahead) / interval)
    out[#out + 1] = ahead
    out[#out + 1] = 0
  else
    local current = tat - now
    local retry = ahead - tolerance
    if cost > burst then retry = tolerance end
    out[#out + 1] = 0
    out[#out + 1] = math.floor((tolerance - current) / interval)
    out[#out + 1] = current
    out[#out + 1] = retry
  end
end
return out
"#;

/// Connections (and batch queues) per store; workers beyond this share lanes.
const LANES: usize = 64;

/// One worker's connection and GCRA batch queue.
#[derive(Default)]
struct Lane {
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    batch: Arc<Mutex<GcraBatch>>,
}

/// Most GCRA steps sent in one script call.
const MAX_BATCH: usize = 128;

type GcraReply = Result<GcraDecision, SharedError>;

/// One GCRA step waiting for a script call.
struct PendingStep {
    key: String,
    params: GcraParams,
    cost: u64,
    reply: oneshot::Sender<Wake>,
}

/// What a waiting step is woken with.
enum Wake {
    /// Its decision.
    Decided(GcraReply),
    /// The previous call is back: this step sends the next batch, with these.
    Lead(Leadership, Vec<PendingStep>),
}

/// Steps queued while a call is in flight.
#[derive(Default)]
struct GcraBatch {
    in_flight: bool,
    waiting: Vec<PendingStep>,
}

/// The right to send the next batch of a lane. Whoever holds it must pass it
/// on: dropping it (after the call, or when the request holding it, or the
/// message carrying it, is cancelled) wakes the next waiting step as leader,
/// or marks the lane idle.
struct Leadership {
    batch: Arc<Mutex<GcraBatch>>,
    armed: bool,
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if self.armed {
            hand_off(&self.batch);
        }
    }
}

fn hand_off(shared: &Arc<Mutex<GcraBatch>>) {
    let Ok(mut batch) = shared.lock() else {
        return;
    };
    loop {
        if batch.waiting.is_empty() {
            batch.in_flight = false;
            return;
        }
        let take = batch.waiting.len().min(MAX_BATCH);
        let mut next: Vec<PendingStep> = batch.waiting.drain(..take).collect();
        let first = next.remove(0);
        let token = Leadership {
            batch: shared.clone(),
            armed: true,
        };
        match first.reply.send(Wake::Lead(token, next)) {
            Ok(()) => return,
            // That request is gone: keep its companions first in line and try the next.
            Err(Wake::Lead(mut token, rest)) => {
                token.armed = false;
                let tail = std::mem::take(&mut batch.waiting);
                batch.waiting = rest;
                batch.waiting.extend(tail);
            }
            Err(Wake::Decided(_)) => {}
        }
    }
}

const INCR_LUA: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#;

const DISTINCT_LUA: &str = r#"
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SCARD', KEYS[1])
"#;

/// A Redis connection with a failure policy.
pub struct SharedStore {
    client: redis::Client,
    config: RedisConfig,
    /// One connection and one batch queue per serving worker (see
    /// [`palisade_core::worker`]), so a request's Redis round trip stays on its thread.
    lanes: Box<[Lane]>,
    down_until: Mutex<Option<Instant>>,
    healthy: AtomicBool,
    gcra: Script,
    gcra_batch: Script,
    incr: Script,
    distinct: Script,
    leases: LeaseBook,
    calls: AtomicU64,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("prefix", &self.config.key_prefix)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Parses the URL; connects lazily on first use.
    pub fn new(config: RedisConfig) -> Result<Self, SharedError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| SharedError::Redis(e.to_string()))?;
        Ok(SharedStore {
            client,
            config,
            lanes: (0..LANES).map(|_| Lane::default()).collect(),
            down_until: Mutex::new(None),
            healthy: AtomicBool::new(true),
            gcra: Script::new(GCRA_LUA),
            gcra_batch: Script::new(GCRA_BATCH_LUA),
            incr: Script::new(INCR_LUA),
            distinct: Script::new(DISTINCT_LUA),
            leases: LeaseBook::default(),
            calls: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Script calls sent to Redis so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// False from a failure until the next success.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Prefixed key.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.config.key_prefix, suffix)
    }

    fn lane(&self) -> &Lane {
        &self.lanes[palisade_core::worker::current_worker() % self.lanes.len()]
    }

    async fn connection(&self) -> Result<ConnectionManager, SharedError> {
        if let Ok(down) = self.down_until.lock() {
            if down.is_some_and(|until| Instant::now() < until) {
                return Err(SharedError::Unavailable);
            }
        }
        let mut slot = self.lane().connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let timeout = Duration::from_millis(self.config.connect_timeout_ms.max(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(Duration::from_millis(
                self.config.response_timeout_ms.max(1),
            )))
            .set_number_of_retries(0);
        let created = tokio::time::timeout(
            timeout * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match created {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => {
                drop(slot);
                Err(self.failed(SharedError::Redis(e.to_string())).await)
            }
            Err(_) => {
                drop(slot);
                Err(self.failed(SharedError::Timeout).await)
            }
        }
    }

    async fn failed(&self, error: SharedError) -> SharedError {
        metrics::counter!("palisade_ratelimit_redis_errors_total").increment(1);
        if let Ok(mut down) = self.down_until.lock() {
            *down = Some(Instant::now() + Duration::from_millis(self.config.retry_interval_ms));
        }
        *self.lane().connection.lock().await = None;
        if self.healthy.swap(false, Ordering::Relaxed) {
            metrics::gauge!("palisade_ratelimit_redis_up").set(0.0);
            tracing::warn!(error = %error, policy = ?self.config.on_error, "redis unavailable; shared limits follow the failure policy");
        }
        error
    }

    fn succeeded(&self) {
        // Read first: the common case (already healthy) writes nothing.
        if !self.healthy.load(Ordering::Relaxed) && !self.healthy.swap(true, Ordering::Relaxed) {
            metrics::gauge!("palisade_ratelimit_redis_up").set(1.0);
            metrics::counter!("palisade_ratelimit_redis_recoveries_total").increment(1);
            tracing::info!("redis reachable again; shared limits resumed");
        }
    }

    async fn invoke<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&dyn ToRedisArgsDyn],
    ) -> Result<T, SharedError> {
        let mut conn = self.connection().await?;
        let mut invocation = script.key(key);
        for a in args {
            a.push_to(&mut invocation);
        }
        let deadline = Duration::from_millis(self.config.response_timeout_ms.max(1)) * 2;
        self.calls.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(deadline, invocation.invoke_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => {
                self.succeeded();
                Ok(v)
            }
            Ok(Err(e)) => Err(self.failed(SharedError::Redis(e.to_string())).await),
            Err(_) => Err(self.failed(SharedError::Timeout).await),
        }
    }

    /// One atomic GCRA step on `key` (already prefixed). Steps that arrive
    /// while another call is in flight travel together in the next call.
    pub async fn gcra(
        &self,
        key: &str,
        params: GcraParams,
        cost: u64,
    ) -> Result<GcraDecision, SharedError> {
        let lane = self.lane();
        let waiting = {
            let mut batch = lane
                .batch
                .lock()
                .map_err(|_| SharedError::Redis("batch lock poisoned".into()))?;
            if batch.in_flight {
                let (reply, wake) = oneshot::channel();
                batch.waiting.push(PendingStep {
                    key: key.to_owned(),
                    params,
                    cost,
                    reply,
                });
                Err(wake)
            } else {
                batch.in_flight = true;
                Ok(Leadership {
                    batch: lane.batch.clone(),
                    armed: true,
                })
            }
        };
        let (_leadership, companions) = match waiting {
            Ok(leadership) => (leadership, Vec::new()),
            Err(wake) => match wake.await {
                Ok(Wake::Decided(reply)) => return reply,
                Ok(Wake::Lead(leadership, companions)) => (leadership, companions),
                // The step leading our batch was cancelled mid-call: ask alone.
                Err(_) => return self.gcra_single(key, params, cost).await,
            },
        };
        let mut steps: Vec<(&str, GcraParams, u64)> = Vec::with_capacity(companions.len() + 1);
        steps.push((key, params, cost));
        steps.extend(
            companions
                .iter()
                .map(|c| (c.key.as_str(), c.params, c.cost)),
        );
        let replies = self.gcra_many(&steps).await;
        let mut replies = replies.into_iter();
        let mine = replies
            .next()
            .unwrap_or(Err(SharedError::Redis("empty GCRA reply".into())));
        for (companion, reply) in companions.into_iter().zip(replies) {
            let _ = companion.reply.send(Wake::Decided(reply));
        }
        mine
    }

    /// A GCRA step for a rate limit: spent from this instance's slice of the
    /// allowance when the limit is fast enough to lease, else one exact step.
    pub async fn gcra_leased(
        &self,
        key: &str,
        params: GcraParams,
        cost: u64,
    ) -> Result<GcraDecision, SharedError> {
        let cap = slice_cap(params);
        if cap <= 1 {
            return self.gcra(key, params, cost).await;
        }
        let units = match self.leases.take(key, cost, cap, Instant::now()) {
            LeaseStep::Spent(decision) => {
                metrics::counter!("palisade_ratelimit_lease_spends_total").increment(1);
                return Ok(decision);
            }
            LeaseStep::Ask { units } => units,
        };
        let decision = self.gcra(key, params, units).await?;
        self.leases
            .granted(key, units, cost, &decision, Instant::now());
        if decision.allowed {
            let mut mine = decision;
            mine.remaining = mine.remaining.saturating_add(units.saturating_sub(cost));
            return Ok(mine);
        }
        if units == cost {
            return Ok(decision);
        }
        // The slice did not fit: decide this request exactly.
        self.gcra(key, params, cost).await
    }

    /// One GCRA step in its own script call.
    async fn gcra_single(
        &self,
        key: &str,
        params: GcraParams,
        cost: u64,
    ) -> Result<GcraDecision, SharedError> {
        let reply: Vec<i64> = self
            .invoke(
                &self.gcra,
                key,
                &[&params.emission_interval_us, &params.burst, &cost],
            )
            .await?;
        decisions(&reply, 1)
            .and_then(|mut d| d.pop().ok_or(SharedError::Redis("empty GCRA reply".into())))
    }

    /// Several GCRA steps in one script call; one reply per step, in order.
    async fn gcra_many(&self, steps: &[(&str, GcraParams, u64)]) -> Vec<GcraReply> {
        let fail = |e: SharedError| steps.iter().map(|_| Err(e.clone())).collect();
        let mut conn = match self.connection().await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let mut invocation = self.gcra_batch.prepare_invoke();
        for (key, params, cost) in steps {
            invocation
                .key(*key)
                .arg(params.emission_interval_us)
                .arg(params.burst)
                .arg(*cost);
        }
        let deadline = Duration::from_millis(self.config.response_timeout_ms.max(1)) * 2;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let reply =
            match tokio::time::timeout(deadline, invocation.invoke_async::<Vec<i64>>(&mut conn))
                .await
            {
                Ok(Ok(v)) => {
                    self.succeeded();
                    v
                }
                Ok(Err(e)) => return fail(self.failed(SharedError::Redis(e.to_string())).await),
                Err(_) => return fail(self.failed(SharedError::Timeout).await),
            };
        match decisions(&reply, steps.len()) {
            Ok(d) => d.into_iter().map(Ok).collect(),
            Err(e) => fail(e),
        }
    }

    /// Increments a counter that expires `ttl` after its first increment.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, SharedError> {
        let ms = ttl_ms(ttl);
        self.invoke::<u64>(&self.incr, key, &[&ms]).await
    }

    /// Adds `member` to a set that expires `ttl` after creation; returns its size.
    pub async fn add_distinct(
        &self,
        key: &str,
        member: &str,
        ttl: Duration,
    ) -> Result<u64, SharedError> {
        let ms = ttl_ms(ttl);
        let member = member.to_owned();
        self.invoke::<u64>(&self.distinct, key, &[&member, &ms])
            .await
    }

    async fn command<T: FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, SharedError> {
        let mut conn = self.connection().await?;
        let deadline = Duration::from_millis(self.config.response_timeout_ms.max(1)) * 2;
        match tokio::time::timeout(deadline, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => {
                self.succeeded();
                Ok(v)
            }
            Ok(Err(e)) => Err(self.failed(SharedError::Redis(e.to_string())).await),
            Err(_) => Err(self.failed(SharedError::Timeout).await),
        }
    }

    /// Current value of a counter (0 when absent).
    pub async fn get_count(&self, key: &str) -> Result<u64, SharedError> {
        let v: Option<u64> = self.command(redis::cmd("GET").arg(key).clone()).await?;
        Ok(v.unwrap_or(0))
    }

    /// Sets a block marker for `ttl`.
    pub async fn set_block(&self, key: &str, ttl: Duration) -> Result<(), SharedError> {
        let () = self
            .command(
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .clone(),
            )
            .await?;
        Ok(())
    }

    /// Remaining time of a block marker, if set.
    pub async fn block_remaining(&self, key: &str) -> Result<Option<Duration>, SharedError> {
        let ms: i64 = self.command(redis::cmd("PTTL").arg(key).clone()).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    pub async fn delete(&self, key: &str) -> Result<(), SharedError> {
        let _: i64 = self.command(redis::cmd("DEL").arg(key).clone()).await?;
        Ok(())
    }
}

/// Decodes `n` GCRA replies of four integers each.
fn decisions(reply: &[i64], n: usize) -> Result<Vec<GcraDecision>, SharedError> {
    if reply.len() != 4 * n {
        return Err(SharedError::Redis("unexpected GCRA reply".into()));
    }
    let get = |v: i64| v.max(0) as u64;
    Ok(reply
        .chunks_exact(4)
        .map(|c| GcraDecision {
            allowed: c[0] == 1,
            remaining: get(c[1]),
            reset_after_us: get(c[2]),
            retry_after_us: get(c[3]),
        })
        .collect())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Object-safe bridge so script arguments of different types fit one slice.
pub trait ToRedisArgsDyn: Sync {
    fn push_to(&self, invocation: &mut redis::ScriptInvocation<'_>);
}

impl<T: ToRedisArgs + Sync> ToRedisArgsDyn for T {
    fn push_to(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation.arg(self);
    }
}
