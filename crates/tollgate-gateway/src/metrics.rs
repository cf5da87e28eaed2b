//! Prometheus metrics: decisions by route, outcome and code; decision latency; the
//! verified-token cache; key fetches and key-set age by issuer.
//!
//! Counters are plain atomics laid out when the gateway starts (routes and codes are known
//! then), so recording a decision never takes a lock or allocates.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tollgate::ValidationError;

use crate::codes::GatewayCode;
use crate::request_policy::Violation;
use tollgate::keys::IssuerStatus;

/// Codes the gateway adds to the library's [`ValidationError::CODES`] (see [`GatewayCode`]).
pub use crate::codes::GATEWAY_CODES;

/// The label of a code neither list knows (a code added to the library later): counted,
/// never dropped or mistaken for another.
const OTHER_CODE: &str = "other";

/// Every decision code: the gateway's, the request policy's ([`Violation`]), then the
/// library's, then `other` (a code none of them knows).
pub fn all_codes() -> impl Iterator<Item = &'static str> {
    GATEWAY_CODES
        .iter()
        .copied()
        .chain(Violation::ALL.iter().map(|v| v.as_str()))
        .chain(ValidationError::CODES.iter().copied())
        .chain(std::iter::once(OTHER_CODE))
}

const N_CODES: usize =
    GATEWAY_CODES.len() + Violation::ALL.len() + ValidationError::CODES.len() + 1;

/// The counter index of each code, computed once: recording a decision is one hash lookup,
/// not a search through every code.
static CODE_INDEX: std::sync::LazyLock<std::collections::HashMap<&'static str, usize>> =
    std::sync::LazyLock::new(|| {
        let mut index = std::collections::HashMap::with_capacity(N_CODES);
        for (i, c) in all_codes().enumerate() {
            index.entry(c).or_insert(i);
        }
        index
    });

fn code_index(code: &str) -> usize {
    // The allowed codes (most decisions) first, by comparison.
    const OK: &str = GatewayCode::Ok.as_str();
    const ANONYMOUS: &str = GatewayCode::Anonymous.as_str();
    match code {
        OK => 0,
        ANONYMOUS => 1,
        _ => CODE_INDEX.get(code).copied().unwrap_or(N_CODES - 1),
    }
}

/// Whether a decision let the request through, refused it, or could not judge it.
pub fn outcome_of(code: &str) -> &'static str {
    const OK: &str = GatewayCode::Ok.as_str();
    const ANONYMOUS: &str = GatewayCode::Anonymous.as_str();
    match code {
        OK | ANONYMOUS => "allow",
        // The library's one list of "cannot verify now" codes.
        _ if tollgate::ErrorCode::parse(code).is_some_and(tollgate::ErrorCode::is_unavailable) => {
            "unavailable"
        }
        _ => "deny",
    }
}

/// Latency bucket upper bounds, in seconds: from 50 µs (a cache hit) to 2.5 s (a request
/// that waited for a key fetch).
const BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
];

/// The gateway's counters.
pub struct Metrics {
    route_labels: Vec<String>,
    decisions: Vec<[AtomicU64; N_CODES]>,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
    upstream_errors: AtomicU64,
    gateway_connections: ConnectionCounters,
    admin_connections: ConnectionCounters,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("routes", &self.route_labels)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counters for these route labels (plus one for "no route").
    pub fn new(route_labels: Vec<String>) -> Metrics {
        let n = route_labels.len() + 1;
        Metrics {
            route_labels,
            decisions: (0..n)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_count: AtomicU64::new(0),
            latency_sum_nanos: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            gateway_connections: ConnectionCounters::default(),
            admin_connections: ConnectionCounters::default(),
        }
    }

