//! The decision for one request: which route applies, whether its token is valid (once per
//! token, thanks to the cache), whether the token meets the route's requirements, and
//! which identity headers the upstream gets. Both modes (forward-auth and reverse proxy)
//! call [`Decider::decide`]; every decision is counted and logged here, once.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use tollgate::challenge::{Challenge, ChallengeOptions};
use tollgate::{Clock, Policy, ValidationError, Verified};

use crate::cache::TokenCache;
use crate::codes::GatewayCode;
use crate::config::{Access, Config};
use crate::diagnosis::CauseCache;
use crate::metrics::{outcome_of, Metrics};
use crate::recent::{Kept, RecentRefusal, RecentRefusals};
use crate::refusals::{Prepared, RefusalCache};
use crate::request_policy::{check_method, check_method_override, normalize_path, Refused};
use crate::routes::{check_access, claim_by, RouteTable};
use crate::sender::Sender;
use tollgate::binding::{AuthScheme, RequestContext};
use tollgate::TokenValidator;

/// Who a verified token says the caller is, and the headers that tell the upstream.
#[derive(Debug)]
pub struct Identity {
    /// The verified token.
    pub verified: Verified,
    /// The identity headers (from `[headers]`), ready to set.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Identity {
    /// Builds the identity of a verified token with the `[headers]` mapping. A claim that is
    /// absent, or cannot be a header value, gives no header.
    pub fn new(verified: Verified, mapping: &[(HeaderName, String)]) -> Identity {
        let headers = mapping
            .iter()
            .filter_map(|(name, claim)| {
                Some((name.clone(), claim_header(&verified.claims, claim)?))
            })
            .collect();
        Identity { verified, headers }
    }

    /// The token's `iss` (empty when it has none that is a string).
    pub fn issuer(&self) -> &str {
        self.verified.claims.issuer().unwrap_or_default()
    }

    /// The token's `sub`, if it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.verified.claims.subject()
    }
}

/// The header value of the claim a `[headers]` entry names (a claim, or a dotted path into
/// one when no claim has the name). A string or an array of strings is read where it is in
/// the payload; an absent claim builds nothing; any other value (a number, an object, a
/// path) is read from the claims map.
fn claim_header(claims: &tollgate::Claims, claim: &str) -> Option<HeaderValue> {
    if let Some(s) = claims.get_str(claim) {
        return HeaderValue::from_bytes(s.as_bytes()).ok();
    }
    if let Some(items) = claims.get_str_array(claim) {
        return HeaderValue::from_bytes(items.join(" ").as_bytes()).ok();
    }
    let top = claim.split('.').next().unwrap_or(claim);
    if !claims.contains(claim) && !claims.contains(top) {
        return None;
    }
    header_value(claim_by(|n| claims.get(n), claim)?)
}

/// Renders a claim as a header value: strings as they are, arrays of strings joined with
/// spaces (so `scp: ["a","b"]` reads like `scope: "a b"`), anything else as compact JSON.
fn header_value(v: &Value) -> Option<HeaderValue> {
    let text = match v {
        Value::String(s) => return HeaderValue::from_bytes(s.as_bytes()).ok(),
        Value::Null => return None,
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    HeaderValue::from_bytes(text.as_bytes()).ok()
}

/// The outcome for one request.
#[derive(Debug)]
pub struct Decision {
    /// The stable code: `ok`, `anonymous`, a [`ValidationError`] code, or one of the
    /// gateway's (see [`crate::metrics::GATEWAY_CODES`]).
    pub code: &'static str,
    /// The index of the route that applied.
    pub route: Option<usize>,
    /// The verified identity (token routes only).
    pub identity: Option<Arc<Identity>>,
    /// The answer for a refused request (status, `WWW-Authenticate`, `Retry-After`, JSON
    /// body), from the library's one RFC 6750 mapping; `None` when allowed. Shared: the
    /// answer to a rejected token is built once per code and sentence (see
    /// [`crate::refusals`]).
    pub refusal: Option<Arc<Challenge>>,
    /// The refusal rendered as HTTP, when it came from the cache of prepared answers.
    pub(crate) prepared: Option<Arc<Prepared>>,
    /// One sentence for logs (empty when allowed).
    pub description: String,
    /// For a rejected token: the library's error.
    pub error: Option<ValidationError>,
    /// For a rejected token: the doctor's most likely cause (a `tollgate::doctor` cause
    /// id, e.g. `azure_v1_v2_mismatch`), logged beside the code; computed once per
    /// situation, or [`crate::diagnosis::NOT_DIAGNOSED`] when the second's budget of
    /// diagnoses is spent (see [`crate::diagnosis`]).
    pub cause: Option<&'static str>,
    /// For a rejected token, when recent refusals are kept: its header and claims.
    pub(crate) kept: Option<Box<Kept>>,
}

impl Decision {
    /// True when the request may go on.
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }

    /// The HTTP status: 200 when allowed, else the refusal's.
    pub fn status(&self) -> u16 {
        self.refusal.as_ref().map_or(200, |c| c.status)
    }
}

