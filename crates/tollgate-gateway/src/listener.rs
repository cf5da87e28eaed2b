//! Accepting connections: HTTP/1.1 and HTTP/2 (h2c) on one port, `TCP_NODELAY`, graceful
//! shutdown (stop accepting, let open requests finish), and the limits that keep silent or
//! idle clients from holding file descriptors (see [`crate::connections`]):
//!
//! - **header timer from accept**: complete request headers must arrive within
//!   `header_read_timeout` of accept; after a response, the next request within
//!   `idle_timeout` (HTTP/2: a connection with no open stream for `idle_timeout` is
//!   closed). The timer runs only while no request is in flight, so long downloads and
//!   slow uploads are not cut. hyper's own HTTP/1 header timeout (from the first byte of
//!   each request) stays on as well.
//! - **a cap per listener**: at the cap a new connection closes the longest-idle ones;
//!   with none idle it is closed at once.
//! - **accept errors back off** (5 ms doubling to 1 s, logged at most once a second); out
//!   of file descriptors, idle connections are shed.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::connections::{self, AcceptBackoff, Limits, TimedIo, TrackedBody, Tracker};
use crate::metrics::{Listener, Metrics};

/// Serves `router` on `listener` within `limits` until `stop` turns true; then stops
/// accepting and waits for open connections to finish their requests (the caller bounds
/// the wait). Connection counts go to `metrics` under `which`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    which: Listener,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let tracker = Tracker::new(limits, metrics, which);
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    backoff.succeeded();
                    pair
                }
                Err(e) => {
                    tracker.counters().accept_error();
                    let shed = if connections::out_of_files(&e) { tracker.shed_now() } else { 0 };
                    let (pause, log) = backoff.failed(Instant::now());
                    if let Some(errors) = log {
                        tracing::warn!(
                            target: "tollgate::serve",
                            listener = which.label(),
                            error = %e,
                            errors,
                            shed,
                            pause_ms = pause.as_millis() as u64,
                            "accept failed; pausing"
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
                    }
                    continue;
                }
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let Some(admitted) = tracker.admit() else {
            // At the cap with nothing idle to shed: closed at once.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = admitted.conn().clone();
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let in_flight = conn.request_started();
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                // The router never fails (its error type is Infallible).
                let response = router.oneshot(req.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| TrackedBody::new(body, in_flight)),
                )
            }
        });
        let io = TokioIo::new(TimedIo::new(stream, admitted.conn().clone()));
        let served = graceful.watch(builder.serve_connection(io, service).into_owned());
        tokio::spawn(async move {
            // Connection errors (a client hanging up, a timeout) end that connection only.
            tokio::select! {
                result = served => {
                    if result.is_err_and(|e| is_hyper_timeout(&*e)) {
                        admitted.conn().mark_timed_out();
                    }
                }
                _ = admitted.conn().shed() => {}
            }
            drop(admitted);
        });
        // Let the new connection read what its client already sent (complete headers make
        // it busy, so it is not shed) before the next accept.
        tokio::task::yield_now().await;
    }
    drop(listener);
    tracing::debug!(
        target: "tollgate::serve",
        listener = which.label(),
        max_connections = tracker.max_connections(),
        "stopped accepting"
    );
    graceful.shutdown().await;
    Ok(())
}

/// Whether a connection ended on hyper's own (HTTP/1 header) timeout.
fn is_hyper_timeout(e: &(dyn StdError + Send + Sync + 'static)) -> bool {
    e.downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
}
