//! A short paired benchmark: what a DPoP request costs against a Bearer request through
//! `tollgate serve` (forward-auth, `GET /verify`), in one process and one run.
//!
//! Both cases send one reused access token (so its validation is a cache hit in both); the
//! DPoP case adds what every DPoP request costs: reading the `DPoP` header, checking a fresh
//! ES256 proof (signature, `htm`, `htu`, `iat`, `ath`, `cnf.jkt`) and recording its `jti`
//! in the in-memory replay cache. Rounds alternate the order of the two cases, and the ratio
//! is taken inside each round, so load that drifts on a shared machine cancels out.
//!
//! ```sh
//! cargo run --release -p tollgate-gateway --example dpop_bench        # ROUNDS=7 REQUESTS=4000 CONCURRENCY=16
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tollgate::{jwk::thumbprint_of, jws, Algorithm, SigningKey};
use tollgate_gateway::{Config, Gateway};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends `requests` requests (the i-th with `headers(i)`) with `concurrency` in flight;
/// returns requests per second, after checking every answer was 200.
async fn run(
    http: &reqwest::Client,
    url: &str,
    requests: usize,
    concurrency: usize,
    headers: &(dyn Fn(usize) -> Vec<(&'static str, String)> + Sync),
) -> f64 {
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..requests)
        .map(|i| {
            let mut req = http
                .get(url)
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", "/orders/42")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "api.example.com");
            for (k, v) in headers(i) {
                req = req.header(k, v);
            }
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let bad = statuses.iter().filter(|s| **s != 200).count();
    assert_eq!(bad, 0, "{bad} requests were not allowed");
    requests as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = env("ROUNDS", 7);
    let requests = env("REQUESTS", 4000);
    let concurrency = env("CONCURRENCY", 16);

    let issuer_key = SigningKey::generate(Algorithm::RS256, "k1").unwrap();
    let client_key = SigningKey::generate(Algorithm::ES256, "").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [issuer_key.public_jwk()]}).to_string(),
    )
    .unwrap();
    let config = Config::from_toml_str(&format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"\"\n[[issuer]]\nissuer = \"https://idp.example\"\njwks_file = \"{}\"\naudiences = [\"api\"]\n[[route]]\npath = \"/\"\n[headers]\nX-Auth-Subject = \"sub\"\n[log]\nlevel = \"warn\"\n",
        jwks.display()
    ))
    .unwrap();
    let gw = Gateway::new(config).unwrap().serve().await.unwrap();
    let url = format!("{}/verify", gw.url());
    let now = tollgate::clock::unix_now();
    let claims = |cnf: Option<String>| {
        let mut c =
            json!({"iss": "https://idp.example", "aud": "api", "sub": "alice", "exp": now + 3600});
        if let Some(jkt) = cnf {
            c["cnf"] = json!({"jkt": jkt});
        }
        jws::sign(&json!({"typ": "at+jwt"}), &c, &issuer_key).unwrap()
    };
    let bearer = claims(None);
    let bound = claims(Some(thumbprint_of(&client_key.public_jwk()).unwrap()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let bearer_headers = |_: usize| vec![("authorization", format!("Bearer {bearer}"))];

    // Warm-up: connections, the token cache.
    run(&http, &url, 500, concurrency, &bearer_headers).await;
    let mut ratios = Vec::new();
    let (mut b_all, mut d_all) = (Vec::new(), Vec::new());
    println!("round  bearer req/s  dpop req/s  dpop/bearer");
    for round in 0..rounds {
        // Fresh proofs for this round (each used once; made before the clock starts).
        let now = tollgate::clock::unix_now();
        let proofs: Vec<String> = (0..requests)
            .map(|_| {
                tollgate::dpop::make_proof(
                    &client_key,
                    "GET",
                    "https://api.example.com/orders/42",
                    Some(&bound),
                    now,
                )
                .unwrap()
            })
            .collect();
        let dpop_headers = |i: usize| {
            vec![
                ("authorization", format!("DPoP {bound}")),
                ("dpop", proofs[i].clone()),
            ]
        };
        let (b, d) = if round % 2 == 0 {
            let b = run(&http, &url, requests, concurrency, &bearer_headers).await;
            let d = run(&http, &url, requests, concurrency, &dpop_headers).await;
            (b, d)
        } else {
            let d = run(&http, &url, requests, concurrency, &dpop_headers).await;
            let b = run(&http, &url, requests, concurrency, &bearer_headers).await;
            (b, d)
        };
        println!("{round:>5}  {b:>12.0}  {d:>10.0}  {:>11.2}", d / b);
        ratios.push(d / b);
        b_all.push(b);
        d_all.push(d);
    }
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
    println!(
        "median: bearer {:.0} req/s, dpop {:.0} req/s, dpop/bearer {:.2}x (range {lo:.2}-{hi:.2}, {rounds} rounds of {requests} requests, {concurrency} in flight)",
        median(b_all),
        median(d_all),
        median(ratios.clone())
    );
    gw.shutdown().await;
}