    /// Records one decision: route index (`None`: no route matched), code and latency.
    pub fn record(&self, route: Option<usize>, code: &str, latency: Duration) {
        let r = route
            .unwrap_or(self.route_labels.len())
            .min(self.route_labels.len());
        self.decisions[r][code_index(code)].fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        if let Some(b) = BUCKETS.iter().position(|&le| secs <= le) {
            self.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_nanos
            .fetch_add(latency.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Counts a failed upstream exchange (reverse-proxy mode).
    pub fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The number of decisions with this code, across routes (for tests and logs).
    pub fn count(&self, code: &str) -> u64 {
        let i = code_index(code);
        self.decisions
            .iter()
            .map(|r| r[i].load(Ordering::Relaxed))
            .sum()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, cache: (u64, u64), cache_len: usize, issuers: &[IssuerStatus]) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP tollgate_decisions_total Decisions by route, outcome (allow, deny, unavailable) and code.\n");
        out.push_str("# TYPE tollgate_decisions_total counter\n");
        for (r, row) in self.decisions.iter().enumerate() {
            let route = self
                .route_labels
                .get(r)
                .map(String::as_str)
                .unwrap_or("(none)");
            for (code, n) in all_codes().zip(row.iter()) {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "tollgate_decisions_total{{route=\"{}\",outcome=\"{}\",code=\"{code}\"}} {n}",
                        escape(route),
                        outcome_of(code)
                    );
                }
            }
        }
        out.push_str("# HELP tollgate_decision_duration_seconds Time to decide a request (token check and route rules; not the upstream).\n");
        out.push_str("# TYPE tollgate_decision_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (le, n) in BUCKETS.iter().zip(self.buckets.iter()) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tollgate_decision_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "tollgate_decision_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "tollgate_decision_duration_seconds_sum {}",
            self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "tollgate_decision_duration_seconds_count {count}");

        out.push_str(
            "# HELP tollgate_token_cache_requests_total Verified-token cache lookups by result.\n",
        );
        out.push_str("# TYPE tollgate_token_cache_requests_total counter\n");
        let _ = writeln!(
            out,
            "tollgate_token_cache_requests_total{{result=\"hit\"}} {}",
            cache.0
        );
        let _ = writeln!(
            out,
            "tollgate_token_cache_requests_total{{result=\"miss\"}} {}",
            cache.1
        );
        out.push_str("# HELP tollgate_token_cache_entries Entries in the verified-token cache.\n");
        out.push_str("# TYPE tollgate_token_cache_entries gauge\n");
        let _ = writeln!(out, "tollgate_token_cache_entries {cache_len}");

        out.push_str("# HELP tollgate_upstream_errors_total Requests the upstream did not answer (502/504).\n");
        out.push_str("# TYPE tollgate_upstream_errors_total counter\n");
        let _ = writeln!(
            out,
            "tollgate_upstream_errors_total {}",
            self.upstream_errors.load(Ordering::Relaxed)
        );

        out.push_str("# HELP tollgate_key_fetches_total Key fetches by issuer and result.\n");
        out.push_str("# TYPE tollgate_key_fetches_total counter\n");
        for i in issuers {
            for (result, n) in [
                ("ok", i.fetches_ok),
                ("not_modified", i.fetches_not_modified),
                ("failed", i.fetches_failed),
                ("unknown_kid", i.unknown_kid_fetches),
            ] {
                let _ = writeln!(
                    out,
                    "tollgate_key_fetches_total{{issuer=\"{}\",result=\"{result}\"}} {n}",
                    escape(&i.issuer)
                );
            }
        }
        out.push_str(
            "# HELP tollgate_key_set_age_seconds Age of each issuer's key set (-1: none yet).\n",
        );
        out.push_str("# TYPE tollgate_key_set_age_seconds gauge\n");
        for i in issuers {
            let _ = writeln!(
                out,
                "tollgate_key_set_age_seconds{{issuer=\"{}\"}} {}",
                escape(&i.issuer),
                i.key_set_age_secs.map_or(-1, |a| a.max(0))
            );
        }
        out.push_str("# HELP tollgate_keys Usable keys held per issuer.\n");
        out.push_str("# TYPE tollgate_keys gauge\n");
        for i in issuers {
            let _ = writeln!(
                out,
                "tollgate_keys{{issuer=\"{}\"}} {}",
                escape(&i.issuer),
                i.kids.len()
            );
        }
        out.push_str("# HELP tollgate_issuer_ready 1 when the issuer has usable keys.\n");
        out.push_str("# TYPE tollgate_issuer_ready gauge\n");
        for i in issuers {
            let _ = writeln!(
                out,
                "tollgate_issuer_ready{{issuer=\"{}\"}} {}",
                escape(&i.issuer),
                u8::from(i.ready)
            );
        }
        render_introspection(&mut out, issuers);
        self.render_connections(&mut out);
        out
    }

