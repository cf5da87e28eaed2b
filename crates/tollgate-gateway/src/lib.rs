//! # tollgate-gateway
//!
//! `tollgate serve`: Tollgate's validation and diagnosis in front of any API, without code.
//! Beside nginx, Traefik or Caddy it answers their forward-auth subrequests at `/verify`;
//! with `upstream = "http://..."` it is a reverse proxy that streams allowed requests on.
//!
//! The flow of one request: the [`request_policy`] refuses what other servers could read
//! differently (400), [`routes`] picks the first `[[route]]` that matches (none: denied) -> [`decision`] reads the bearer token, finds it in the verified-token
//! [`cache`] or validates it once through the library's [`TokenValidator`] -> checks the route's
//! requirements -> sets the identity headers. [`metrics`] counts every decision by its
//! stable code (the library's `ValidationError::code()` plus a few gateway codes); refusals
//! are answered with the library's RFC 6750 mapping (`tollgate::challenge`). [`config`]
//! reads the TOML file; [`dev`] is `tollgate serve --dev`. [`connections`] bounds what
//! clients can hold open: a header timer from accept, an idle timeout, a cap per listener.
//! [`web`] is the doctor's page (on the admin listener, and `tollgate doctor --web`);
//! [`recent`] keeps the last refusals it lists.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = tollgate_gateway::Config::from_file("gateway.toml")?;
//! let running = tollgate_gateway::Gateway::new(config)?.serve().await?;
//! running.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod admin;
pub mod cache;
pub mod codes;
pub mod config;
pub mod connections;
pub mod decision;
pub mod dev;
pub mod diagnosis;
mod forward_auth;
mod listener;
pub mod metrics;
mod proxy;
pub mod recent;
pub mod refusals;
pub mod request_policy;
pub mod routes;
mod server;
pub mod web;

pub use config::{Config, ConfigError};
pub use decision::{Decider, Decision, Identity};
pub use server::{validator_for, Gateway, GatewayError, RunningGateway};
/// The validating service the gateway calls (the library's, shared with the tower layer).
pub use tollgate::TokenValidator;
