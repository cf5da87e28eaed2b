//! The doctor's web page: one home for the page (HTML, CSS and JavaScript embedded in the
//! binary) and the small JSON API behind it, served by `tollgate doctor --web` (a loopback
//! listener of its own) and by the gateway's admin listener (`/doctor`, with the
//! expectations prefilled from its `[[issuer]]`s and its recent refusals).
//!
//! The page renders the doctor's JSON report (`tollgate::doctor::Report`) and the stack
//! snippets (`tollgate::doctor::stack`); it computes no diagnosis. Routes, all under
//! [`BASE`]:
//!
//! - `GET /doctor`, `/doctor/page.js`, `/doctor/page.css`: the page;
//! - `GET /doctor/api/expectations`: the prefilled expectations, per issuer (gateway);
//! - `POST /doctor/api/diagnose`: token and expectations in, `{report, snippets}` out;
//! - `GET /doctor/api/refusals`, `GET /doctor/api/refusals/{id}`: the gateway's recent
//!   refusals, and one of them as `{report, snippets}` (see [`crate::recent`]).
//!
//! Safe by construction: every answer carries a strict Content-Security-Policy (nothing
//! from another origin, no inline script or style), `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, `Cache-Control: no-store` and `X-Frame-Options: DENY`;
//! every request passes the dev issuer's admin guard (`tollgate_issuer::admin_guard`:
//! `Host` names this listener, no foreign `Origin`, JSON bodies), bodies are at most
//! [`MAX_BODY_BYTES`]. The only fetches are those the user configures (discovery, keys),
//! made by the library's `gather` (HTTPS, or HTTP on loopback) and listed in the report.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tollgate::doctor::gather::{gather, Source, Sources};
use tollgate::doctor::{self, input, stack, Report, Settings};
use tollgate::keys::KeySource;
use tollgate::{Algorithm, Policy, TypPolicy};
use tollgate_issuer::admin_guard::AdminGuard;

use crate::server::Shared;

/// Where the page lives.
pub const BASE: &str = "/doctor";

/// The largest request body: 256 KiB, room for a token at the library's largest size and a
/// pasted key set.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The most values in one list of the request (issuers, audiences, algorithms, `typ`).
pub const MAX_LIST: usize = 32;

/// The Content-Security-Policy of every answer: this origin's script and style only, no
/// inline code, no frames, no forms posting elsewhere, fetches to this origin only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// What an API expects, to prefill the page's form (one per gateway `[[issuer]]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Expectations {
    /// Accepted issuers.
    pub issuers: Vec<String>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Allowed algorithms (empty: every asymmetric one).
    pub algorithms: Vec<String>,
    /// The API's key set URL.
    pub jwks_url: Option<String>,
    /// The API's key set, pasted (JSON text).
    pub jwks: Option<String>,
    /// The discovery document URL.
    pub discovery_url: Option<String>,
    /// Leeway in seconds (default: the library's).
    pub leeway: Option<u64>,
    /// Required `typ` values.
    pub typ: Vec<String>,
}