    /// The connection counters of one listener.
    pub fn connections(&self, listener: Listener) -> &ConnectionCounters {
        match listener {
            Listener::Gateway => &self.gateway_connections,
            Listener::Admin => &self.admin_connections,
        }
    }

    /// The connection metrics, one line per listener each.
    fn render_connections(&self, out: &mut String) {
        type Read = fn(&ConnectionCounters) -> u64;
        let metrics: [(&str, &str, &str, Read); 6] = [
            (
                "tollgate_open_connections",
                "gauge",
                "Connections open per listener.",
                ConnectionCounters::open,
            ),
            (
                "tollgate_connection_limit",
                "gauge",
                "The most connections a listener holds open (max_connections; derived from the open-files limit when not set).",
                ConnectionCounters::limit,
            ),
            (
                "tollgate_connections_timed_out_total",
                "counter",
                "Connections closed because complete request headers did not arrive within header_read_timeout of accept, or the next request within idle_timeout.",
                ConnectionCounters::timed_out,
            ),
            (
                "tollgate_connections_shed_total",
                "counter",
                "Idle connections (no request in flight) closed to make room for a new one at the limit or when out of file descriptors.",
                ConnectionCounters::shed,
            ),
            (
                "tollgate_connections_refused_total",
                "counter",
                "New connections closed at once: at the limit with no idle connection to shed.",
                ConnectionCounters::refused,
            ),
            (
                "tollgate_accept_errors_total",
                "counter",
                "Failed accepts (e.g. too many open files).",
                ConnectionCounters::accept_errors,
            ),
        ];
        for (name, kind, help, read) in metrics {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for l in [Listener::Gateway, Listener::Admin] {
                let _ = writeln!(
                    out,
                    "{name}{{listener=\"{}\"}} {}",
                    l.label(),
                    read(self.connections(l))
                );
            }
        }
    }
}

/// Which listener a connection metric is about (the `listener` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The gateway listener (`listen`): forward-auth or reverse proxy.
    Gateway,
    /// The admin listener (`admin_listen`).
    Admin,
}

impl Listener {
    /// The label value: `gateway` or `admin`.
    pub fn label(self) -> &'static str {
        match self {
            Listener::Gateway => "gateway",
            Listener::Admin => "admin",
        }
    }
}

/// One listener's connection counters: plain atomics, updated per connection (never per
/// request), read by `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionCounters {
    open: AtomicUsize,
    limit: AtomicUsize,
    timed_out: AtomicU64,
    shed: AtomicU64,
    refused: AtomicU64,
    accept_errors: AtomicU64,
}

