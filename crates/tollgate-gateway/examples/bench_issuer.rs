//! The issuer side of `bench/gateway.sh`: starts a dev issuer on loopback, writes its URL,
//! one reusable token and N distinct fresh tokens into a directory, plus M distinct refused
//! tokens of each kind (bad signature with a valid kid, expired, unknown kid), then serves
//! until its standard input closes (the script holds it open and kills the process at the
//! end).
//!
//! ```text
//! cargo run --release -p tollgate-gateway --example bench_issuer -- DIR N [ALG [M]]
//! ```
//!
//! Files: `issuer_url` (written last), `valid_token`, `tokens.txt` (fresh, valid),
//! `bad_signature.txt`, `expired.txt`, `unknown_kid.txt`, one token a line.

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
    let m: usize = args
        .next()
        .map_or(20_000, |m| m.parse().expect("M is a number"));
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let kinds: [(&str, usize); 4] = [
        ("tokens.txt", n),
        ("bad_signature.txt", m),
        ("expired.txt", m),
        ("unknown_kid.txt", m),
    ];
    for (file, count) in kinds {
        let mint = |i: usize| match file {
            "bad_signature.txt" => {
                // The right kid, the signature altered in its middle (still canonical
                // base64url, so the token is read and the signature checked).
                let t = issuer.mint(json!({}), json!({"jti": format!("bad-{i}")}));
                let at = t.rfind('.').unwrap() + 10;
                let mut b = t.into_bytes();
                b[at] = if b[at] == b'A' { b'B' } else { b'A' };
                String::from_utf8(b).unwrap()
            }
            "expired.txt" => issuer.mint(
                json!({}),
                json!({"jti": format!("expired-{i}"), "iat": now - 7200, "exp": now - 3600}),
            ),
            "unknown_kid.txt" => issuer.mint(
                json!({"kid": format!("unknown-{}", i % 64)}),
                json!({"jti": format!("unknown-{i}")}),
            ),
            _ => issuer.mint(json!({}), json!({"jti": format!("bench-{i}")})),
        };
        write_tokens(dir, file, count, &mint);
    }
    // The URL last: the script waits for this file.
    std::fs::write(dir.join("issuer_url"), issuer.url()).unwrap();
    eprintln!(
        "bench_issuer: {n} fresh tokens, {m} of each refused kind ({alg}) for {}",
        issuer.url()
    );

    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    issuer.shutdown().await;
}

/// Mints `count` tokens with `mint` on every core and writes them to `dir/file`.
fn write_tokens(
    dir: &std::path::Path,
    file: &str,
    count: usize,
    mint: &(dyn Fn(usize) -> String + Sync),
) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t..count).step_by(threads).map(mint).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(file)).unwrap());
    for token in chunks.iter().flatten() {
        writeln!(out, "{token}").unwrap();
    }
    out.flush().unwrap();
}