/// Makes decisions. Built once from the configuration; shared by every request.
pub struct Decider {
    routes: RouteTable,
    validator: Arc<dyn TokenValidator>,
    cache: TokenCache<Identity>,
    mapping: Vec<(HeaderName, String)>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    challenges: ChallengeOptions,
    /// Each issuer's policy: its `max_age` bounds cache entries; the doctor reads it to
    /// diagnose rejected tokens.
    /// Each issuer's policy, its `issuers` set to the issuer's names (aliases, templates).
    policies: Vec<Policy>,
    /// The policy the doctor uses for a token whose `iss` is not configured.
    any_issuer: Policy,
    /// The doctor's causes, per situation (see [`crate::diagnosis`]).
    causes: CauseCache,
    /// The largest issuer leeway: a situation's times are placed against it.
    leeway: u64,
    /// The answers to rejected tokens, per code and sentence.
    refusals: RefusalCache,
    /// `public_url`, for [`Decider::decide`] (no sender known).
    public_url: Option<String>,
    /// Every issuer requires DPoP: a request without a token gets a `DPoP` challenge.
    dpop_only: bool,
    /// The last refused requests, for the doctor page (see [`crate::recent`]).
    recent: RecentRefusals,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("routes", &self.routes)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Decider {
    /// A decider for `config`, validating with `validator`, timing the cache with `clock`.
    pub fn new(
        config: &Config,
        validator: Arc<dyn TokenValidator>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    ) -> Decider {
        Decider {
            routes: RouteTable::new(config.routes.clone(), config.case_insensitive_paths),
            validator,
            cache: TokenCache::new(config.token_cache_entries),
            mapping: config.headers.clone(),
            metrics,
            clock,
            policies: config
                .issuers
                .iter()
                .map(|i| {
                    let mut policy = i.policy.clone();
                    policy.issuers = i.names().cloned().collect();
                    policy
                })
                .collect(),
            any_issuer: Policy::new()
                .issuers(config.issuers.iter().flat_map(|i| i.names().cloned())),
            causes: CauseCache::new(),
            refusals: RefusalCache::default(),
            public_url: config.public_url.clone(),
            dpop_only: config
                .issuers
                .iter()
                .all(|i| i.dpop.mode == tollgate::dpop::DpopMode::Required),
            recent: RecentRefusals::new(config.recent_refusals),
            leeway: config
                .issuers
                .iter()
                .map(|i| i.policy.leeway)
                .max()
                .unwrap_or_default(),
            challenges: ChallengeOptions::new()
                .realm(config.realm.clone())
                .expose_details(config.expose_details)
                .unavailable_status(config.unavailable_status)
                .retry_after(config.retry_after)
                .dpop_algs(&dpop_algs(config)),
        }
    }

    /// The identity headers (configured names), which are removed from every request.
    pub fn identity_header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.mapping.iter().map(|(h, _)| h)
    }

