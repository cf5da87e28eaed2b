//! # Tollgate
//!
//! Validate JWT bearer tokens (OAuth 2.0 / OpenID Connect access tokens, RFC 9068), and when
//! one is rejected, say exactly why and how to fix it.
//!
//! - keys come from your identity provider by OIDC discovery or a JWKS URL, cached across
//!   rotations and outages ([`Validator`], feature `remote`), or from a fixed key set
//!   ([`LocalValidator`]);
//! - every rejection is a typed [`ValidationError`] with a stable [`code`](ValidationError::code),
//!   the expected and found values, a likely [`cause`](ValidationError::cause) and a
//!   [`fix`](ValidationError::fix);
//! - an axum/tower layer protects a service in a few lines ([`tower`], feature
//!   `tower`), answering like the `tollgate serve` gateway ([`challenge`]).
//!
//! ## Quick start: protect an axum API
//!
//! ```toml
//! [dependencies]
//! tollgate = { version = "0.1", features = ["tower"] }
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "tower")]
//! # mod quick_start {
//! use axum::{routing::{get, post}, Router};
//! use serde::Deserialize;
//! use tollgate::tower::{Claims, JwtLayer, RequireScope};
//! use tollgate::{IssuerConfig, Policy, Validator};
//!
//! #[derive(Deserialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! async fn me(Claims(user): Claims<User>) -> String {
//!     format!("hello {}", user.sub)
//! }
//!
//! pub async fn main() {
//!     // Keys by OIDC discovery; tokens must be issued for this API's audience.
//!     let validator = Validator::new(vec![
//!         IssuerConfig::discovery("https://login.example.com/")
//!             .policy(Policy::new().audience("api://orders")),
//!     ])
//!     .unwrap();
//!
//!     let protected = Router::new()
//!         .route("/me", get(me))
//!         .route("/orders", post(|| async { "created" }).layer(RequireScope::new("orders.write")))
//!         .layer(JwtLayer::new(validator).on_rejected(|r| eprintln!("{} {}: {}", r.method, r.path, r.code())));
//!     let app = Router::new().route("/health", get(|| async { "ok" })).merge(protected);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! # }
//! ```
//!
//! A request without a token gets `401` and `WWW-Authenticate: Bearer realm="tollgate"`; an
//! expired one `401` with `error="invalid_token", error_description="expired: the token
//! expired 3 min 20 s ago (...)"`; a token without `orders.write` on `POST /orders` gets `403`
//! `insufficient_scope`; when the issuer's keys cannot be fetched, `503` with `Retry-After`.
//! Every refusal has a small JSON body with the stable code. `examples/axum_api.rs` is a
//! complete API to run against `tollgate issuer`.
//!
//! ## Validate a token yourself
//!
//! ```
//! use serde_json::json;
//! use tollgate::{jws, Algorithm, JwkSet, LocalValidator, Policy, SigningKey};
//!
//! // An issuer's key (in real life: its JWKS).
//! let key = SigningKey::generate(Algorithm::RS256, "2024-01").unwrap();
//! let jwks = json!({"keys": [key.public_jwk()]});
//!
//! let validator = LocalValidator::new(
//!     JwkSet::from_value(&jwks).unwrap(),
//!     Policy::new().issuer("https://login.example.com/").audience("api://orders"),
//! );
//! let token = jws::sign(
//!     &json!({"typ": "at+jwt"}),
//!     &json!({"iss": "https://login.example.com/", "aud": "orders", "exp": 4_000_000_000u64}),
//!     &key,
//! ).unwrap();
//! let err = validator.validate(&token).unwrap_err();
//! assert_eq!(err.code(), "audience_mismatch");
//! println!("{err}"); // the audience "orders" is not accepted; expected "api://orders"
//! println!("likely cause: {}", err.cause());
//! println!("fix: {}", err.fix());
//! ```
//!
//! With keys from an issuer, [`Validator::validate`] is the same call, `async`, and answers
//! `keys_unavailable` ("cannot verify now", [`ValidationError::is_unavailable`]) instead of
//! hanging when the identity provider is down.
//!
//! ## Feature flags
//!
//! | feature | default | what it adds | dependencies |
//! |---|---|---|---|
//! | `remote` | yes | [`Validator`]: OIDC discovery, JWKS fetching, the rotating key cache ([`keys`]) | tokio, reqwest (rustls), arc-swap, futures |
//! | `tower` | no | [`tower`]: `JwtLayer`, the `Claims<T>` extractor, `RequireScope`/`RequireRole` (implies `remote`) | tower, http, axum, bytes |
//!
//! Without default features the library is synchronous and does no I/O: [`LocalValidator`],
//! [`jws`], [`jwk`], [`claims`], [`challenge`] and [`error`] only.
//!
//! ## Modules
//!
//! Modules follow the data, lowest first:
//!
//! | module | what it holds |
//! |---|---|
//! | [`b64`], [`json`] | the strict readers every token part goes through: base64url without padding or non-canonical bits, JSON without duplicate member names |
//! | [`alg`] | the JWS algorithms, key families and curves ([`Algorithm`]) |
//! | [`jws`] | reading and signing compact tokens |
//! | [`jwk`] | parsing keys and key sets ([`JwkSet`]) |
//! | `crypto` | the one seam to `aws-lc-rs` ([`SigningKey`], [`KeyError`]) |
//! | [`claims`] | the claims of a token and the [`Policy`] they must meet |
//! | [`clock`] | injectable time, and how times and durations are worded |
//! | [`validate`] | the pipeline: [`LocalValidator`], [`Verified`] |
//! | [`error`] | the failure vocabulary: [`ValidationError`], [`ErrorCode`] |
//! | [`challenge`] | turning a failure into an HTTP answer (`WWW-Authenticate`, status, body) |
//! | [`doctor`] | explaining a rejection: checks, ranked causes, provider knowledge |
//! | [`text`] | client-chosen values cut and escaped before they reach a log line or a message |
//! | [`keys`], [`validator`] (feature `remote`) | fetching and caching issuers' keys; [`Validator`] picks each token's issuer |
//! | [`introspection`] (feature `remote`) | opaque tokens: RFC 7662 introspection per issuer, cached by token hash, one call per token in flight |
//! | [`tower`] (feature `tower`) | the layer and the extractors |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alg;
pub mod b64;
#[cfg(feature = "remote")]
pub mod binding;
pub mod challenge;
pub mod claims;
pub mod clock;
mod crypto;
pub mod doctor;
#[cfg(feature = "remote")]
pub mod dpop;
pub mod error;
#[cfg(feature = "remote")]
pub mod introspection;
pub mod json;
pub mod jwk;
pub mod jws;
#[cfg(feature = "remote")]
pub mod keys;
pub mod text;
#[cfg(feature = "tower")]
pub mod tower;
pub mod validate;
#[cfg(feature = "remote")]
pub mod validator;

pub use alg::{Algorithm, Curve, KeyFamily};
pub use claims::{Claims, Policy, TypPolicy};
pub use clock::{Clock, FixedClock, SystemClock};
pub use crypto::{random_bytes, sha256, KeyError, SigningKey};
pub use error::{ErrorCode, TokenPart, ValidationError};
pub use jwk::{Jwk, JwkError, JwkSet, SkippedKey};
#[cfg(feature = "remote")]
pub use keys::{CacheOptions, IssuerConfig};
pub use validate::{LocalValidator, Verified};
#[cfg(feature = "remote")]
pub use validator::{ConfigError, TokenValidator, Validator};
