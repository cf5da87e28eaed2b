//! What clients can hold open (issue 11, finding 2): the header timer starts at accept, an
//! idle kept-alive or HTTP/2 connection is closed after `idle_timeout`, requests in flight
//! (slow downloads and uploads) are never cut, and at the connection cap silent
//! connections are shed so real clients are still served.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::Bytes;
use common::{client, Echo, LocalKeys, TEST_TIMEOUT};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tollgate_gateway::{Config, Gateway, RunningGateway};

/// Margin on every "closed within" check: generous, for a loaded CI machine.
const MARGIN: Duration = Duration::from_secs(3);

fn config(keys: &LocalKeys, upstream: Option<&str>) -> Config {
    let upstream = upstream
        .map(|u| format!("upstream = \"{u}\"\n"))
        .unwrap_or_default();
    keys.config(
        &upstream,
        "[[route]]\npath = \"/public/\"\nanonymous = true\n[[route]]\npath = \"/\"\n",
    )
}

async fn start(config: Config) -> RunningGateway {
    Gateway::new(config).unwrap().serve().await.unwrap()
}

/// Waits until the peer closes `stream` (EOF or reset), at most `limit`; how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(limit, async {
        // Reset or EOF both mean closed; anything the server wrote first is ignored.
        let _ = stream.read_to_end(&mut buf).await;
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

/// The value of one metric line (`name{labels}`) in the admin listener's `/metrics`.
async fn metric(gw: &RunningGateway, line: &str) -> u64 {
    let text = common::metrics_text(gw).await;
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {line} in\n{text}"))
        .parse()
        .unwrap()
}

