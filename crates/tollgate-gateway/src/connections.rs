//! Connection bookkeeping: the header/idle timer that starts at accept, the per-listener
//! connection cap with idle-first shedding, and the accept-error backoff.
//!
//! Design:
//! - Each accepted connection gets a `Conn` record: requests in flight (an atomic), when
//!   it went idle and its deadline. The socket is wrapped in `TimedIo`, whose `poll_read`
//!   races a timer *only while no request is in flight*: armed at accept with
//!   `header_read_timeout`, re-armed with `idle_timeout` when the last response body ends
//!   (or is dropped). When it fires, the read fails with `TimedOut` and hyper closes the
//!   connection. A request is in flight from the moment hyper calls the service (complete
//!   headers) until its response body has been sent, so a long download or a slow upload
//!   is never cut by this timer. HTTP/2 is covered the same way: a connection with no open
//!   stream is idle.
//! - A `Tracker` per listener holds the open connections. At the cap, a new connection
//!   makes room by closing the connections that have been idle longest (silent since
//!   accept, or kept alive between requests), as nginx drains reusable connections; when
//!   nothing is idle the new connection is closed at once. Running out of file descriptors
//!   (`EMFILE`/`ENFILE` on accept) sheds idle connections too.
//! - Accept errors pause the accept loop with an exponential `AcceptBackoff`, logged at
//!   most once a second.
//!
//! Counters are atomics in [`ConnectionCounters`]; the registry's lock is taken once per
//! connection (open, close, at the cap), never per request.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::metrics::{ConnectionCounters, Listener, Metrics};

/// The admin listener's connection cap: operators and a Prometheus scraper need a handful;
/// 64 keeps a flood of admin connections from using the gateway's file descriptors.
pub const ADMIN_MAX_CONNECTIONS: usize = 64;

/// File descriptors kept back from the gateway listener's derived cap besides the admin
/// listener's [`ADMIN_MAX_CONNECTIONS`]: key fetches (JWKS, discovery), configuration and
/// key files, the listeners themselves, logs.
pub const RESERVED_FILES: u64 = 64;

/// The smallest cap (the smallest `max_connections` the configuration accepts).
pub const MIN_MAX_CONNECTIONS: usize = 16;

/// Derived caps stop here: beyond a million open files the limit is not the constraint.
const NOFILE_CEILING: u64 = 1 << 20;

/// The gateway listener's connection cap when `max_connections` is not set, from the
/// process's open-files limit `nofile` (after raising the soft limit to the hard one, see
/// [`open_files_limit`]):
///
/// `nofile - ADMIN_MAX_CONNECTIONS - RESERVED_FILES`, halved in reverse-proxy mode
/// (`reverse_proxy`: each client connection may hold one upstream connection), and never
/// below [`MIN_MAX_CONNECTIONS`]. With the common 1024 limit: 896 (forward-auth) or 448
/// (reverse proxy); with 1,048,576: 1,048,448 or 524,224.
pub fn derive_max_connections(nofile: u64, reverse_proxy: bool) -> usize {
    let spare = nofile
        .min(NOFILE_CEILING)
        .saturating_sub(ADMIN_MAX_CONNECTIONS as u64 + RESERVED_FILES);
    let cap = if reverse_proxy { spare / 2 } else { spare };
    usize::try_from(cap)
        .unwrap_or(usize::MAX)
        .max(MIN_MAX_CONNECTIONS)
}

/// The process's open-files limit, after raising the soft limit to the hard limit (once per
/// process; the result is logged once).
pub fn open_files_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) => {
                tracing::info!(
                    target: "tollgate::serve",
                    soft_before = before.map(|b| b.0),
                    hard = before.map(|b| b.1),
                    open_files_limit = now,
                    "open-files limit raised to the hard limit"
                );
                now
            }
            Err(error) => {
                let soft = before.map_or(1024, |b| b.0);
                tracing::warn!(
                    target: "tollgate::serve",
                    %error,
                    open_files_limit = soft,
                    "cannot raise the open-files limit; keeping the current one"
                );
                soft
            }
        }
    })
}

/// The time limits and cap of one listener.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// From accept to complete request headers.
    pub(crate) header_read_timeout: Duration,
    /// From the end of a response to the next request's complete headers (HTTP/1.1), or
    /// with no open stream (HTTP/2).
    pub(crate) idle_timeout: Duration,
    /// The most connections held open at once.
    pub(crate) max_connections: usize,
}

