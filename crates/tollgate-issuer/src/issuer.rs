//! The state of one running issuer, shared by the HTTP handlers and
//! [`DevIssuer`](crate::DevIssuer): configuration, keys, the injected fault and counters.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::IssuerError;
use crate::fault::Fault;
use crate::keyring::{IssuerKey, KeyRing};
use crate::oauth::{self, OAuthError};
use crate::options::{
    IssuerOptions, DEFAULT_SUBJECT, DEFAULT_TENANT, OPAQUE_TOKEN_PREFIX, PERSONAL_TENANT,
};
use crate::server::{DISCOVERY_PATH, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH};
use crate::state;
use crate::token::{self, ACCESS_TOKEN_TYP};

/// One running issuer's state.
pub(crate) struct Issuer {
    url: String,
    base: String,
    addr: SocketAddr,
    opts: IssuerOptions,
    ring: RwLock<KeyRing>,
    /// Multi-tenant mode: the issuer template and the personal-account tenant's own key.
    tenancy: Option<Tenancy>,
    fault: watch::Sender<Fault>,
    pub(crate) jwks_requests: AtomicU64,
    pub(crate) discovery_requests: AtomicU64,
    pub(crate) introspection_requests: AtomicU64,
    pub(crate) revocation_requests: AtomicU64,
    /// Opaque tokens issued, with their claims (revoked ones are removed).
    opaque: Mutex<HashMap<String, Map<String, Value>>>,
    /// The `jti` of revoked JWTs.
    revoked_jtis: Mutex<HashSet<String>>,
    /// When set, `/introspect` answers this instead (after client authentication).
    pub(crate) introspection_override: Mutex<Option<crate::RawAnswer>>,
    shutdown: watch::Sender<bool>,
    /// DPoP proofs already used at the token endpoint.
    dpop_replay: tollgate::dpop::MemoryReplayCache,
}

/// What a multi-tenant issuer adds: its `{tenantid}` template and the key of the
/// personal-account tenant.
pub(crate) struct Tenancy {
    pub(crate) template: String,
    pub(crate) personal: Arc<IssuerKey>,
}

/// The URL clients use to reach `addr`: an unspecified bind address (`0.0.0.0`, `::`) is
/// reached through loopback.
pub(crate) fn base_url(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_unspecified() {
        if ip.is_ipv4() {
            return format!("http://127.0.0.1:{}", addr.port());
        }
        return format!("http://[::1]:{}", addr.port());
    }
    format!("http://{addr}")
}

impl Issuer {
    pub(crate) fn new(
        addr: SocketAddr,
        opts: IssuerOptions,
        ring: KeyRing,
    ) -> Result<Issuer, IssuerError> {
        let base = base_url(addr);
        let url = opts.issuer.clone().unwrap_or_else(|| base.clone());
        let tenancy = if opts.multi_tenant {
            Some(Tenancy {
                template: format!(
                    "{}/{}/v2.0",
                    url.trim_end_matches('/'),
                    tollgate::claims::TENANT_PLACEHOLDER
                ),
                personal: Arc::new(IssuerKey::generate(ring.current.alg())?),
            })
        } else {
            None
        };
        let issuer = Issuer {
            url,
            base,
            addr,
            opts,
            ring: RwLock::new(ring),
            tenancy,
            fault: watch::Sender::new(Fault::None),
            jwks_requests: AtomicU64::new(0),
            discovery_requests: AtomicU64::new(0),
            introspection_requests: AtomicU64::new(0),
            revocation_requests: AtomicU64::new(0),
            opaque: Mutex::new(HashMap::new()),
            revoked_jtis: Mutex::new(HashSet::new()),
            introspection_override: Mutex::new(None),
            shutdown: watch::Sender::new(false),
            dpop_replay: tollgate::dpop::MemoryReplayCache::default(),
        };
        issuer.save()?;
        Ok(issuer)
    }

    fn read(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self) -> Result<(), IssuerError> {
        if let Some(dir) = &self.opts.state_dir {
            state::save_ring(dir, &self.read(), &self.url, &self.opts.audience)?;
        }
        Ok(())
    }

    fn save_or_warn(&self) {
        if let Err(e) = self.save() {
            tracing::warn!("the issuer state could not be saved: {e}");
        }
    }

