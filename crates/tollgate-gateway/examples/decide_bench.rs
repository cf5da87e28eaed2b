//! The gateway's decision alone, in process (no HTTP, no sockets): what a request costs
//! inside [`Decider::decide`](tollgate_gateway::decision::Decider::decide) for an
//! anonymous route, a fresh valid token, a reused one and refused ones, beside the
//! library's own `validate::validate` of the same fresh tokens (decode, signature, claims).
//! The difference between "fresh" and "library validate" is the gateway's own work on a
//! token's first sighting (cache key and insert, identity, binding checks, log line).
//!
//! ```text
//! cargo run --release -p tollgate-gateway --example decide_bench -- [N] [ALG] [ROUNDS]
//! ```
//!
//! Cases alternate in rounds of N requests each (so drift on a shared machine spreads over
//! all of them); the table shows each case's median time per request over the rounds.
//! Every decision's log line is formatted (tracing's fmt layer, as `tollgate serve` uses)
//! into a sink, unless `LOG=0`. `CASES=fresh,reused` runs only the cases named (to profile one).

use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;
use tollgate::{JwkSet, Policy};
use tollgate_gateway::{Config, Gateway};
use tollgate_issuer::{DevIssuer, IssuerOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(20_000, |a| a.parse().expect("N"));
    let alg = args
        .next()
        .unwrap_or_else(|| "RS256".into())
        .parse()
        .expect("an algorithm such as RS256, ES256, EdDSA");
    let rounds: usize = args.next().map_or(7, |a| a.parse().expect("ROUNDS"));
    if std::env::var("LOG").as_deref() != Ok("0") {
        tracing_subscriber::fmt()
            .with_env_filter("warn,tollgate::decision=info")
            .with_writer(std::io::sink)
            .init();
    }

    let issuer = DevIssuer::start(IssuerOptions {
        audience: "api://bench".into(),
        alg,
        ..IssuerOptions::default()
    })
    .await
    .expect("the dev issuer starts");
    // The HTTP bench's configuration (bench/gateway.toml), without its listen addresses.
    let config = Config::from_toml_str(
        &include_str!("../../../bench/gateway.toml").replace("ISSUER_URL", &issuer.url()),
    )
    .expect("configuration");
    let gateway = Gateway::new(config).expect("gateway");
    let decider = gateway.decider();
    let keys = JwkSet::from_value(&issuer.jwks()).expect("keys");
    let policy = Policy::new().issuer(issuer.url()).audience("api://bench");

    eprintln!(
        "decide_bench: minting {} tokens ({alg})...",
        n * (rounds + 1)
    );
    let fresh: Vec<String> = (0..n * (rounds + 1))
        .map(|i| issuer.mint(json!({}), json!({"jti": format!("bench-{i}")})))
        .collect();
    let reused = issuer.token();
    let bad: Vec<String> = fresh[..n]
        .iter()
        .map(|t| {
            let at = t.rfind('.').unwrap() + 10;
            let mut b = t.clone().into_bytes();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        })
        .collect();

    let headers_for = |token: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    };
    let bad_headers: Vec<HeaderMap> = bad.iter().map(|t| headers_for(t)).collect();
    let reused_headers = headers_for(&reused);
    let none = HeaderMap::new();
    let get = Method::GET;
    // Warm up: keys fetched, caches primed.
    for t in &fresh[n * rounds..] {
        assert!(decider
            .decide(&get, "/orders/42", &headers_for(t))
            .await
            .allowed());
    }
    assert!(decider.decide(&get, "/public/x", &none).await.allowed());
    let now = tollgate::Clock::now(&tollgate::SystemClock);

    let all = [
        "anonymous",
        "reused",
        "library validate",
        "fresh",
        "bad signature",
    ];
    // `CASES=fresh,reused` runs only those (for a profile of one path).
    let only = std::env::var("CASES").ok();
    let cases: Vec<&str> = all
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| x == *c))
        })
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        let share = &fresh[round * n..(round + 1) * n];
        // Header maps are built outside the timed loop.
        let fresh_headers: Vec<HeaderMap> = share.iter().map(|t| headers_for(t)).collect();
        for (c, case) in cases
            .iter()
            .enumerate()
            .cycle()
            .skip(round)
            .take(cases.len())
        {
            let started = Instant::now();
            match *case {
                "anonymous" => {
                    for _ in 0..n {
                        let d = decider.decide(&get, "/public/logo.png", &none).await;
                        assert!(d.allowed());
                    }
                }
                "reused" => {
                    for _ in 0..n {
                        let d = decider.decide(&get, "/orders/42", &reused_headers).await;
                        assert!(d.allowed());
                    }
                }
                "library validate" => {
                    for t in share {
                        let v = tollgate::validate::validate(t, &keys, &policy, now);
                        assert!(v.is_ok());
                    }
                }
                "fresh" => {
                    // Library validate ran on these tokens: the gateway has never seen them.
                    for h in &fresh_headers {
                        let d = decider.decide(&get, "/orders/42", h).await;
                        assert!(d.allowed());
                    }
                }
                _ => {
                    for h in &bad_headers {
                        let d = decider.decide(&get, "/orders/42", h).await;
                        assert_eq!(d.code, "signature_invalid");
                    }
                }
            }
            times[c].push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("decide_bench: {alg}, {rounds} rounds x {n} requests per case, median µs per request");
    println!("| case | µs/request |");
    println!("|---|---:|");
    let mut medians = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        let m = median(&mut times[c]);
        medians.push(m);
        println!("| {case} | {m:.2} |");
    }
    let of = |name: &str| cases.iter().position(|c| *c == name).map(|i| medians[i]);
    if let (Some(lib), Some(fresh), Some(bad)) =
        (of("library validate"), of("fresh"), of("bad signature"))
    {
        println!(
            "gateway's own work on a fresh token (fresh - library validate): {:.2} µs; on a refused one (bad signature - library validate): {:.2} µs",
            fresh - lib,
            bad - lib
        );
    }
    issuer.shutdown().await;
}