/// `in_flight` once a connection has been chosen for shedding: far above any real count,
/// so the connection never looks idle again.
const SHED: usize = usize::MAX / 2;

/// One open connection, shared by its socket wrapper, its service and the tracker.
pub(crate) struct Conn {
    id: u64,
    /// Requests whose response body has not ended; [`SHED`] and above: being closed.
    in_flight: AtomicUsize,
    /// Milliseconds since `base` when the connection last became idle (accept, or the end
    /// of its last response).
    idle_since_ms: AtomicU64,
    /// Milliseconds since `base` when an idle connection times out.
    deadline_ms: AtomicU64,
    base: Instant,
    idle_timeout: Duration,
    /// The connection task's waker, to re-arm the timer when the last request ends.
    read_waker: AtomicWaker,
    /// Set by the tracker when it sheds this connection.
    shed: Notify,
    /// The timer closed the connection.
    timed_out: AtomicBool,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4)
}

impl Conn {
    fn now_ms(&self) -> u64 {
        millis(self.base.elapsed())
    }

    /// A request has complete headers: the timer stops until its response ends.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Whether the timer closed this connection.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    /// Records that hyper's own header timeout closed this connection.
    pub(crate) fn mark_timed_out(&self) {
        self.timed_out.store(true, Ordering::Release);
    }

    /// Resolves when the tracker sheds this connection.
    pub(crate) async fn shed(&self) {
        self.shed.notified().await;
    }

    /// Marks an idle connection for closing; false if a request is in flight.
    fn try_shed(&self) -> bool {
        let idle = self
            .in_flight
            .compare_exchange(0, SHED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if idle {
            self.shed.notify_one();
        }
        idle
    }
}

/// A request in flight on a connection; dropped when its response body ends or is dropped.
pub(crate) struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        // Deadline first, then the count: the socket wrapper reads the deadline only when
        // the count is zero, so it never sees a stale one.
        let now = c.now_ms();
        c.deadline_ms.store(
            now.saturating_add(millis(c.idle_timeout)),
            Ordering::Release,
        );
        c.idle_since_ms.store(now, Ordering::Release);
        if c.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            c.read_waker.wake();
        }
    }
}

/// A response body that holds its request's [`InFlight`] until it ends.
pub(crate) struct TrackedBody<B> {
    inner: B,
    in_flight: Option<InFlight>,
}

