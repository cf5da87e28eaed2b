//! The issuer side of `bench/gateway.sh`: starts a dev issuer on loopback, writes its URL,
//! one reusable token and N distinct fresh tokens into a directory, then serves until its
//! standard input closes (the script holds it open and kills the process at the end).
//!
//! ```text
//! cargo run --release -p tollgate-gateway --example bench_issuer -- DIR N [ALG]
//! ```

use std::io::Read;
use std::io::Write;

use serde_json::json;
use tollgate_issuer::{DevIssuer, IssuerOptions};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_issuer DIR N [ALG]");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let alg = args
        .next()
        .unwrap_or_else(|| "ES256".into())
        .parse()
        .expect("a signing algorithm such as ES256, RS256, EdDSA");
    let issuer = DevIssuer::start(IssuerOptions {
        audience: "api://bench".into(),
        alg,
        ..IssuerOptions::default()
    })
    .await
    .expect("the dev issuer starts");
    let dir = std::path::Path::new(&dir);
    std::fs::write(dir.join("valid_token"), issuer.token()).unwrap();

    // Distinct tokens (each has its own jti), minted on every core.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let issuer = issuer.clone();
                s.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| issuer.mint(json!({}), json!({"jti": format!("bench-{i}")})))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("tokens.txt")).unwrap());
    for token in chunks.iter().flatten() {
        writeln!(out, "{token}").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    // The URL last: the script waits for this file.
    std::fs::write(dir.join("issuer_url"), issuer.url()).unwrap();
    eprintln!("bench_issuer: {} tokens ({alg}) for {}", n, issuer.url());

    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    issuer.shutdown().await;
}