    /// True when `name` is a spelling of an identity header: equal to one once letter case
    /// is ignored and `_` is read as `-` (CGI-style upstreams read `X_Auth_Subject` as
    /// `X-Auth-Subject`). The one rule for stripping (reverse proxy) and refusing
    /// (forward-auth) client copies.
    ///
    /// ```
    /// # let config = tollgate_gateway::Config::from_toml_str(
    /// #     "[[issuer]]\nissuer = \"https://idp.example/\"\naudiences = [\"a\"]\n[[route]]\npath = \"/\"\n[headers]\nX-Auth-Subject = \"sub\"\n",
    /// # ).unwrap();
    /// # let gateway = tollgate_gateway::Gateway::new(config).unwrap();
    /// let decider = gateway.decider();
    /// assert!(decider.is_identity_spelling("X_Auth_Subject"));
    /// assert!(decider.is_identity_spelling("x-auth_SUBJECT"));
    /// assert!(!decider.is_identity_spelling("X-Auth-Subjects"));
    /// ```
    pub fn is_identity_spelling(&self, name: &str) -> bool {
        let fold = |b: u8| {
            if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            }
        };
        self.identity_header_names().any(|h| {
            h.as_str().len() == name.len()
                && h.as_str()
                    .bytes()
                    .zip(name.bytes())
                    .all(|(a, b)| a == fold(b))
        })
    }

    /// The last refused requests (see [`crate::recent`]).
    pub fn recent(&self) -> &RecentRefusals {
        &self.recent
    }

    /// The policy the doctor uses for a token from `iss`: the policy of the issuer that
    /// accepts it (by name, alias or `{tenantid}` template), or one naming every configured
    /// issuer when none does.
    pub fn policy_for(&self, iss: Option<&str>) -> &Policy {
        iss.and_then(|i| self.policy_of(i))
            .unwrap_or(&self.any_issuer)
    }

    /// The verified-token cache.
    pub fn cache(&self) -> &TokenCache<Identity> {
        &self.cache
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// Decides a request for `target` (path and query, as the client sent it) with
    /// `method`; the token comes from `headers` (`Authorization: Bearer` or `DPoP`), the
    /// public URL from `public_url`, and no client certificate is known.
    pub async fn decide(&self, method: &Method, target: &str, headers: &HeaderMap) -> Decision {
        let sender = Sender {
            base_url: self.public_url.clone(),
            ..Sender::default()
        };
        self.decide_from(method, target, headers, &sender).await
    }

    /// [`Decider::decide`] for a request from `sender` (its public URL, for DPoP proofs,
    /// and its client certificate, for certificate-bound tokens).
    pub async fn decide_from(
        &self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        sender: &Sender,
    ) -> Decision {
        let started = Instant::now();
        let (decision, path) = self.decide_inner(method, target, headers, sender).await;
        self.finish(decision, method, &path, started)
    }

    /// Refuses a request by the [request policy](crate::request_policy) before any rule
    /// applies (forward-auth: missing, conflicting or untrusted forwarded headers), counted
    /// and logged like every decision: 400 with the violation's code.
    pub fn refuse_request(&self, method: &Method, target: &str, refused: Refused) -> Decision {
        let d = self.refused(refused, None);
        self.finish(d, method, target, Instant::now())
    }

    fn refused(&self, refused: Refused, route: Option<usize>) -> Decision {
        let c = self
            .challenges
            .bad_request(refused.violation.as_str(), &refused.description);
        self.refuse(c, route, refused.description)
    }

    fn finish(
        &self,
        decision: Decision,
        method: &Method,
        path: &str,
        started: Instant,
    ) -> Decision {
        let elapsed = started.elapsed();
        self.metrics.record(decision.route, decision.code, elapsed);
        let route = decision
            .route
            .and_then(|i| self.routes.routes().get(i))
            .map(|r| r.name.as_str())
            .unwrap_or("");
        let (issuer, subject) = match &decision.identity {
            Some(id) => (id.issuer(), id.subject().unwrap_or("")),
            None => ("", ""),
        };
        let outcome = outcome_of(decision.code);
        let status = decision.status();
        // Client-chosen values are cut to a bounded length, control characters escaped.
        let path = tollgate::text::cut(path);
        let method = tollgate::text::cut(method.as_str());
        let issuer = tollgate::text::cut(issuer);
        let subject = tollgate::text::cut(subject);
        if decision.allowed() {
            tracing::info!(
                target: "tollgate::decision",
                decision = outcome, code = decision.code, status,
                route, %method, %path, %issuer, %subject,
                latency_us = elapsed.as_micros() as u64,
            );
        } else {
            tracing::info!(
                target: "tollgate::decision",
                decision = outcome, code = decision.code, status,
                route, %method, %path, %issuer, %subject,
                latency_us = elapsed.as_micros() as u64,
                reason = %tollgate::text::cut_to(&decision.description, 400),
                cause = decision.cause.unwrap_or(""),
            );
            if self.recent.enabled() {
                self.keep_refusal(
                    &decision,
                    route,
                    &method.to_string(),
                    &path.to_string(),
                    &subject.to_string(),
                );
            }
        }
        decision
    }

    /// Keeps a refusal in the ring of recent ones (header and claims, never the token).
    fn keep_refusal(&self, d: &Decision, route: &str, method: &str, path: &str, subject: &str) {
        self.recent.push(RecentRefusal {
            id: 0,
            at: self.clock.now(),
            route: route.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            code: d.code,
            status: d.status(),
            cause: d.cause,
            // A refused token's subject and issuer are read from `kept` when listed.
            subject: (!subject.is_empty()).then(|| subject.to_string()),
            issuer: None,
            description: tollgate::text::cut_to(&d.description, 400).to_string(),
            error: d.error.clone(),
            kept: d.kept.as_deref().cloned().unwrap_or_default(),
        });
    }

    async fn decide_inner(
        &self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        sender: &Sender,
    ) -> (Decision, String) {
        let query = target.split_once('?').map(|(_, q)| q);
        if let Err(r) =
            check_method(method).and_then(|()| check_method_override(method, headers, query))
        {
            return (self.refused(r, None), target.to_string());
        }
        let path = match normalize_path(target) {
            Ok(p) => p,
            Err(r) => return (self.refused(r, None), target.to_string()),
        };
        let found = match self.routes.find(method, &path) {
            Ok(found) => found,
            Err(r) => return (self.refused(r, None), path),
        };
        let Some((index, route)) = found else {
            let description = format!(
                "no route allows {method} {path}; requests that match no [[route]] are denied"
            );
            let c =
                self.challenges
                    .forbidden::<&str>(GatewayCode::NoRoute.as_str(), &description, &[]);
            return (self.refuse(c, None, description), path);
        };
        let route_index = Some(index);
        let requirements = &route.access;
        if let Access::Anonymous = requirements {
            return (
                self.allow(GatewayCode::Anonymous.as_str(), route_index, None),
                path,
            );
        }

        let (scheme, token) = match credentials(headers) {
            Ok(t) => t,
            Err(description) => {
                let c = if self.dpop_only {
                    self.challenges.missing_dpop_token(&description)
                } else {
                    self.challenges.missing_token(&description)
                };
                return (self.refuse(c, route_index, description), path);
            }
        };

        let identity = self.identity_of(token).await;
        let identity = match identity {
            Ok(identity) => match self
                .check_binding(&identity, scheme, token, method, target, headers, sender)
                .await
            {
                Ok(()) => identity,
                Err(err) => return (self.token_refused(err, token, scheme, route_index), path),
            },
            Err(err) => return (self.token_refused(err, token, scheme, route_index), path),
        };

        if let Err(forbidden) = check_access(requirements, &identity.verified.claims) {
            let c = self.challenges.forbidden(
                forbidden.code,
                &forbidden.description,
                &forbidden.required_scopes,
            );
            let mut d = self.refuse(c, route_index, forbidden.description);
            d.identity = Some(identity);
            return (d, path);
        }
        (
            self.allow(GatewayCode::Ok.as_str(), route_index, Some(identity)),
            path,
        )
    }

    /// The refusal of a token (its validation, or what its request presented): the
    /// library's challenge (a `DPoP` one for the DPoP scheme or a DPoP refusal), the
    /// doctor's cause, and the refusal kept for the doctor page. Bearer refusals share one
    /// prepared answer per code and sentence.
    fn token_refused(
        &self,
        err: ValidationError,
        token: &str,
        scheme: AuthScheme,
        route: Option<usize>,
    ) -> Decision {
        let description = err.to_string();
        let mut d = if scheme == AuthScheme::Dpop {
            self.refuse(self.challenges.error_for(&err, scheme), route, description)
        } else {
            let prepared = self
                .refusals
                .get_or_build(err.code(), &description, || self.challenges.error(&err));
            let mut d = self.refuse_shared(prepared.challenge.clone(), route, description);
            d.prepared = Some(prepared);
            d
        };
        d.cause = self.top_cause(&err, token);
        d.error = Some(err);
        if self.recent.enabled() {
            d.kept = Some(Box::new(Kept::of(token)));
        }
        d
    }

    /// The sender-constraint checks of one request (DPoP proof, key and certificate
    /// binding), run on every request, also when the token came from the cache: the
    /// validator's one binding path, shared with the tower layer.
    #[allow(clippy::too_many_arguments)]
    async fn check_binding(
        &self,
        identity: &Identity,
        scheme: AuthScheme,
        token: &str,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        sender: &Sender,
    ) -> Result<(), ValidationError> {
        let proofs: Vec<&str> = headers
            .get_all("dpop")
            .iter()
            // A value that is not visible ASCII is no JWT: the proof check refuses it.
            .map(|v| v.to_str().unwrap_or("\u{fffd}"))
            .collect();
        // The URL is what a DPoP proof's `htu` is checked against: a bearer request never
        // reaches that check, so it does not pay for building the URL.
        let url = match scheme {
            AuthScheme::Dpop => sender.url_of(target),
            AuthScheme::Bearer => None,
        };
        let request = RequestContext::new(scheme, token, method.as_str(), url)
            .dpop_proofs(proofs)
            .client_cert(sender.client_cert.clone());
        self.validator
            .check_binding(&identity.verified, &request)
            .await
    }

    /// The verified identity of `token`: from the cache, or validated once and cached until
    /// its `exp` (and its `iat + max_age` when the issuer limits age, and the introspection
    /// answer's `valid_until` when it was introspected).
    async fn identity_of(&self, token: &str) -> Result<Arc<Identity>, ValidationError> {
        let key = TokenCache::<Identity>::key(token);
        let now = self.clock.now();
        if let Some(hit) = self.cache.get(&key, now) {
            return Ok(hit);
        }
        let verified = self.validator.validate(token).await?;
        let identity = Arc::new(Identity::new(verified, &self.mapping));
        let claims = &identity.verified.claims;
        if let Some(exp) = claims.expires_at() {
            let mut until = exp;
            let iat = claims.issued_at();
            let max_age = self
                .policy_of(identity.issuer())
                .and_then(|p| Some(p.max_age?.saturating_add(p.leeway)));
            if let (Some(limit), Some(iat)) = (max_age, iat) {
                until = until.min(iat.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX)));
            }
            // An introspected token is kept no longer than its introspection answer, so a
            // revocation is felt within the issuer's introspection `max_ttl`.
            if let Some(info) = &identity.verified.introspection {
                until = until.min(info.valid_until);
            }
            self.cache.insert(key, until, identity.clone(), now);
        }
        Ok(identity)
    }

    /// The doctor's most likely cause of a rejection (none for "cannot verify now"), once
    /// per situation and minute (see [`crate::diagnosis`]). Reads the token leniently and
    /// keeps nothing of it but a hash.
    fn top_cause(&self, err: &ValidationError, token: &str) -> Option<&'static str> {
        if err.is_unavailable() {
            return None;
        }
        let now = self.clock.now();
        self.causes.cause(err, token, now, self.leeway, || {
            // The issuer named by the token, read again leniently by the doctor.
            let iss = tollgate::doctor::token::inspect(token)
                .claims
                .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_string));
            let policy = self.policy_for(iss.as_deref());
            crate::diagnosis::diagnose(err, token, policy, now)
        })
    }

    /// The policy of the issuer that accepts `iss` (by name, alias or `{tenantid}` template).
    fn policy_of(&self, iss: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| {
            p.issuers
                .iter()
                .any(|i| tollgate::claims::issuer_accepts(i, iss))
        })
    }

    /// How refusals are answered.
    pub fn challenges(&self) -> &ChallengeOptions {
        &self.challenges
    }

    fn allow(
        &self,
        code: &'static str,
        route: Option<usize>,
        identity: Option<Arc<Identity>>,
    ) -> Decision {
        Decision {
            code,
            route,
            identity,
            refusal: None,
            prepared: None,
            description: String::new(),
            error: None,
            cause: None,
            kept: None,
        }
    }

    fn refuse(&self, challenge: Challenge, route: Option<usize>, description: String) -> Decision {
        self.refuse_shared(Arc::new(challenge), route, description)
    }

    fn refuse_shared(
        &self,
        challenge: Arc<Challenge>,
        route: Option<usize>,
        description: String,
    ) -> Decision {
        Decision {
            code: challenge.code,
            route,
            identity: None,
            refusal: Some(challenge),
            prepared: None,
            description,
            error: None,
            cause: None,
            kept: None,
        }
    }
}