/// A forward-auth request for an anonymous route (200).
fn verify_request() -> http::Request<Empty<Bytes>> {
    http::Request::get("/verify")
        .header("host", "gateway")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/public/x")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn a_silent_connection_is_closed_on_the_gateway_and_admin_listeners() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        config.header_read_timeout = Duration::from_secs(1);
        let gw = start(config).await;
        let mut silent = TcpStream::connect(gw.addr()).await.unwrap();
        let mut silent_admin = TcpStream::connect(gw.admin_addr().unwrap()).await.unwrap();
        let (a, b) = tokio::join!(
            closed_within(&mut silent, Duration::from_secs(1) + MARGIN),
            closed_within(&mut silent_admin, Duration::from_secs(1) + MARGIN),
        );
        let a = a.expect("gateway listener: a silent connection stayed open");
        let b = b.expect("admin listener: a silent connection stayed open");
        assert!(a >= Duration::from_millis(800), "closed too early: {a:?}");
        assert!(b >= Duration::from_millis(800), "closed too early: {b:?}");

        // counted per listener; the derived cap and the admin cap are shown
        assert_eq!(
            metric(
                &gw,
                "tollgate_connections_timed_out_total{listener=\"gateway\"}"
            )
            .await,
            1
        );
        assert_eq!(
            metric(
                &gw,
                "tollgate_connections_timed_out_total{listener=\"admin\"}"
            )
            .await,
            1
        );
        assert!(metric(&gw, "tollgate_connection_limit{listener=\"gateway\"}").await >= 16);
        assert_eq!(
            metric(&gw, "tollgate_connection_limit{listener=\"admin\"}").await,
            64
        );
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_partial_request_line_is_closed_within_the_header_timeout_from_accept() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        config.header_read_timeout = Duration::from_secs(4);
        let gw = start(config).await;
        let mut slow = TcpStream::connect(gw.addr()).await.unwrap();
        // Silent for 3.5 s, then a trickle: hyper's own timer starts only now (it would
        // close 4 s later); the timer from accept closes it 0.5 s later.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        slow.write_all(b"GET /verify HTTP/1.1\r\n").await.unwrap();
        let closed = closed_within(&mut slow, MARGIN).await;
        assert!(closed.is_some(), "still open 3.5 s + 3 s after accept");
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_but_a_prompt_next_request_is_served() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        // hyper's own header timer (from the first byte) must not be what closes it
        config.header_read_timeout = Duration::from_secs(30);
        config.idle_timeout = Duration::from_secs(2);
        let gw = start(config).await;
        let tcp = TcpStream::connect(gw.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        let mut conn = tokio::spawn(conn);

        for _ in 0..3 {
            let r = sender.send_request(verify_request()).await.unwrap();
            assert_eq!(r.status(), 200);
            r.into_body().collect().await.unwrap();
            // well within idle_timeout: the same connection serves the next request
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // then idle: the gateway closes it
        let started = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(2) + MARGIN, &mut conn).await;
        assert!(ended.is_ok(), "an idle keep-alive connection stayed open");
        assert!(started.elapsed() >= Duration::from_millis(1000));
        assert_eq!(
            metric(
                &gw,
                "tollgate_connections_timed_out_total{listener=\"gateway\"}"
            )
            .await,
            1
        );
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_silent_h2c_connection_is_closed() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        config.header_read_timeout = Duration::from_secs(1);
        let gw = start(config).await;
        let mut h2 = TcpStream::connect(gw.addr()).await.unwrap();
        // the HTTP/2 preface and an empty SETTINGS frame, then nothing
        h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .await
            .unwrap();
        let closed = closed_within(&mut h2, Duration::from_secs(1) + MARGIN).await;
        assert!(closed.is_some(), "a silent h2c connection stayed open");
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

/// An upstream whose `/public/slow` answers 12 chunks of 1 KiB, one every 250 ms (3 s).
async fn slow_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async {
        let chunks = futures::stream::unfold(0u32, |i| async move {
            if i == 12 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((Ok::<_, Infallible>(Bytes::from(vec![b'x'; 1024])), i + 1))
        });
        Body::from_stream(chunks)
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

#[tokio::test]
async fn a_slow_download_longer_than_the_idle_timeout_is_not_cut_http1_and_h2c() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let (upstream, task) = slow_upstream().await;
        let mut config = config(&keys, Some(&format!("http://{upstream}")));
        config.header_read_timeout = Duration::from_secs(1);
        config.idle_timeout = Duration::from_secs(1);
        let gw = start(config).await;

        // HTTP/1.1
        let r = client()
            .get(format!("{}/public/slow", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 12 * 1024);

        // h2c with prior knowledge: the open stream keeps the connection; afterwards, with
        // no stream open, it is closed after idle_timeout
        let tcp = TcpStream::connect(gw.addr()).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .unwrap();
        let mut conn = tokio::spawn(conn);
        let req = http::Request::get(format!("http://{}/public/slow", gw.addr()))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let r = sender.send_request(req).await.unwrap();
        assert_eq!(r.status(), 200);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 12 * 1024);
        let ended = tokio::time::timeout(Duration::from_secs(1) + MARGIN, &mut conn).await;
        assert!(ended.is_ok(), "an idle h2c connection stayed open");

        gw.shutdown().await;
        task.abort();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_slow_upload_longer_than_the_idle_timeout_is_not_cut() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let echo = Echo::start().await;
        let mut config = config(&keys, Some(&echo.url()));
        config.header_read_timeout = Duration::from_secs(1);
        config.idle_timeout = Duration::from_secs(1);
        let gw = start(config).await;

        let tcp = TcpStream::connect(gw.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        // 12 chunks of 1 KiB, one every 250 ms (3 s), chunked
        let chunks = futures::stream::unfold(0u32, |i| async move {
            if i == 12 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((
                Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'y'; 1024]))),
                i + 1,
            ))
        });
        let req = http::Request::post("/public/upload")
            .header("host", "gateway")
            .body(StreamBody::new(chunks))
            .unwrap();
        let r = sender.send_request(req).await.unwrap();
        assert_eq!(r.status(), 200);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["body_len"], 12 * 1024);
        assert_eq!(
            metric(
                &gw,
                "tollgate_connections_timed_out_total{listener=\"gateway\"}"
            )
            .await,
            0
        );
        gw.shutdown().await;
        echo.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_silent_connections_are_shed_and_real_clients_are_served() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        config.max_connections = Some(64);
        config.header_read_timeout = Duration::from_secs(3);
        config.idle_timeout = Duration::from_secs(3);
        let gw = start(config).await;
        let addr = gw.addr();

        // 300 silent connections, held open by the client
        let flood = tokio::spawn(async move {
            let mut held = Vec::new();
            for _ in 0..300 {
                if let Ok(s) = TcpStream::connect(addr).await {
                    held.push(s);
                }
            }
            held
        });
        // meanwhile, 20 real clients, each on a new connection
        let fresh = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()
            .unwrap();
        let mut real = Vec::new();
        for i in 0..20u64 {
            let fresh = fresh.clone();
            let url = format!("{}/verify", gw.url());
            real.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 15)).await;
                let r = fresh
                    .get(url)
                    .header("x-forwarded-method", "GET")
                    .header("x-forwarded-uri", "/public/x")
                    .send()
                    .await;
                r.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
            }));
        }
        let held = flood.await.unwrap();
        for (i, r) in real.into_iter().enumerate() {
            assert_eq!(r.await.unwrap(), Ok(200), "real client {i}");
        }
        // and after the flood
        let r = client()
            .get(format!("{}/verify", gw.url()))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-uri", "/public/x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        let shed = metric(&gw, "tollgate_connections_shed_total{listener=\"gateway\"}").await;
        assert!(shed > 0, "nothing shed");
        assert!(metric(&gw, "tollgate_open_connections{listener=\"gateway\"}").await <= 64 + 2);
        assert_eq!(
            metric(&gw, "tollgate_connection_limit{listener=\"gateway\"}").await,
            64
        );
        // the silent ones left are closed by the header timer: back to (near) zero
        let deadline = Instant::now() + Duration::from_secs(3) + MARGIN + MARGIN;
        loop {
            let open = metric(&gw, "tollgate_open_connections{listener=\"gateway\"}").await;
            if open <= 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{open} connections still open");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // every silent connection was shed, timed out or refused
        let shed = metric(&gw, "tollgate_connections_shed_total{listener=\"gateway\"}").await;
        let timed_out = metric(
            &gw,
            "tollgate_connections_timed_out_total{listener=\"gateway\"}",
        )
        .await;
        let refused = metric(
            &gw,
            "tollgate_connections_refused_total{listener=\"gateway\"}",
        )
        .await;
        assert!(
            shed + timed_out + refused >= held.len() as u64 - 2,
            "shed {shed} + timed out {timed_out} + refused {refused} < {}",
            held.len()
        );
        drop(held);
        gw.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn at_the_admin_cap_a_scrape_still_gets_through() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let keys = LocalKeys::new();
        let mut config = config(&keys, None);
        config.header_read_timeout = Duration::from_secs(5);
        let gw = start(config).await;
        let admin = gw.admin_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(TcpStream::connect(admin).await.unwrap());
        }
        let r = client()
            .get(format!("{}/healthz", gw.admin_url().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(metric(&gw, "tollgate_connections_shed_total{listener=\"admin\"}").await >= 30);
        assert!(metric(&gw, "tollgate_open_connections{listener=\"admin\"}").await <= 64 + 2);
        drop(held);
        gw.shutdown().await;
    })
    .await
    .unwrap();
}