impl ConnectionCounters {
    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed) as u64
    }
    /// The listener's connection limit (0 until it serves).
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed) as u64
    }
    /// Connections closed by the header or idle timeout.
    pub fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }
    /// Idle connections closed to make room.
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
    /// New connections closed at once (at the limit, nothing idle to shed).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
    /// Failed accepts.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    pub(crate) fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }
    pub(crate) fn timed_out_one(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn shed_some(&self, n: usize) {
        self.shed.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn refused_one(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Token introspection per issuer that has it (RFC 7662): calls by result, cache hits and
/// entries, time spent in calls.
fn render_introspection(out: &mut String, issuers: &[IssuerStatus]) {
    let with: Vec<(&str, &tollgate::introspection::IntrospectionStatus)> = issuers
        .iter()
        .filter_map(|i| Some((i.issuer.as_str(), i.introspection.as_ref()?)))
        .collect();
    if with.is_empty() {
        return;
    }
    out.push_str("# HELP tollgate_introspection_calls_total Token introspection calls by issuer and result (active, inactive, failed, malformed).\n");
    out.push_str("# TYPE tollgate_introspection_calls_total counter\n");
    for (issuer, s) in &with {
        for (result, n) in [
            ("active", s.calls_active),
            ("inactive", s.calls_inactive),
            ("failed", s.calls_failed),
            ("malformed", s.calls_malformed),
        ] {
            let _ = writeln!(
                out,
                "tollgate_introspection_calls_total{{issuer=\"{}\",result=\"{result}\"}} {n}",
                escape(issuer)
            );
        }
    }
    type Read = fn(&tollgate::introspection::IntrospectionStatus) -> f64;
    let metrics: [(&str, &str, &str, Read); 3] = [
        (
            "tollgate_introspection_cache_hits_total",
            "counter",
            "Tokens answered from the introspection cache, by issuer.",
            |s| s.cache_hits as f64,
        ),
        (
            "tollgate_introspection_cache_entries",
            "gauge",
            "Introspection answers held, by issuer.",
            |s| s.cache_entries as f64,
        ),
        (
            "tollgate_introspection_call_seconds_total",
            "counter",
            "Time spent in introspection calls, by issuer (divide by the calls for the mean latency).",
            |s| s.call_seconds_total,
        ),
    ];
    for (name, kind, help, read) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (issuer, s) in &with {
            let _ = writeln!(out, "{name}{{issuer=\"{}\"}} {}", escape(issuer), read(s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_route_and_code() {
        let m = Metrics::new(vec!["/public/".into(), "/".into()]);
        m.record(Some(1), "expired", Duration::from_micros(80));
        m.record(Some(1), "ok", Duration::from_micros(30));
        m.record(None, "no_route", Duration::from_micros(3));
        let text = m.render((5, 2), 3, &[]);
        assert!(text
            .contains("tollgate_decisions_total{route=\"/\",outcome=\"deny\",code=\"expired\"} 1"));
        assert!(text.contains(
            "tollgate_decisions_total{route=\"(none)\",outcome=\"deny\",code=\"no_route\"} 1"
        ));
        assert!(text.contains("tollgate_decision_duration_seconds_count 3"));
        assert!(text.contains("tollgate_decision_duration_seconds_bucket{le=\"0.00005\"} 2"));
        assert!(text.contains("tollgate_token_cache_requests_total{result=\"hit\"} 5"));
        assert_eq!(m.count("ok"), 1);
    }

    #[test]
    fn every_library_code_has_a_counter() {
        for c in ValidationError::CODES {
            assert_ne!(code_index(c), 0);
            assert_ne!(code_index(c), N_CODES - 1);
        }
        assert_eq!(code_index("a_future_code"), N_CODES - 1);
        assert_eq!(all_codes().count(), N_CODES);
        // the index is each code's first position in the list
        for (i, c) in all_codes().enumerate() {
            assert_eq!(
                code_index(c),
                all_codes().position(|x| x == c).unwrap(),
                "{c} at {i}"
            );
        }
        assert_eq!(outcome_of("keys_unavailable"), "unavailable");
        assert_eq!(outcome_of("replay_cache_unavailable"), "unavailable");
        assert_eq!(outcome_of("dpop_key_over_quota"), "deny");
    }

    #[test]
    fn connection_metrics_are_rendered_per_listener() {
        let m = Metrics::new(vec![]);
        let c = m.connections(Listener::Admin);
        c.set_limit(64);
        c.opened();
        c.opened();
        c.closed();
        c.shed_some(3);
        m.connections(Listener::Gateway).timed_out_one();
        let text = m.render((0, 0), 0, &[]);
        assert!(text.contains("tollgate_open_connections{listener=\"admin\"} 1"));
        assert!(text.contains("tollgate_connection_limit{listener=\"admin\"} 64"));
        assert!(text.contains("tollgate_connections_shed_total{listener=\"admin\"} 3"));
        assert!(text.contains("tollgate_connections_timed_out_total{listener=\"gateway\"} 1"));
        assert!(text.contains("tollgate_accept_errors_total{listener=\"gateway\"} 0"));
    }
}