impl<B> TrackedBody<B> {
    pub(crate) fn new(inner: B, in_flight: InFlight) -> TrackedBody<B> {
        TrackedBody {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl<B: HttpBody + Unpin> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket whose reads fail with `TimedOut` once the connection has been idle past its
/// deadline (see the module doc).
pub(crate) struct TimedIo<T> {
    inner: T,
    conn: Arc<Conn>,
    sleep: Pin<Box<Sleep>>,
    armed_ms: u64,
}

impl<T> TimedIo<T> {
    pub(crate) fn new(inner: T, conn: Arc<Conn>) -> TimedIo<T> {
        let armed_ms = conn.deadline_ms.load(Ordering::Acquire);
        let at = conn.base + Duration::from_millis(armed_ms);
        TimedIo {
            inner,
            conn,
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
            armed_ms,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.read_waker.register(cx.waker());
        if this.conn.in_flight.load(Ordering::Acquire) == 0 {
            // Deadlines move later with every response; re-arming the timer each time would
            // cost a timer-wheel update per request. The timer stays at the earlier deadline
            // and, when it fires, is moved to the current one if that is still ahead; only
            // an earlier deadline re-arms it at once.
            loop {
                let deadline = this.conn.deadline_ms.load(Ordering::Acquire);
                if deadline < this.armed_ms {
                    this.armed_ms = deadline;
                    let at = this.conn.base + Duration::from_millis(deadline);
                    this.sleep.as_mut().reset(at.into());
                }
                if this.sleep.as_mut().poll(cx).is_pending() {
                    break;
                }
                if deadline > this.armed_ms {
                    this.armed_ms = deadline;
                    let at = this.conn.base + Duration::from_millis(deadline);
                    this.sleep.as_mut().reset(at.into());
                    continue;
                }
                this.conn.timed_out.store(true, Ordering::Release);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no complete request within the header or idle timeout",
                )));
            }
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The open connections of one listener.
pub(crate) struct Tracker {
    limits: Limits,
    metrics: Arc<Metrics>,
    listener: Listener,
    base: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

/// An admitted connection: leaves the tracker (and the open gauge) when dropped.
pub(crate) struct Admitted {
    tracker: Arc<Tracker>,
    conn: Arc<Conn>,
}

impl Admitted {
    /// The connection's record.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.tracker.lock().remove(&self.conn.id);
        let counters = self.tracker.counters();
        if self.conn.timed_out() {
            counters.timed_out_one();
        }
        counters.closed();
    }
}

impl Tracker {
    /// A tracker enforcing `limits`, counting into `listener`'s counters.
    pub(crate) fn new(limits: Limits, metrics: Arc<Metrics>, listener: Listener) -> Arc<Tracker> {
        metrics
            .connections(listener)
            .set_limit(limits.max_connections);
        Arc::new(Tracker {
            limits,
            metrics,
            listener,
            base: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn counters(&self) -> &ConnectionCounters {
        self.metrics.connections(self.listener)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many idle connections one shedding pass closes: one for small caps, up to 32
    /// for large ones, so a flood at a large cap does not scan the table on every accept.
    fn shed_batch(&self) -> usize {
        (self.limits.max_connections / 128).clamp(1, 32)
    }

    /// Takes a new connection: `None` when the listener is at its cap and nothing idle
    /// could be shed (the caller closes the socket).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut conns = self.lock();
        if conns.len() >= self.limits.max_connections {
            let shed = shed_idle(&mut conns, self.shed_batch());
            self.counters().shed_some(shed);
            if shed == 0 {
                self.counters().refused_one();
                return None;
            }
        }
        let now = millis(self.base.elapsed());
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(now),
            deadline_ms: AtomicU64::new(
                now.saturating_add(millis(self.limits.header_read_timeout)),
            ),
            base: self.base,
            idle_timeout: self.limits.idle_timeout,
            read_waker: AtomicWaker::new(),
            shed: Notify::new(),
            timed_out: AtomicBool::new(false),
        });
        conns.insert(conn.id, conn.clone());
        drop(conns);
        self.counters().opened();
        Some(Admitted {
            tracker: self.clone(),
            conn,
        })
    }

    /// Closes a batch of the longest-idle connections (out of file descriptors); returns
    /// how many.
    pub(crate) fn shed_now(&self) -> usize {
        let shed = shed_idle(&mut self.lock(), self.shed_batch());
        self.counters().shed_some(shed);
        shed
    }

    /// The cap.
    pub(crate) fn max_connections(&self) -> usize {
        self.limits.max_connections
    }
}

/// Closes up to `n` connections with no request in flight, longest idle first; returns how
/// many.
fn shed_idle(conns: &mut HashMap<u64, Arc<Conn>>, n: usize) -> usize {
    let mut idle: Vec<(u64, u64)> = conns
        .values()
        .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
        .map(|c| (c.idle_since_ms.load(Ordering::Acquire), c.id))
        .collect();
    if idle.len() > n {
        idle.select_nth_unstable(n - 1);
        idle.truncate(n);
    }
    let mut shed = 0;
    for (_, id) in idle {
        if conns.get(&id).is_some_and(|c| c.try_shed()) {
            conns.remove(&id);
            shed += 1;
        }
    }
    shed
}

/// The first pause after an accept error.
const ACCEPT_PAUSE_FIRST: Duration = Duration::from_millis(5);
/// The longest pause after repeated accept errors.
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);
/// At most one log line per this long about accept errors.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(1);

/// The pause after accept errors: 5 ms, doubling up to 1 s, back to 5 ms after a
/// successful accept; and when to log (at most once a second, with the count since).
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    next: Duration,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl AcceptBackoff {
    pub(crate) fn new() -> AcceptBackoff {
        AcceptBackoff {
            next: ACCEPT_PAUSE_FIRST,
            last_log: None,
            unlogged: 0,
        }
    }

    /// An accept failed at `now`: how long to pause, and `Some(errors)` (the errors since
    /// the last log line, this one included) when this one should be logged.
    pub(crate) fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let pause = self.next;
        self.next = (self.next * 2).min(ACCEPT_PAUSE_MAX);
        self.unlogged += 1;
        let due = self
            .last_log
            .is_none_or(|t| now.saturating_duration_since(t) >= ACCEPT_LOG_EVERY);
        if due {
            self.last_log = Some(now);
            let n = std::mem::take(&mut self.unlogged);
            (pause, Some(n))
        } else {
            (pause, None)
        }
    }

    /// An accept succeeded: the next error pauses briefly again.
    pub(crate) fn succeeded(&mut self) {
        self.next = ACCEPT_PAUSE_FIRST;
    }
}

/// Whether an accept error means the process or the system is out of file descriptors
/// (`EMFILE` 24, `ENFILE` 23: the same numbers on Linux, macOS and the BSDs).
pub(crate) fn out_of_files(e: &io::Error) -> bool {
    cfg!(unix) && matches!(e.raw_os_error(), Some(23) | Some(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_room_for_admin_and_files_and_halves_for_upstreams() {
        assert_eq!(derive_max_connections(1024, false), 896);
        assert_eq!(derive_max_connections(1024, true), 448);
        assert_eq!(derive_max_connections(1 << 20, false), (1 << 20) - 128);
        assert_eq!(derive_max_connections(1 << 20, true), ((1 << 20) - 128) / 2);
        // an unlimited hard limit is not taken literally
        assert_eq!(derive_max_connections(u64::MAX, false), (1 << 20) - 128);
        // a tiny limit still leaves the minimum
        assert_eq!(derive_max_connections(100, false), MIN_MAX_CONNECTIONS);
        assert_eq!(derive_max_connections(0, true), MIN_MAX_CONNECTIONS);
    }

    #[test]
    fn accept_errors_back_off_exponentially_and_log_once_a_second() {
        let mut b = AcceptBackoff::new();
        let t0 = Instant::now();
        let (p, log) = b.failed(t0);
        assert_eq!((p, log), (Duration::from_millis(5), Some(1)));
        let mut pauses = vec![];
        let mut logs = 0;
        for i in 1..20 {
            let (p, log) = b.failed(t0 + Duration::from_millis(i * 10));
            pauses.push(p);
            logs += u64::from(log.is_some());
        }
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert_eq!(*pauses.last().unwrap(), ACCEPT_PAUSE_MAX);
        assert_eq!(logs, 0, "within the same second: not logged");
        let (_, log) = b.failed(t0 + Duration::from_secs(2));
        assert_eq!(log, Some(20), "the errors since the last line are counted");
        b.succeeded();
        assert_eq!(b.failed(t0 + Duration::from_secs(2)).0, ACCEPT_PAUSE_FIRST);
    }

    fn tracker(max: usize) -> (Arc<Tracker>, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new(vec![]));
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: max,
        };
        (
            Tracker::new(limits, metrics.clone(), Listener::Gateway),
            metrics,
        )
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let (t, metrics) = tracker(3);
        let counters = metrics.connections(Listener::Gateway);
        let a = t.admit().unwrap();
        let b = t.admit().unwrap();
        let c = t.admit().unwrap();
        // a is older, but busy; b is the longest idle
        let busy = a.conn().request_started();
        b.conn().idle_since_ms.store(0, Ordering::Release);
        c.conn().idle_since_ms.store(5, Ordering::Release);
        a.conn().idle_since_ms.store(0, Ordering::Release);
        let d = t.admit().expect("room made");
        assert_eq!(b.conn().in_flight.load(Ordering::Acquire), SHED);
        assert_eq!(c.conn().in_flight.load(Ordering::Acquire), 0);
        assert_eq!(counters.shed(), 1);
        assert_eq!(
            counters.open(),
            4,
            "b's socket is still open until its task ends"
        );
        drop(b);
        assert_eq!(counters.open(), 3);
        // everything busy: the new one is refused
        let _c_busy = c.conn().request_started();
        let _d_busy = d.conn().request_started();
        assert!(t.admit().is_none());
        assert_eq!(counters.refused(), 1);
        // a request ends: that connection is idle again and can be shed
        drop(busy);
        assert!(t.admit().is_some());
        assert_eq!(counters.shed(), 2);
    }
}