/// The scheme and token of `Authorization: Bearer <token>` or `Authorization: DPoP
/// <token>`, or why there is none: the library's reading
/// ([`tollgate::challenge::credentials`]), shared with the tower layer.
pub(crate) fn credentials(headers: &HeaderMap) -> Result<(AuthScheme, &str), String> {
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    if let (Some(one), None) = (all.next(), all.next()) {
        // The usual case, without collecting.
        return tollgate::challenge::credentials(&[one.as_bytes()]);
    }
    let values: Vec<&[u8]> = headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    tollgate::challenge::credentials(&values)
}

/// Every proof algorithm some issuer accepts, for the `algs` of `DPoP` challenges.
fn dpop_algs(config: &Config) -> Vec<tollgate::Algorithm> {
    let mut algs: Vec<tollgate::Algorithm> = Vec::new();
    for a in config.issuers.iter().flat_map(|i| i.dpop.algorithms.iter()) {
        if !algs.contains(a) {
            algs.push(*a);
        }
    }
    algs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let mut h = HeaderMap::new();
        assert!(credentials(&h).unwrap_err().contains("no Authorization"));
        h.insert("authorization", HeaderValue::from_static("bearer  abc "));
        assert_eq!(credentials(&h).unwrap(), (AuthScheme::Bearer, "abc"));
        h.insert("authorization", HeaderValue::from_static("dpop abc"));
        assert_eq!(credentials(&h).unwrap(), (AuthScheme::Dpop, "abc"));
        h.insert("authorization", HeaderValue::from_static("Basic dXNlcg=="));
        assert!(credentials(&h).unwrap_err().contains("\"Basic\""));
        h.insert("authorization", HeaderValue::from_static("Bearer"));
        assert!(credentials(&h).unwrap_err().contains("holds no token"));
        h.append("authorization", HeaderValue::from_static("Bearer x"));
        assert!(credentials(&h).unwrap_err().contains("more than one"));
    }

    /// Identity headers read from a validated token (its claims indexed, no map) are the
    /// headers the claims map gives, for every kind of claim a mapping may name.
    #[test]
    fn identity_headers_read_without_a_map_are_the_maps() {
        use serde_json::json;
        use tollgate::{Algorithm, JwkSet, Policy, SigningKey};
        let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
        let keys = JwkSet::from_value(&json!({"keys": [key.public_jwk()]})).unwrap();
        let names = [
            "sub",
            "roles",
            "none",
            "mixed",
            "n",
            "big",
            "t",
            "z",
            "obj",
            "realm_access.roles",
            "realm_access.absent",
            "absent",
            "absent.x",
            "https://ns.example/roles",
            "ctl",
        ];
        let mapping: Vec<(HeaderName, String)> = names
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    HeaderName::try_from(format!("x-h{i}")).unwrap(),
                    c.to_string(),
                )
            })
            .collect();
        for payload in [
            json!({"sub": "alice", "roles": ["a", "b"], "none": [], "mixed": ["a", 1], "n": 7,
                   "big": 18446744073709551615u64, "t": true, "z": null, "obj": {"k": "v"},
                   "realm_access": {"roles": ["r"]}, "https://ns.example/roles": ["x"],
                   "ctl": "a\u{7f}b", "exp": 4_000_000_000u64}),
            // An escape: the scanner declines, the claims are read from the map.
            json!({"sub": "al\"ice", "roles": ["a"], "exp": 4_000_000_000u64}),
        ] {
            let token = tollgate::jws::sign(&json!({"kid": "k"}), &payload, &key).unwrap();
            let verified =
                tollgate::validate::validate(&token, &keys, &Policy::new(), 1_700_000_000).unwrap();
            let reference = tollgate::Claims::from(verified.claims.as_map().clone());
            let identity = Identity::new(
                tollgate::validate::validate(&token, &keys, &Policy::new(), 1_700_000_000).unwrap(),
                &mapping,
            );
            for (name, claim) in &mapping {
                let expected = claim_by(|n| reference.get(n), claim).and_then(header_value);
                let found = identity
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v);
                assert_eq!(found, expected.as_ref(), "{claim} in {payload}");
            }
            assert_eq!(identity.subject(), reference.subject());
            assert_eq!(identity.issuer(), "");
        }
    }

    #[test]
    fn claims_become_header_values() {
        assert_eq!(header_value(&serde_json::json!(["a", "b"])).unwrap(), "a b");
        assert_eq!(header_value(&serde_json::json!(42)).unwrap(), "42");
        assert!(header_value(&serde_json::json!("x\ny")).is_none());
        assert!(header_value(&Value::Null).is_none());
    }
}
