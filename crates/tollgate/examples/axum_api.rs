//! An axum API protected by Tollgate: a public route, a protected route and a
//! scope-protected route, validating tokens from an OpenID Connect issuer.
//!
//! Run it against the dev issuer:
//!
//! ```text
//! # terminal 1: an issuer on http://127.0.0.1:8080 that knows the orders scopes
//! tollgate issuer --scope orders.read --scope orders.write
//!
//! # terminal 2: this API on http://127.0.0.1:3000
//! cargo run -p tollgate --example axum_api --features tower -- --issuer http://127.0.0.1:8080
//!
//! # terminal 3: call it
//! TOKEN=$(curl -s -u dev:dev-secret -d grant_type=client_credentials -d scope=orders.read \
//!   http://127.0.0.1:8080/token | jq -r .access_token)
//! curl -i http://127.0.0.1:3000/public                                    # 200
//! curl -i http://127.0.0.1:3000/me                                        # 401 missing_token
//! curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me      # 200, your claims
//! curl -i -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//!                                                    # 403 insufficient_scope (orders.write)
//! ```
//!
//! Options (flags win over environment variables):
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--issuer URL` | `TOLLGATE_ISSUER` | `http://127.0.0.1:8080` |
//! | `--audience AUD` | `TOLLGATE_AUDIENCE` | `api://default` |
//! | `--listen ADDR` | `TOLLGATE_LISTEN` | `127.0.0.1:3000` |

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate::tower::{Claims, JwtLayer, RequireScope};
use tollgate::{IssuerConfig, Policy, Validator};

/// The claims this API reads. Unknown claims are ignored; a token without `sub` is refused
/// with 401 `invalid_claim`.
#[derive(Debug, Deserialize)]
struct UserClaims {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    client_id: Option<String>,
}

async fn public() -> Json<Value> {
    Json(json!({"message": "anyone can read this"}))
}

async fn me(Claims(user): Claims<UserClaims>) -> Json<Value> {
    Json(json!({
        "sub": user.sub,
        "client_id": user.client_id,
        "scopes": user.scope.split_whitespace().collect::<Vec<_>>(),
    }))
}

async fn create_order(Claims(user): Claims<UserClaims>) -> Json<Value> {
    Json(json!({"order": "created", "by": user.sub}))
}

/// The API: `/public` is open; everything merged from `protected` needs a valid token, and
/// `POST /orders` also needs the `orders.write` scope.
fn app(validator: Validator) -> Router {
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            post(create_order).layer(RequireScope::new("orders.write")),
        )
        .layer(JwtLayer::new(validator).on_rejected(|r| {
            // One line per refusal, with the stable code and, for a rejected token, the
            // doctor's most likely cause; the token is never in a Rejection.
            eprintln!(
                "refused {} {} -> {} {}",
                r.method,
                r.path,
                r.status().as_u16(),
                r.code()
            );
            if let Some(cause) = &r.cause {
                eprintln!("  likely cause [{}]: {}", cause.id, cause.fix);
            }
        }));
    Router::new().route("/public", get(public)).merge(protected)
}

struct Settings {
    issuer: String,
    audience: String,
    listen: SocketAddr,
}

fn settings() -> Result<Settings, String> {
    let mut issuer = std::env::var("TOLLGATE_ISSUER").unwrap_or("http://127.0.0.1:8080".into());
    let mut audience = std::env::var("TOLLGATE_AUDIENCE").unwrap_or("api://default".into());
    let mut listen = std::env::var("TOLLGATE_LISTEN").unwrap_or("127.0.0.1:3000".into());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let target = match flag.as_str() {
            "--issuer" => &mut issuer,
            "--audience" => &mut audience,
            "--listen" => &mut listen,
            "-h" | "--help" => {
                return Err(
                    "usage: axum_api [--issuer URL] [--audience AUD] [--listen ADDR]".into(),
                )
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        };
        *target = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    }
    let listen = listen
        .parse()
        .map_err(|e| format!("--listen {listen:?} is not an address like 127.0.0.1:3000: {e}"))?;
    Ok(Settings {
        issuer,
        audience,
        listen,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let validator = match Validator::new(vec![IssuerConfig::discovery(&settings.issuer)
        .policy(Policy::new().audience(&settings.audience))])
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("invalid issuer configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // Load the keys now so the first request does not wait; failures are retried in the
    // background and requests get 503 + Retry-After until keys arrive.
    validator.refresh_all().await;
    if !validator.is_ready() {
        eprintln!(
            "warning: no keys from {} yet (is `tollgate issuer` running?); requests get 503 until they arrive",
            settings.issuer
        );
    }

    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", settings.listen);
            return ExitCode::from(1);
        }
    };
    println!(
        "axum_api on http://{} (issuer {}, audience {})",
        settings.listen, settings.issuer, settings.audience
    );
    println!("  GET  /public  open");
    println!("  GET  /me      needs a valid token");
    println!("  POST /orders  needs scope orders.write");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app(validator))
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