impl Expectations {
    /// The expectations of one gateway issuer.
    pub fn of_issuer(i: &tollgate::IssuerConfig) -> Expectations {
        let p = &i.policy;
        let (jwks_url, jwks, discovery_url) = match &i.source {
            KeySource::Discovery => (None, None, None),
            KeySource::DiscoveryUrl(u) => (None, None, Some(u.clone())),
            KeySource::JwksUri(u) => (Some(u.clone()), None, None),
            KeySource::Static(set) => {
                let keys: Vec<Value> = set
                    .keys()
                    .iter()
                    .map(|k| Value::Object(k.public_members().clone()))
                    .collect();
                (None, Some(json!({ "keys": keys }).to_string()), None)
            }
        };
        Expectations {
            issuers: i.names().cloned().collect(),
            audiences: p.audiences.clone(),
            algorithms: p
                .algorithms
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            jwks_url,
            jwks,
            discovery_url,
            leeway: Some(p.leeway),
            typ: match &p.typ {
                TypPolicy::OneOf(t) => t.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// One diagnosis request: the token (any form the CLI accepts) and the expectations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseRequest {
    /// The token: `Bearer <t>`, an `Authorization:` line, a JSON token response...
    pub token: String,
    /// What the API expects.
    #[serde(flatten)]
    pub expect: Expectations,
    /// Fetch nothing.
    #[serde(default)]
    pub offline: bool,
    /// Judge as if now were this Unix time.
    #[serde(default)]
    pub now: Option<i64>,
}

/// The answer: the report and the snippets.
#[derive(Debug, Serialize)]
pub struct Diagnosis {
    /// The doctor's report.
    pub report: Report,
    /// "Fix it in your stack", one per stack.
    pub snippets: Vec<stack::Snippet>,
}

/// The page's state: what it prefills, and the gateway it belongs to (if any).
#[derive(Clone)]
pub struct DoctorPage {
    prefill: Vec<Expectations>,
    gateway: Option<Arc<Shared>>,
}

impl std::fmt::Debug for DoctorPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoctorPage")
            .field("prefill", &self.prefill)
            .field("gateway", &self.gateway.is_some())
            .finish()
    }
}

/// A request the API refuses: 400 with what was expected and found.
struct BadRequest {
    description: String,
    fix: &'static str,
}

fn bad_request(description: impl Into<String>, fix: &'static str) -> BadRequest {
    BadRequest {
        description: description.into(),
        fix,
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        answer_json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": self.description, "fix": self.fix}),
        )
    }
}