    /// Retires keys whose grace period is over.
    fn prune(&self) {
        let pruned = self.write().prune(Instant::now());
        if pruned {
            self.save_or_warn();
        }
    }

    pub(crate) fn url(&self) -> String {
        self.url.clone()
    }
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub(crate) fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.base)
    }
    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base)
    }
    pub(crate) fn introspection_endpoint(&self) -> String {
        format!("{}{INTROSPECTION_PATH}", self.base)
    }
    pub(crate) fn revocation_endpoint(&self) -> String {
        format!("{}{REVOCATION_PATH}", self.base)
    }
    /// Where validators look for discovery: under the issuer URL.
    pub(crate) fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.url.trim_end_matches('/'))
    }
    pub(crate) fn options(&self) -> &IssuerOptions {
        &self.opts
    }
    /// The path part of the issuer URL when it has one (`/realms/dev`).
    pub(crate) fn issuer_path(&self) -> Option<String> {
        let rest = self.url.split_once("://")?.1;
        let path = rest.find('/').map(|i| &rest[i..])?;
        let path = path.trim_end_matches('/');
        (!path.is_empty() && !path.contains(['?', '#'])).then(|| path.to_string())
    }
    pub(crate) fn fault_watch(&self) -> watch::Receiver<Fault> {
        self.fault.subscribe()
    }
    pub(crate) fn shutdown_watch(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
    pub(crate) fn signal_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
    pub(crate) fn set_fault(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }
    pub(crate) fn fault(&self) -> Fault {
        *self.fault.borrow()
    }
    pub(crate) fn current_kid(&self) -> String {
        self.read().current.kid.clone()
    }
    pub(crate) fn hs256_secret(&self) -> Vec<u8> {
        self.read().hmac_secret.clone()
    }

    pub(crate) fn jwks(&self) -> Value {
        self.prune();
        let ring = self.read();
        self.publish(ring.published().into_iter().map(|k| k.jwk.clone()))
    }

    /// The JWKS of these keys; multi-tenant: each with the template as its `issuer`, plus
    /// the personal-account key with its tenant's issuer (the shape of Entra's `common`).
    fn publish(&self, keys: impl Iterator<Item = Value>) -> Value {
        let Some(t) = &self.tenancy else {
            return json!({ "keys": keys.collect::<Vec<_>>() });
        };
        let mut out: Vec<Value> = keys
            .map(|mut k| {
                k["issuer"] = json!(t.template);
                k
            })
            .collect();
        let mut personal = t.personal.jwk.clone();
        personal["issuer"] = json!(self.issuer_for(PERSONAL_TENANT));
        out.push(personal);
        json!({ "keys": out })
    }

    /// The `iss` of a tenant's tokens: the template with the tenant in place (multi-tenant),
    /// else the issuer URL.
    pub(crate) fn issuer_for(&self, tenant: &str) -> String {
        match &self.tenancy {
            Some(t) => tollgate::claims::substitute_tenant(&t.template, tenant),
            None => self.url.clone(),
        }
    }

    /// The kid of the personal-account tenant's key (multi-tenant only).
    pub(crate) fn personal_kid(&self) -> Option<String> {
        self.tenancy.as_ref().map(|t| t.personal.kid.clone())
    }

    /// The issuer the discovery document names: the template when multi-tenant.
    pub(crate) fn published_issuer(&self) -> &str {
        match &self.tenancy {
            Some(t) => &t.template,
            None => &self.url,
        }
    }

    /// The JWKS without the current key (fault `drop_keys`).
    pub(crate) fn jwks_without_current(&self) -> Value {
        self.prune();
        let ring = self.read();
        self.publish(
            ring.published()
                .into_iter()
                .filter(|k| k.kid != ring.current.kid)
                .map(|k| k.jwk.clone()),
        )
    }

    pub(crate) fn try_rotate(&self) -> Result<String, IssuerError> {
        self.prune();
        let kid = self.write().rotate(self.opts.rotation_grace)?;
        self.save_or_warn();
        Ok(kid)
    }

    pub(crate) fn discovery_document(&self) -> Value {
        let alg = self.read().current.alg();
        let mut claims = vec![
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "client_id",
            "scope",
            "cnf",
        ];
        if self.tenancy.is_some() {
            claims.extend(["tid", "ver"]);
        }
        json!({
            "issuer": self.published_issuer(),
            "jwks_uri": self.jwks_url(),
            "token_endpoint": self.token_endpoint(),
            "introspection_endpoint": self.introspection_endpoint(),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint": self.revocation_endpoint(),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [alg.as_str()],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": self.opts.scopes,
            "claims_supported": claims,
            "dpop_signing_alg_values_supported": tollgate::dpop::DpopOptions::default()
                .algorithms
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            "service_documentation": format!("{}/", self.base),
        })
    }

    fn default_header(key: &IssuerKey) -> Map<String, Value> {
        let mut header = Map::new();
        header.insert("alg".into(), json!(key.alg().as_str()));
        header.insert("typ".into(), json!(ACCESS_TOKEN_TYP));
        header.insert("kid".into(), json!(key.kid));
        header
    }

    fn base_claims(
        &self,
        sub: &str,
        client_id: &str,
        aud: Value,
        scopes: &[String],
        tenant: &str,
    ) -> Map<String, Value> {
        let now = tollgate::clock::unix_now();
        let ttl = i64::try_from(self.opts.token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer_for(tenant)));
        if self.tenancy.is_some() {
            claims.insert("tid".into(), json!(tenant));
            claims.insert("ver".into(), json!("2.0"));
        }
        claims.insert("sub".into(), json!(sub));
        claims.insert("aud".into(), aud);
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now.saturating_add(ttl)));
        claims.insert("jti".into(), json!(token::new_jti()));
        claims.insert("client_id".into(), json!(client_id));
        if !scopes.is_empty() {
            claims.insert("scope".into(), json!(scopes.join(" ")));
        }
        claims
    }

    fn default_client_id(&self) -> &str {
        self.opts
            .clients
            .first()
            .map(|c| c.id.as_str())
            .unwrap_or(crate::options::DEFAULT_CLIENT_ID)
    }

    /// Mints a token: the defaults of a valid access token, overlaid with `header` and
    /// `claims` (null removes). Signed by the key the final header's kid names when it is
    /// published, else by the current key; HS* by the HMAC secret.
    pub(crate) fn try_mint(&self, header: &Value, claims: &Value) -> Result<String, IssuerError> {
        self.prune();
        let ring = self.read();
        let mut h = Issuer::default_header(&ring.current);
        token::overlay(&mut h, header);
        let c = self.minted_claims(claims);
        let personal = self.tenancy.as_ref().map(|t| &t.personal);
        let key = h
            .get("kid")
            .and_then(Value::as_str)
            .and_then(|kid| ring.find(kid).or(personal.filter(|p| p.kid == kid)))
            .unwrap_or(&ring.current);
        Ok(token::sign_as_declared(
            &Value::Object(h),
            &Value::Object(c),
            &key.key,
            Some(&ring.hmac_secret),
        )?)
    }

    /// Answers `POST /token`.
    /// The RFC 7638 thumbprint of the key of a DPoP proof sent to the token endpoint
    /// (RFC 9449 section 5): `None` without a proof; `invalid_dpop_proof` for a bad one.
    fn token_proof_key(&self, proofs: &[&str]) -> Result<Option<String>, OAuthError> {
        let bad = |description: String| OAuthError {
            status: 400,
            error: "invalid_dpop_proof",
            description,
            basic_challenge: false,
        };
        let proof = match proofs {
            [] => return Ok(None),
            [one] => *one,
            _ => return Err(bad("the request has more than one DPoP header".into())),
        };
        let options = tollgate::dpop::DpopOptions::default();
        let now = tollgate::clock::unix_now();
        let checked =
            tollgate::dpop::check_proof(proof, "POST", &self.token_endpoint(), None, &options, now)
                .map_err(|e| bad(e.to_string()))?;
        let answer = self
            .dpop_replay
            .insert(checked.id(), now, options.replay_until(checked.iat));
        match checked.replay_verdict(answer) {
            Ok(()) => Ok(Some(checked.jkt)),
            Err(tollgate::ValidationError::DpopReplayed { .. }) => Err(bad(
                "this DPoP proof was already used; make one per request".into(),
            )),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    pub(crate) fn token_response(
        &self,
        authorization: Option<&str>,
        form: &[(String, String)],
        dpop: &[&str],
    ) -> Result<Value, OAuthError> {
        let audiences = self.audiences();
        let grant = oauth::decide(&self.registry(&audiences), authorization, form)?;
        let jkt = self.token_proof_key(dpop)?;
        self.prune();
        let ring = self.read();
        let aud = match grant.audiences.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let tenant = grant.tenant.as_deref().unwrap_or(DEFAULT_TENANT);
        let mut claims = self.base_claims(
            &grant.client_id,
            &grant.client_id,
            aud,
            &grant.scopes,
            tenant,
        );
        if self.opts.opaque_tokens {
            drop(ring);
            let mut body = json!({
                "access_token": self.store_opaque(claims),
                "token_type": "Bearer",
                "expires_in": self.opts.token_ttl.as_secs(),
            });
            if !grant.scopes.is_empty() {
                body["scope"] = json!(grant.scopes.join(" "));
            }
            return Ok(body);
        }
        // Personal-account tokens are signed by that tenant's own key, as Entra does.
        let key = match &self.tenancy {
            Some(t) if tenant == PERSONAL_TENANT => &t.personal,
            _ => &ring.current,
        };
        if let Some(jkt) = &jkt {
            // RFC 9449 section 6.1: the token is bound to the proof's key.
            claims.insert("cnf".into(), json!({"jkt": jkt}));
        }
        let header = Issuer::default_header(key);
        let token = tollgate::jws::sign_raw(
            &Value::Object(header),
            &serde_json::to_vec(&claims).unwrap_or_default(),
            &key.key,
        )
        .map_err(|e| OAuthError {
            status: 500,
            error: "server_error",
            description: format!("signing failed: {e}"),
            basic_challenge: false,
        })?;
        let mut body = json!({
            "access_token": token,
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": self.opts.token_ttl.as_secs(),
        });
        if !grant.scopes.is_empty() {
            body["scope"] = json!(grant.scopes.join(" "));
        }
        Ok(body)
    }

    /// Keeps `claims` under a new opaque token and returns the token.
    fn store_opaque(&self, claims: Map<String, Value>) -> String {
        let mut bytes = [0u8; 32];
        tollgate::random_bytes(&mut bytes);
        let token = format!("{OPAQUE_TOKEN_PREFIX}{}", tollgate::b64::encode(bytes));
        lock(&self.opaque).insert(token.clone(), claims);
        token
    }

    /// An opaque token with the defaults of a minted token, `claims` overlaid.
    pub(crate) fn mint_opaque(&self, claims: &Value) -> String {
        self.store_opaque(self.minted_claims(claims))
    }

    /// The claims of a minted token (JWT or opaque): the defaults of a user's token, with
    /// `changes` overlaid.
    fn minted_claims(&self, changes: &Value) -> Map<String, Value> {
        let mut c = self.base_claims(
            DEFAULT_SUBJECT,
            self.default_client_id(),
            self.default_aud(),
            &self.opts.scopes,
            DEFAULT_TENANT,
        );
        token::overlay(&mut c, changes);
        c
    }

    fn registry<'a>(&'a self, audiences: &'a [String]) -> oauth::Registry<'a> {
        oauth::Registry {
            clients: &self.opts.clients,
            scopes: &self.opts.scopes,
            audiences,
            multi_tenant: self.tenancy.is_some(),
        }
    }

    /// The `token` parameter of an introspection or revocation request.
    fn token_param(form: &[(String, String)]) -> Result<&str, OAuthError> {
        form.iter()
            .find(|(n, _)| n == "token")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| OAuthError::new("invalid_request", "the parameter token is missing"))
    }

    /// The claims of `token` when it is active: an opaque token issued here and not
    /// revoked, or a JWT signed by a published key, valid now, whose `jti` is not revoked.
    fn active_claims(&self, token: &str) -> Option<Map<String, Value>> {
        let now = tollgate::clock::unix_now();
        let live = |c: &Map<String, Value>| {
            c.get("exp")
                .and_then(tollgate::claims::numeric_date)
                .is_none_or(|exp| now < exp)
                && c.get("nbf")
                    .and_then(tollgate::claims::numeric_date)
                    .is_none_or(|nbf| nbf <= now)
        };
        if let Some(claims) = lock(&self.opaque).get(token) {
            return live(claims).then(|| claims.clone());
        }
        let keys = tollgate::JwkSet::from_value(&self.jwks()).ok()?;
        let policy = tollgate::Policy::new().issuer(self.url.clone()).leeway(0);
        let verified = tollgate::LocalValidator::new(keys, policy)
            .validate(token)
            .ok()?;
        let claims = verified.claims.into_map();
        let revoked = claims
            .get("jti")
            .and_then(Value::as_str)
            .is_some_and(|jti| lock(&self.revoked_jtis).contains(jti));
        (!revoked).then_some(claims)
    }

    /// Answers `POST /introspect` (RFC 7662): the client must authenticate; an active
    /// token's claims with `active: true`, anything else `{"active": false}`.
    pub(crate) fn introspection_response(
        &self,
        authorization: Option<&str>,
        form: &[(String, String)],
    ) -> Result<Value, OAuthError> {
        let audiences = self.audiences();
        oauth::authenticate(&self.registry(&audiences), authorization, form)?;
        let token = Issuer::token_param(form)?;
        Ok(match self.active_claims(token) {
            Some(claims) => {
                let mut answer = Map::new();
                answer.insert("active".into(), json!(true));
                answer.insert("token_type".into(), json!("Bearer"));
                answer.extend(claims);
                Value::Object(answer)
            }
            None => json!({"active": false}),
        })
    }

    /// Answers `POST /revoke` (RFC 7009): the client must authenticate; the token (opaque,
    /// or a JWT by its `jti`) is no longer active. Unknown tokens are accepted silently, as
    /// the RFC requires.
    pub(crate) fn revocation_response(
        &self,
        authorization: Option<&str>,
        form: &[(String, String)],
    ) -> Result<(), OAuthError> {
        let audiences = self.audiences();
        oauth::authenticate(&self.registry(&audiences), authorization, form)?;
        let token = Issuer::token_param(form)?;
        self.revoke(token);
        Ok(())
    }

    /// Revokes `token` (opaque, or a JWT signed here, by its `jti`).
    pub(crate) fn revoke(&self, token: &str) {
        if lock(&self.opaque).remove(token).is_some() {
            return;
        }
        let jti = tollgate::jws::decode(token, usize::MAX)
            .ok()
            .and_then(|d| d.claims().ok())
            .and_then(|c| c.get("jti").and_then(Value::as_str).map(str::to_string));
        if let Some(jti) = jti {
            lock(&self.revoked_jtis).insert(jti);
        }
    }

    /// Every audience of default tokens: `audience`, then `extra_audiences`.
    fn audiences(&self) -> Vec<String> {
        std::iter::once(&self.opts.audience)
            .chain(&self.opts.extra_audiences)
            .cloned()
            .collect()
    }

    /// The `aud` of default tokens: one string, or the list when there are several.
    fn default_aud(&self) -> Value {
        match self.audiences().as_slice() {
            [one] => json!(one),
            many => json!(many),
        }
    }

    /// `GET /admin/state`.
    pub(crate) fn state(&self) -> Value {
        self.prune();
        let ring = self.read();
        let now = tollgate::clock::unix_now();
        let mut keys = vec![json!({
            "kid": ring.current.kid, "alg": ring.current.alg().as_str(), "status": "current",
            "created": ring.current.created,
        })];
        for r in ring.retiring.iter().rev() {
            keys.push(json!({
                "kid": r.key.kid, "alg": r.key.alg().as_str(), "status": "retiring",
                "created": r.key.created, "retire_at": r.retire_at_unix,
                "retires_in": (r.retire_at_unix - now).max(0),
            }));
        }
        json!({
            "issuer": self.url,
            "jwks_uri": self.jwks_url(),
            "token_endpoint": self.token_endpoint(),
            "audience": self.opts.audience,
            "audiences": self.audiences(),
            "issuer_template": self.tenancy.as_ref().map(|t| t.template.clone()),
            "current_kid": ring.current.kid,
            "keys": keys,
            "fault": self.fault().as_str(),
            "jwks_requests": self.jwks_requests.load(Ordering::SeqCst),
            "discovery_requests": self.discovery_requests.load(Ordering::SeqCst),
            "introspection_requests": self.introspection_requests.load(Ordering::SeqCst),
            "revocation_requests": self.revocation_requests.load(Ordering::SeqCst),
            "opaque_tokens": lock(&self.opaque).len(),
            "clients": self.opts.clients.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            "state_dir": self.opts.state_dir.as_ref().map(|d| d.display().to_string()),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shared handle type.
pub(crate) type SharedIssuer = Arc<Issuer>;
