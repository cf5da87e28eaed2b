//! The running gateway: listeners, routers, graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tollgate::{Clock, SystemClock, TokenValidator, Validator};

use crate::config::Config;
use crate::connections::{self, Limits};
use crate::decision::Decider;
use crate::metrics::{self, Metrics};
use crate::proxy::{self, UpstreamClient};
use crate::{admin, forward_auth, listener};

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) decider: Decider,
    pub(crate) validator: Arc<dyn TokenValidator>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) client: UpstreamClient,
}

/// Why the gateway could not be built or started.
#[derive(Debug)]
pub enum GatewayError {
    /// The issuers could not be set up (e.g. an http:// URL off loopback).
    Issuers(String),
    /// A listener could not be bound.
    Bind {
        /// Which listener (`listen` or `admin_listen`).
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The error.
        error: io::Error,
    },
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayError::Issuers(e) => write!(f, "cannot set up the issuers: {e}"),
            GatewayError::Bind { what, addr, error } => write!(
                f,
                "cannot listen on {addr} ({what}): {error}; choose another address with `{what} = \"127.0.0.1:PORT\"`"
            ),
        }
    }
}

impl std::error::Error for GatewayError {}

/// The gateway, built from a [`Config`]; [`Gateway::serve`] starts it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tollgate_gateway::{Config, Gateway};
/// let config = Config::from_file("gateway.toml")?;
/// let running = Gateway::new(config)?.serve().await?;
/// println!("listening on {}", running.addr());
/// running.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Gateway {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.shared.config.listen)
            .finish_non_exhaustive()
    }
}

/// The library's validator for the configured issuers: each `[[issuer]]` is already the
/// library's `IssuerConfig` (key source, policy, key-cache options).
pub fn validator_for(config: &Config) -> Result<Validator, GatewayError> {
    Validator::new(config.issuers.clone()).map_err(|e| GatewayError::Issuers(e.to_string()))
}

impl Gateway {
    /// A gateway for `config`, with keys as the configuration says.
    pub fn new(config: Config) -> Result<Gateway, GatewayError> {
        let validator = validator_for(&config)?;
        Ok(Gateway::with_validator(
            config,
            Arc::new(validator),
            Arc::new(SystemClock),
        ))
    }

    /// A gateway deciding with `validator` (any [`TokenValidator`]: the library's remote
    /// `Validator`, a `LocalValidator`, or a wrapper), timing its token cache with `clock`.
    pub fn with_validator(
        config: Config,
        validator: Arc<dyn TokenValidator>,
        clock: Arc<dyn Clock>,
    ) -> Gateway {
        let metrics = Arc::new(Metrics::new(
            config.routes.iter().map(|r| r.name.clone()).collect(),
        ));
        let decider = Decider::new(&config, validator.clone(), metrics.clone(), clock);
        Gateway {
            shared: Arc::new(Shared {
                config,
                decider,
                validator,
                metrics,
                client: proxy::client(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// True when every issuer has usable keys (what `/readyz` says).
    pub fn is_ready(&self) -> bool {
        self.shared.validator.is_ready()
    }

    /// The decision maker (for in-process use and tests).
    pub fn decider(&self) -> &Decider {
        &self.shared.decider
    }

    /// The gateway's router (the admin endpoints excluded).
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        if shared.config.upstream.is_some() {
            Router::new().fallback(proxy::proxy).with_state(shared)
        } else {
            let path = shared.config.verify_path.clone();
            Router::new()
                .route(&path, any(forward_auth::verify))
                .with_state(shared)
        }
    }

    /// The admin router, with the doctor page when the configured admin address is on
    /// loopback.
    pub fn admin_router(&self) -> Router {
        admin::router(self.shared.clone(), self.shared.config.admin_listen)
    }

    /// Binds the configured listeners and starts serving.
    pub async fn serve(self) -> Result<RunningGateway, GatewayError> {
        let listen = self.shared.config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|error| GatewayError::Bind {
                what: "listen",
                addr: listen,
                error,
            })?;
        let admin = match self.shared.config.admin_listen {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|error| GatewayError::Bind {
                            what: "admin_listen",
                            addr,
                            error,
                        })?,
                )
            }
            None => None,
        };
        Ok(self.serve_on(listener, admin))
    }

    /// Starts serving on listeners bound by the caller.
    pub fn serve_on(self, listener: TcpListener, admin: Option<TcpListener>) -> RunningGateway {
        let (tx, rx) = watch::channel(false);
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
        let mut tasks = Vec::new();

        let config = &self.shared.config;
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| {
                connections::derive_max_connections(
                    connections::open_files_limit(),
                    config.upstream.is_some(),
                )
            })
            .max(1);
        let limits = Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections,
        };
        tasks.push(tokio::spawn(listener::serve(
            listener,
            self.router(),
            limits,
            self.shared.metrics.clone(),
            metrics::Listener::Gateway,
            rx.clone(),
        )));
        if let Some(admin) = admin {
            let admin_limits = Limits {
                max_connections: connections::ADMIN_MAX_CONNECTIONS,
                ..limits
            };
            tasks.push(tokio::spawn(listener::serve(
                admin,
                admin::router(self.shared.clone(), admin_addr),
                admin_limits,
                self.shared.metrics.clone(),
                metrics::Listener::Admin,
                rx.clone(),
            )));
        }
        let validator = self.shared.validator.clone();
        let maintenance = tokio::spawn(async move { validator.maintain().await });
        for issuer in &self.shared.config.issuers {
            if issuer.policy.tenants.is_empty()
                && issuer.names().any(|n| tollgate::claims::is_template(n))
            {
                // Once per start: a multi-tenant issuer without `tenants` is a choice to make
                // knowingly (the API must then authorize by the `tid` identity header).
                tracing::warn!(
                    target: "tollgate::serve",
                    issuer = %issuer.issuer,
                    "every tenant is accepted for this {{tenantid}} issuer: any Entra ID organisation's tokens for this API pass; set `tenants = [...]` to restrict them, or authorize by tenant in the API (the tid claim)"
                );
            }
        }

        tracing::info!(
            target: "tollgate::serve",
            %addr,
            admin = admin_addr.map(|a| a.to_string()).unwrap_or_default(),
            mode = if self.shared.config.upstream.is_some() { "reverse-proxy" } else { "forward-auth" },
            max_connections,
            "gateway listening"
        );
        RunningGateway {
            addr,
            admin_addr,
            stop: tx,
            tasks,
            maintenance,
            grace: self.shared.config.shutdown_grace,
            gateway: self,
        }
    }
}

/// A gateway that is serving; dropping it does not stop it, [`RunningGateway::shutdown`]
/// does.
pub struct RunningGateway {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
    maintenance: JoinHandle<()>,
    grace: Duration,
    gateway: Gateway,
}

impl std::fmt::Debug for RunningGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGateway")
            .field("addr", &self.addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

impl RunningGateway {
    /// The gateway's bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The admin listener's bound address, if any.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }
    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `http://{admin_addr}`, if any.
    pub fn admin_url(&self) -> Option<String> {
        self.admin_addr.map(|a| format!("http://{a}"))
    }
    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Stops accepting connections, lets in-flight requests finish (up to the configured
    /// grace period), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.maintenance.abort();
        let grace = self.grace;
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                target: "tollgate::serve",
                grace_secs = grace.as_secs(),
                "in-flight requests did not finish within the grace period; stopping anyway"
            );
        }
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!(target: "tollgate::serve", "shutting down: finishing in-flight requests");
        self.shutdown().await;
    }
}