fn answer_json(status: StatusCode, body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut r = (status, Body::from(text)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl DoctorPage {
    /// The page of `tollgate doctor --web`: nothing prefilled, no refusals.
    pub fn standalone() -> DoctorPage {
        DoctorPage {
            prefill: Vec::new(),
            gateway: None,
        }
    }

    /// The page of a gateway: its issuers prefilled, its recent refusals listed.
    pub(crate) fn of_gateway(shared: Arc<Shared>) -> DoctorPage {
        DoctorPage {
            prefill: shared
                .config
                .issuers
                .iter()
                .map(Expectations::of_issuer)
                .collect(),
            gateway: Some(shared),
        }
    }

    /// The router for a listener bound to `addr` (the guard accepts requests naming it).
    pub fn router(self, addr: SocketAddr) -> Router {
        let guard = Arc::new(AdminGuard::new(addr, &format!("http://{addr}")));
        Router::new()
            .route(
                BASE,
                get(|| async { asset(PAGE_HTML, "text/html; charset=utf-8") }),
            )
            .route(
                "/doctor/page.js",
                get(|| async { asset(PAGE_JS, "text/javascript; charset=utf-8") }),
            )
            .route(
                "/doctor/page.css",
                get(|| async { asset(PAGE_CSS, "text/css; charset=utf-8") }),
            )
            .route("/doctor/api/expectations", get(expectations))
            .route("/doctor/api/diagnose", post(diagnose))
            .route("/doctor/api/refusals", get(refusals))
            .route("/doctor/api/refusals/{id}", get(refusal))
            .with_state(Arc::new(self))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(guard, guarded))
    }
}

/// Serves the standalone page on `listener` until `shutdown` completes.
pub async fn serve_standalone(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(|| async { axum::response::Redirect::to(BASE) }))
        .merge(DoctorPage::standalone().router(addr));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The guard, then the security headers on every answer (refusals included).
async fn guarded(State(guard): State<Arc<AdminGuard>>, req: Request, next: Next) -> Response {
    let mut response = match guard.check(req.method(), req.uri(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => answer_json(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN),
            &refusal.body,
        ),
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn expectations(State(page): State<Arc<DoctorPage>>) -> Response {
    let recent = page.gateway.as_ref().map(|g| g.decider.recent().capacity());
    answer_json(
        StatusCode::OK,
        &json!({"issuers": page.prefill, "recent_refusals": recent}),
    )
}

/// Trims each value, drops empty ones; refuses lists longer than [`MAX_LIST`].
fn clean(name: &str, list: &[String]) -> Result<Vec<String>, BadRequest> {
    if list.len() > MAX_LIST {
        return Err(bad_request(
            format!(
                "{name} has {} values; at most {MAX_LIST} are accepted",
                list.len()
            ),
            "list only the values the API accepts",
        ));
    }
    Ok(list
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads the request body into the diagnosis: the same path as `tollgate doctor`.
async fn diagnose(State(_page): State<Arc<DoctorPage>>, body: Bytes) -> Response {
    let req: DiagnoseRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(
                format!(
                    "the body is not a diagnosis request: {}",
                    tollgate::text::cut(&e.to_string())
                ),
                "send {\"token\": \"...\", \"issuers\": [...], \"audiences\": [...], \"jwks_url\": \"...\"}",
            )
            .into_response()
        }
    };
    match run_diagnosis(req).await {
        Ok(d) => answer_json(StatusCode::OK, &d),
        Err(r) => r.into_response(),
    }
}

async fn run_diagnosis(req: DiagnoseRequest) -> Result<Diagnosis, BadRequest> {
    let normalized = input::normalize(&req.token)
        .map_err(|e| bad_request(e, "paste the token, a Bearer header or a token response"))?;
    let e = &req.expect;
    let issuers = clean("issuers", &e.issuers)?;
    let mut policy = Policy::new().leeway(e.leeway.unwrap_or(tollgate::claims::DEFAULT_LEEWAY));
    policy.issuers.clone_from(&issuers);
    policy.audiences = clean("audiences", &e.audiences)?;
    let typ = clean("typ", &e.typ)?;
    if !typ.is_empty() {
        policy.typ = TypPolicy::OneOf(typ);
    }
    for a in clean("algorithms", &e.algorithms)? {
        let alg = a.parse::<Algorithm>().map_err(|err| {
            bad_request(
                err.to_string(),
                "name algorithms as in a JWT header: RS256, ES256, PS256, EdDSA, HS256...",
            )
        })?;
        policy.algorithms.push(alg);
    }
    let now = req.now.unwrap_or_else(tollgate::clock::unix_now);
    let settings = Settings::new(policy, now);
    let jwks = match (nonempty(&e.jwks), nonempty(&e.jwks_url)) {
        (Some(text), _) => Some(Source::File {
            name: "pasted key set".into(),
            bytes: text.into_bytes(),
        }),
        (None, Some(url)) => Some(Source::Url(url)),
        (None, None) => None,
    };
    let sources = Sources {
        issuers,
        discovery: nonempty(&e.discovery_url).map(Source::Url),
        jwks,
        offline: req.offline,
        ..Sources::default()
    };
    let mut ctx = gather(&normalized.token, settings, &sources)
        .await
        .map_err(|err| {
            bad_request(
                err.to_string(),
                "correct the expectations (URLs are https://, or http:// on loopback)",
            )
        })?;
    ctx.notes.splice(0..0, normalized.notes);
    Ok(with_snippets(doctor::diagnose(&ctx)))
}

fn with_snippets(report: Report) -> Diagnosis {
    Diagnosis {
        snippets: stack::all(&report),
        report,
    }
}

async fn refusals(State(page): State<Arc<DoctorPage>>) -> Response {
    match &page.gateway {
        None => answer_json(StatusCode::OK, &json!({"enabled": false, "refusals": []})),
        Some(g) => {
            let recent = g.decider.recent();
            answer_json(
                StatusCode::OK,
                &json!({"enabled": recent.enabled(), "capacity": recent.capacity(), "refusals": recent.list()}),
            )
        }
    }
}

async fn refusal(State(page): State<Arc<DoctorPage>>, Path(id): Path<String>) -> Response {
    let not_found = || {
        answer_json(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "error_description": "no such recent refusal (the list keeps the last ones only)", "fix": "reload the list"}),
        )
    };
    let (Some(g), Ok(id)) = (&page.gateway, id.parse::<u64>()) else {
        return not_found();
    };
    let Some(entry) = g.decider.recent().get(id) else {
        return not_found();
    };
    let Some(err) = &entry.error else {
        return answer_json(
            StatusCode::OK,
            &json!({"entry": entry, "report": null, "snippets": []}),
        );
    };
    let iss = entry.issuer.as_deref();
    let settings = Settings::new(g.decider.policy_for(iss).clone(), entry.at);
    let (header, claims) = entry.kept.decode();
    let report = doctor::report_of_error(err, header.as_ref(), claims.as_ref(), &settings);
    let d = with_snippets(report);
    answer_json(
        StatusCode::OK,
        &json!({"entry": entry, "report": d.report, "snippets": d.snippets}),
    )
}
