//! How a refusal is answered over HTTP: status, `WWW-Authenticate` (RFC 6750), `Retry-After`
//! and a small JSON body. One mapping for every HTTP front end (the tower layer, the gateway),
//! so clients see the same answer wherever Tollgate runs. No HTTP crate is needed: a
//! [`Challenge`] is plain data that a server copies into its response.
//!
//! | Situation | Status | `WWW-Authenticate` | body `error` |
//! |---|---|---|---|
//! | no bearer token | 401 | `Bearer realm="tollgate"` (no error, RFC 6750 section 3.1) | `missing_token` |
//! | token rejected ([`ValidationError`]) | 401 | `Bearer realm="tollgate", error="invalid_token", error_description="..."` | `invalid_token` |
//! | valid token, scope/role missing | 403 | `Bearer ..., error="insufficient_scope", error_description="...", scope="..."` | `insufficient_scope` |
//! | bad request (e.g. two tokens) | 400 | `Bearer ..., error="invalid_request", error_description="..."` | `invalid_request` |
//! | keys unavailable ("cannot verify now") | 503 + `Retry-After` | none | `temporarily_unavailable` |
//! | one DPoP key over its quota ([`ValidationError::is_rate_limited`]) | 429 + `Retry-After` | none | `too_many_requests` |
//!
//! The body is `{"error": ..., "code": ..., "error_description": ..., "fix": ...}`: `code` is the
//! stable code ([`ValidationError::code`], or `missing_token`, `insufficient_scope`, ...).
//! The token itself never appears in a challenge.
//!
//! ```
//! use tollgate::challenge::ChallengeOptions;
//! use tollgate::ValidationError;
//!
//! let options = ChallengeOptions::new().realm("orders");
//! let err = ValidationError::Expired { exp: 1_000, now: 1_200, leeway: 60 };
//! let c = options.error(&err);
//! assert_eq!(c.status, 401);
//! assert_eq!(c.code, "expired");
//! assert!(c.www_authenticate.as_deref().unwrap().starts_with(
//!     r#"Bearer realm="orders", error="invalid_token", error_description="expired: the token expired"#
//! ));
//! assert_eq!(c.body["error"], "invalid_token");
//! assert_eq!(c.body["code"], "expired");
//! ```

use serde_json::{json, Value};

use crate::alg::Algorithm;
use crate::error::ValidationError;

/// The `Authorization` scheme a token came with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Bearer` (RFC 6750).
    #[default]
    Bearer,
    /// `DPoP` (RFC 9449 section 7.1).
    Dpop,
}

impl AuthScheme {
    /// The scheme as written in `Authorization` and `WWW-Authenticate`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Dpop => "DPoP",
        }
    }
}

/// Default `realm` in `WWW-Authenticate`: names the protection space (RFC 7235 section 2.2);
/// one name for every Tollgate front end unless the service picks its own.
pub const DEFAULT_REALM: &str = "tollgate";

/// Default `Retry-After` for "cannot verify now" (`keys_unavailable`): 5 s, about one
/// key-fetch cooldown, so a retrying client meets a fresh attempt without hammering.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// Default status for "cannot verify now": 503, because the client did nothing wrong and
/// may retry. Some proxies (nginx `auth_request`) turn anything but 2xx/401/403 into 500;
/// choose 401 there if clients should see a 4xx.
pub const DEFAULT_UNAVAILABLE_STATUS: u16 = 503;

/// The longest `error_description`, in characters: long enough for any Tollgate sentence,
/// short enough that a token stuffed with odd claims cannot make a huge header.
pub const MAX_DESCRIPTION_CHARS: usize = 400;

/// What to answer for a refused request: copy it into the HTTP response.
///
/// Build one with [`ChallengeOptions`]. [`Challenge::headers`] lists every header to set.
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    /// The HTTP status: 400, 401, 403, 429 (a client over its quota), or the "cannot verify
    /// now" status (503 by default).
    pub status: u16,
    /// The stable code: a [`ValidationError::code`], or `missing_token`,
    /// `insufficient_scope`, `insufficient_role`, `invalid_request`, or a front end's own.
    pub code: &'static str,
    /// The `WWW-Authenticate` value; `None` when the status does not call for one (503).
    pub www_authenticate: Option<String>,
    /// The JSON body: `error` (the RFC 6750 error, or `missing_token` /
    /// `temporarily_unavailable`), `code`, `error_description` and, when details are exposed
    /// and known, `fix`.
    pub body: Value,
    /// `Retry-After` seconds, for "cannot verify now" and 429.
    pub retry_after: Option<u64>,
}

impl Challenge {
    /// Every header of the answer, as (lower-case name, value): `content-type`,
    /// `cache-control: no-store`, `x-tollgate-error` (the code), and `www-authenticate` /
    /// `retry-after` when present. All values are visible ASCII.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".to_string()),
            ("x-tollgate-error", self.code.to_string()),
        ];
        if let Some(w) = &self.www_authenticate {
            h.push(("www-authenticate", w.clone()));
        }
        if let Some(s) = self.retry_after {
            h.push(("retry-after", s.to_string()));
        }
        h
    }

    /// The body as a JSON string.
    pub fn body_text(&self) -> String {
        self.body.to_string()
    }
}

/// How challenges are written: realm, how much detail clients see, and the answer to
/// "cannot verify now". Every front end holds one and asks it for each refusal.
///
/// ```
/// use tollgate::challenge::ChallengeOptions;
/// let c = ChallengeOptions::new().missing_token("the request has no Authorization header");
/// assert_eq!(c.status, 401);
/// assert_eq!(c.www_authenticate.as_deref(), Some(r#"Bearer realm="tollgate""#));
/// assert_eq!(c.body["code"], "missing_token");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChallengeOptions {
    /// `realm` in `WWW-Authenticate`. Default [`DEFAULT_REALM`].
    pub realm: String,
    /// Whether `error_description` and the body carry the full sentence (expected and found
    /// values) and the fix, or only the code. Default true: diagnosis is the point of
    /// Tollgate; set false if the accepted audiences or key ids must not be shown to clients.
    pub expose_details: bool,
    /// Status for "cannot verify now" (`keys_unavailable`). Default
    /// [`DEFAULT_UNAVAILABLE_STATUS`]. With 401 the answer carries an `invalid_token`
    /// challenge instead of `Retry-After`.
    pub unavailable_status: u16,
    /// `Retry-After` seconds sent with a 503, and named in the description of every
    /// "cannot verify now" answer ("retry after 5 s"). Default [`DEFAULT_RETRY_AFTER_SECS`].
    pub retry_after: u64,
    /// The `algs` parameter of `DPoP` challenges (RFC 9449 section 7.1): the proof
    /// algorithms accepted, space-separated. Default: every asymmetric algorithm.
    pub dpop_algs: String,
}

impl Default for ChallengeOptions {
    fn default() -> ChallengeOptions {
        ChallengeOptions {
            realm: DEFAULT_REALM.to_string(),
            expose_details: true,
            unavailable_status: DEFAULT_UNAVAILABLE_STATUS,
            retry_after: DEFAULT_RETRY_AFTER_SECS,
            dpop_algs: Algorithm::ASYMMETRIC
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl ChallengeOptions {
    /// The defaults (see each field).
    pub fn new() -> ChallengeOptions {
        ChallengeOptions::default()
    }
    /// Sets the `realm`.
    pub fn realm(mut self, realm: impl Into<String>) -> ChallengeOptions {
        self.realm = realm.into();
        self
    }
    /// Shows (true, default) or hides (false) the sentence and fix.
    pub fn expose_details(mut self, expose: bool) -> ChallengeOptions {
        self.expose_details = expose;
        self
    }
    /// Sets the status for "cannot verify now".
    pub fn unavailable_status(mut self, status: u16) -> ChallengeOptions {
        self.unavailable_status = status;
        self
    }
    /// Sets `Retry-After` seconds for "cannot verify now".
    pub fn retry_after(mut self, seconds: u64) -> ChallengeOptions {
        self.retry_after = seconds;
        self
    }
    /// Sets the `algs` of `DPoP` challenges.
    pub fn dpop_algs(mut self, algs: &[Algorithm]) -> ChallengeOptions {
        self.dpop_algs = algs
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self
    }

    /// The text clients see for a refusal: `code: sentence`, or only the code when details
    /// are not exposed.
    pub fn public_description(&self, code: &str, sentence: &str) -> String {
        if self.expose_details {
            format!("{code}: {sentence}")
        } else {
            code.to_string()
        }
    }

    /// The sentence a client may see for `err` (when details are exposed): its `Display`,
    /// whose token values are already cut (see [`crate::text`]), except for "cannot verify
    /// now" ([`ValidationError::is_unavailable`]): a fixed sentence with the `Retry-After`
    /// time. Why the keys are missing (the JWKS URL, the IdP's answer, an OS error) is for
    /// logs and the operator's views, never for an anonymous client; `err.to_string()` has
    /// it all.
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// use tollgate::ValidationError;
    /// let err = ValidationError::KeysUnavailable {
    ///     issuer: Some("https://idp.example".into()),
    ///     reason: "fetching http://10.0.0.7/jwks failed: HTTP status 500".into(),
    /// };
    /// assert_eq!(
    ///     ChallengeOptions::new().client_sentence(&err),
    ///     "cannot verify now: the token's signing keys are unavailable; retry after 5 s"
    /// );
    /// ```
    pub fn client_sentence(&self, err: &ValidationError) -> String {
        if let ValidationError::ReplayCacheUnavailable { .. } = err {
            return format!(
                "cannot verify now: the DPoP replay cache is unavailable; retry after {} s",
                self.retry_after
            );
        }
        if err.is_unavailable() {
            let what = match err {
                ValidationError::KeysUnavailable { .. } => "the token's signing keys are",
                _ => "the token's introspection endpoint is",
            };
            return format!(
                "cannot verify now: {what} unavailable; retry after {} s",
                self.retry_after
            );
        }
        err.to_string()
    }

    /// The answer for a rejected token: 401 `invalid_token`, "cannot verify now" for
    /// [`ValidationError::is_unavailable`] errors, 429 for
    /// [`ValidationError::is_rate_limited`] ones ([`too_many_requests`](ChallengeOptions::too_many_requests)).
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// use tollgate::ValidationError;
    /// let err = ValidationError::KeysUnavailable { issuer: None, reason: "timeout".into() };
    /// let c = ChallengeOptions::new().error(&err);
    /// assert_eq!((c.status, c.retry_after), (503, Some(5)));
    /// assert_eq!(c.www_authenticate, None);
    /// assert_eq!(c.body["error"], "temporarily_unavailable");
    /// ```
    pub fn error(&self, err: &ValidationError) -> Challenge {
        if err.is_rate_limited() {
            return self.too_many_requests(err);
        }
        let code = err.code();
        let sentence = self.client_sentence(err);
        let fix = self.expose_details.then(|| err.fix());
        if err.is_unavailable() {
            let status = self.unavailable_status;
            if status == 401 {
                return self.build(401, code, "invalid_token", Some(&sentence), None, fix);
            }
            let mut c = self.build(status, code, "temporarily_unavailable", None, None, fix);
            c.body["error_description"] = self.public_description(code, &sentence).into();
            if status == 503 {
                c.retry_after = Some(self.retry_after);
            }
            return c;
        }
        if err.is_dpop_error() {
            return self.dpop_error(err);
        }
        self.build(401, code, "invalid_token", Some(&sentence), None, fix)
    }

    /// The answer for a rejected token that came under `scheme`: like
    /// [`error`](ChallengeOptions::error), with a `DPoP` challenge (RFC 9449 section 7.1:
    /// `DPoP algs="...", error="invalid_dpop_proof"` for a bad proof, `invalid_token`
    /// otherwise) when the token came with the `DPoP` scheme or the refusal is about DPoP.
    /// "Cannot verify now" and 429 answers are the same whatever the scheme.
    ///
    /// ```
    /// use tollgate::challenge::{AuthScheme, ChallengeOptions};
    /// use tollgate::ValidationError;
    /// let o = ChallengeOptions::new().dpop_algs(&[tollgate::Algorithm::ES256]);
    /// let err = ValidationError::DpopReplayed { jti: "j1".into() };
    /// let c = o.error_for(&err, AuthScheme::Bearer);
    /// assert!(c.www_authenticate.unwrap().starts_with(
    ///     r#"DPoP realm="tollgate", algs="ES256", error="invalid_dpop_proof", error_description="dpop_replayed: "#));
    /// let expired = ValidationError::Expired { exp: 1, now: 100, leeway: 0 };
    /// let c = o.error_for(&expired, AuthScheme::Dpop);
    /// assert!(c.www_authenticate.unwrap().starts_with(r#"DPoP realm="tollgate", algs="ES256", error="invalid_token""#));
    /// ```
    pub fn error_for(&self, err: &ValidationError, scheme: AuthScheme) -> Challenge {
        if scheme == AuthScheme::Dpop && !err.is_unavailable() && !err.is_rate_limited() {
            return self.dpop_error(err);
        }
        self.error(err)
    }

    /// The answer for a client that sends too much (a DPoP key over its replay cache quota):
    /// 429 Too Many Requests (RFC 6585) with `Retry-After` (the refusal's own, at least 1 s),
    /// body `error` `too_many_requests`, and no `WWW-Authenticate`.
    ///
    /// Why 429 and not the 401 of the other DPoP refusals: the token and proof are good,
    /// only their rate is not. A 401 `invalid_dpop_proof` tells a DPoP client to make a new
    /// proof and retry at once, which is the flood again; 429 with `Retry-After` is the
    /// answer HTTP clients and their retry middleware already slow down for. Not 503
    /// either: the API is up for every other client, and a 503 would page the operator and
    /// send load balancers elsewhere for one client's fault. No challenge, since there is
    /// nothing to authenticate differently: a new proof with the same key is refused the
    /// same way until the time given.
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// use tollgate::ValidationError;
    /// let err = ValidationError::DpopKeyOverQuota { jkt: "k".into(), limit: 1000, retry_after: 12 };
    /// let c = ChallengeOptions::new().too_many_requests(&err);
    /// assert_eq!((c.status, c.retry_after, c.www_authenticate), (429, Some(12), None));
    /// assert_eq!(c.body["error"], "too_many_requests");
    /// assert_eq!(c.body["code"], "dpop_key_over_quota");
    /// ```
    pub fn too_many_requests(&self, err: &ValidationError) -> Challenge {
        let code = err.code();
        let fix = self.expose_details.then(|| err.fix());
        let mut c = self.build(429, code, "too_many_requests", None, None, fix);
        c.body["error_description"] = self
            .public_description(code, &self.client_sentence(err))
            .into();
        c.retry_after = Some(err.retry_after().unwrap_or(self.retry_after).max(1));
        c
    }

    fn dpop_error(&self, err: &ValidationError) -> Challenge {
        let code = err.code();
        let sentence = self.client_sentence(err);
        let fix = self.expose_details.then(|| err.fix());
        let error = if err.is_dpop_proof_error() {
            "invalid_dpop_proof"
        } else {
            "invalid_token"
        };
        let mut c = self.build(401, code, error, Some(&sentence), None, fix);
        if let Some(w) = c.www_authenticate.take() {
            c.www_authenticate = Some(self.dpop_header(&w));
        }
        c
    }

    /// Turns a `Bearer realm="..."...` challenge into its `DPoP` form, with `algs`.
    fn dpop_header(&self, bearer: &str) -> String {
        let rest = bearer.strip_prefix("Bearer ").unwrap_or(bearer);
        let (realm, params) = rest
            .split_once(", ")
            .map_or((rest, None), |(r, p)| (r, Some(p)));
        let mut out = format!("DPoP {realm}, algs=\"{}\"", scope_value(&self.dpop_algs));
        if let Some(p) = params {
            out.push_str(", ");
            out.push_str(p);
        }
        out
    }

    /// The answer for a request without a token, where DPoP is required: 401 with a bare
    /// `DPoP realm="...", algs="..."` challenge, code `missing_token`.
    pub fn missing_dpop_token(&self, description: &str) -> Challenge {
        let mut c = self.missing_token(description);
        if let Some(w) = c.www_authenticate.take() {
            c.www_authenticate = Some(self.dpop_header(&w));
        }
        if self.expose_details {
            c.body["fix"] =
                "send the access token as Authorization: DPoP <token> with a DPoP proof header"
                    .into();
        }
        c
    }

    /// The answer for a request without a usable bearer token: 401 with a bare `Bearer`
    /// challenge (RFC 6750 section 3.1: no error code when no credentials were sent), code
    /// `missing_token`. `description` says what was found instead.
    pub fn missing_token(&self, description: &str) -> Challenge {
        let mut c = self.build(401, "missing_token", "missing_token", None, None, None);
        c.body["error_description"] = self.public_description("missing_token", description).into();
        if self.expose_details {
            c.body["fix"] = "send the access token as Authorization: Bearer <token>".into();
        }
        c
    }

    /// The answer for a malformed request (for example two tokens at once): 400
    /// `invalid_request`.
    pub fn invalid_request(&self, description: &str) -> Challenge {
        self.build(
            400,
            "invalid_request",
            "invalid_request",
            Some(description),
            None,
            None,
        )
    }

    /// The answer for a request refused before its token was looked at, under a front
    /// end's own stable `code` (a gateway's request policy, for example
    /// `path_parameter`): 400 `invalid_request` with `description`.
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// let c = ChallengeOptions::new().bad_request("path_parameter", "the path has a ';'");
    /// assert_eq!((c.status, c.code), (400, "path_parameter"));
    /// assert_eq!(c.body["error"], "invalid_request");
    /// assert_eq!(c.body["error_description"], "path_parameter: the path has a ';'");
    /// ```
    pub fn bad_request(&self, code: &'static str, description: &str) -> Challenge {
        self.build(400, code, "invalid_request", Some(description), None, None)
    }

    /// The answer for a valid token that lacks what the route needs: 403
    /// `insufficient_scope`, with the route's `required_scopes` in the `scope` parameter
    /// (omitted when empty). `code` names the requirement (`insufficient_scope`,
    /// `insufficient_role`, ...), `description` says what was required and what was found.
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// let c = ChallengeOptions::new().forbidden(
    ///     "insufficient_scope",
    ///     "this route requires scope orders.write; the token grants orders.read",
    ///     &["orders.write"],
    /// );
    /// assert_eq!(c.status, 403);
    /// assert!(c.www_authenticate.unwrap().ends_with(r#", scope="orders.write""#));
    /// ```
    pub fn forbidden<S: AsRef<str>>(
        &self,
        code: &'static str,
        description: &str,
        required_scopes: &[S],
    ) -> Challenge {
        let scopes: Vec<&str> = required_scopes.iter().map(AsRef::as_ref).collect();
        let scope = (!scopes.is_empty()).then(|| scopes.join(" "));
        self.build(
            403,
            code,
            "insufficient_scope",
            Some(description),
            scope.as_deref(),
            None,
        )
    }

    /// The 403 for missing scopes: `required` are the scopes the route needs (all of them),
    /// `granted` the token's ([`Claims::scopes`](crate::Claims::scopes)). `None` when every
    /// required scope is granted.
    ///
    /// ```
    /// use tollgate::challenge::ChallengeOptions;
    /// let o = ChallengeOptions::new();
    /// assert!(o.require_scopes(&["a"], &["a", "b"]).is_none());
    /// let c = o.require_scopes(&["a", "c"], &["a"]).unwrap();
    /// assert_eq!(c.code, "insufficient_scope");
    /// assert_eq!(c.body["error_description"],
    ///     "insufficient_scope: this route requires scope c; the token grants a");
    /// ```
    pub fn require_scopes<S: AsRef<str>>(
        &self,
        required: &[S],
        granted: &[&str],
    ) -> Option<Challenge> {
        let description = missing_scopes(required, granted)?;
        Some(self.forbidden("insufficient_scope", &description, required))
    }

    /// The 403 for missing roles: like [`require_scopes`](ChallengeOptions::require_scopes)
    /// with the token's [`Claims::roles`](crate::Claims::roles); code `insufficient_role`.
    pub fn require_roles<S: AsRef<str>>(&self, required: &[S], held: &[&str]) -> Option<Challenge> {
        let description = missing_roles(required, held)?;
        Some(self.forbidden::<&str>("insufficient_role", &description, &[]))
    }

    fn build(
        &self,
        status: u16,
        code: &'static str,
        error: &'static str,
        sentence: Option<&str>,
        scope: Option<&str>,
        fix: Option<&'static str>,
    ) -> Challenge {
        let mut header = format!("Bearer realm=\"{}\"", quoted(&self.realm));
        let mut body = json!({"error": error, "code": code});
        if let Some(sentence) = sentence {
            let description = self.public_description(code, sentence);
            header.push_str(&format!(
                ", error=\"{error}\", error_description=\"{}\"",
                quoted(&description)
            ));
            body["error_description"] = description.into();
        }
        // RFC 6750: at least one scope token; an empty list is no parameter.
        if let Some(scope) = scope.map(scope_value).filter(|s| !s.is_empty()) {
            header.push_str(&format!(", scope=\"{scope}\""));
        }
        if let Some(fix) = fix {
            body["fix"] = fix.into();
        }
        let www_authenticate = (status == 401 || status == 403 || status == 400).then_some(header);
        Challenge {
            status,
            code,
            www_authenticate,
            body,
            retry_after: None,
        }
    }
}

/// Which of the `required` scopes are not `granted`, as the sentence of an
/// `insufficient_scope` refusal; `None` when all are granted.
///
/// ```
/// use tollgate::challenge::missing_scopes;
/// assert_eq!(missing_scopes(&["a", "b"], &["a"]).unwrap(),
///     "this route requires scope b; the token grants a");
/// assert_eq!(missing_scopes(&["a"], &["a"]), None);
/// ```
pub fn missing_scopes<S: AsRef<str>>(required: &[S], granted: &[&str]) -> Option<String> {
    shortfall(required, granted, "scope", "grants")
}

/// Which of the `required` roles are not `held`, as the sentence of an `insufficient_role`
/// refusal; `None` when all are held.
pub fn missing_roles<S: AsRef<str>>(required: &[S], held: &[&str]) -> Option<String> {
    shortfall(required, held, "role", "holds")
}

fn shortfall<S: AsRef<str>>(
    required: &[S],
    has: &[&str],
    what: &str,
    verb: &str,
) -> Option<String> {
    let missing: Vec<&str> = required
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !has.contains(s))
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "this route requires {what} {}; the token {verb} {}",
        missing.join(" "),
        if has.is_empty() {
            format!("no {what}")
        } else {
            has.join(" ")
        }
    ))
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 section 2.1), given every
/// `Authorization` value of the request, or why there is none: no header, more than one, not
/// ASCII, another scheme (`Basic`, ...), or `Bearer` without a token. The scheme is
/// case-insensitive. The reason is a sentence for [`ChallengeOptions::missing_token`]; it
/// never contains the header's value.
///
/// ```
/// use tollgate::challenge::bearer_token;
/// assert_eq!(bearer_token(&[b"bearer eyJ.x.y"]), Ok("eyJ.x.y"));
/// assert!(bearer_token(&[]).unwrap_err().contains("no Authorization header"));
/// assert!(bearer_token(&[b"Basic dXNlcg=="]).unwrap_err().contains("\"Basic\" scheme"));
/// assert!(bearer_token(&[b"Bearer a", b"Bearer b"]).unwrap_err().contains("more than one"));
/// assert!(bearer_token(&[b"eyJhbGciOi.eyJ.sig"]).unwrap_err().contains("without a scheme"));
/// ```
pub fn bearer_token<'a>(authorization: &[&'a [u8]]) -> Result<&'a str, String> {
    match credentials(authorization)? {
        (AuthScheme::Bearer, token) => Ok(token),
        (AuthScheme::Dpop, _) => Err(
            "the Authorization header uses the \"DPoP\" scheme; send Authorization: Bearer <access token>".into(),
        ),
    }
}

/// The scheme and token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>`
/// (RFC 9449 section 7.1; schemes compared ignoring case), with the same rules as
/// [`bearer_token`].
///
/// ```
/// use tollgate::challenge::{credentials, AuthScheme};
/// assert_eq!(credentials(&[b"DPoP abc"]), Ok((AuthScheme::Dpop, "abc")));
/// assert_eq!(credentials(&[b"bearer abc"]), Ok((AuthScheme::Bearer, "abc")));
/// assert!(credentials(&[b"DPoP abc", b"DPoP def"]).is_err());
/// ```
pub fn credentials<'a>(authorization: &[&'a [u8]]) -> Result<(AuthScheme, &'a str), String> {
    let value = match authorization {
        [] => return Err(
            "the request has no Authorization header; send Authorization: Bearer <access token>"
                .into(),
        ),
        [one] => *one,
        _ => {
            return Err(
                "the request has more than one Authorization header; send exactly one".into(),
            )
        }
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return Err("the Authorization header is not ASCII".into());
    };
    if !value.is_ascii() {
        return Err("the Authorization header is not ASCII".into());
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let found = if scheme.eq_ignore_ascii_case("bearer") {
        AuthScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        AuthScheme::Dpop
    } else {
        if scheme.starts_with("eyJ") && scheme.contains('.') {
            return Err("the Authorization header holds a token without a scheme; send Authorization: Bearer <access token>".into());
        }
        let shown: String = scheme.chars().take(20).collect();
        return Err(format!(
            "the Authorization header uses the {shown:?} scheme; send Authorization: Bearer <access token>"
        ));
    };
    let token = rest.trim();
    if token.is_empty() {
        return Err(format!(
            "the Authorization header says {} but holds no token",
            found.as_str()
        ));
    }
    Ok((found, token))
}

/// Makes text safe inside an RFC 6750 quoted string, whose `error_description` allows only
/// `%x20-21 / %x23-5B / %x5D-7E`: `"` becomes `'`, `\` becomes `/`, other characters outside
/// the set (controls, non-ASCII) become `?`; at most [`MAX_DESCRIPTION_CHARS`] characters.
///
/// ```
/// assert_eq!(tollgate::challenge::quoted("a \"b\"\\\r\né"), "a 'b'/???");
/// ```
pub fn quoted(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_DESCRIPTION_CHARS)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect();
    if text.chars().nth(MAX_DESCRIPTION_CHARS).is_some() {
        out.truncate(MAX_DESCRIPTION_CHARS - 3);
        out.push_str("...");
    }
    out
}

/// A `scope` parameter value (RFC 6750 section 3: scope tokens are `%x21 / %x23-5B /
/// %x5D-7E`, separated by single spaces): other characters become `?`.
fn scope_value(scopes: &str) -> String {
    scopes
        .split_whitespace()
        .map(|s| {
            s.chars()
                .map(|c| match c {
                    '"' | '\\' => '?',
                    '!'..='~' => c,
                    _ => '?',
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_in_description(c: char) -> bool {
        matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
    }

    fn allowed_in_scope(c: char) -> bool {
        matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
    }

    /// The parameters of a `Bearer` challenge, strictly: `name="value"` separated by `, `,
    /// with no quote or backslash inside values. `None` when the header is not that.
    fn parse(header: &str) -> Option<Vec<(String, String)>> {
        let mut rest = header.strip_prefix("Bearer ")?;
        let mut out = Vec::new();
        loop {
            let eq = rest.find("=\"")?;
            let name = &rest[..eq];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return None;
            }
            let after = &rest[eq + 2..];
            let end = after.find('"')?;
            let value = &after[..end];
            if value.contains('\\') {
                return None;
            }
            out.push((name.to_string(), value.to_string()));
            rest = &after[end + 1..];
            if rest.is_empty() {
                return Some(out);
            }
            rest = rest.strip_prefix(", ")?;
        }
    }

    /// The value of `name="..."` in a challenge.
    fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
        let start = header.find(&format!("{name}=\""))? + name.len() + 2;
        let end = header[start..].find('"')? + start;
        Some(&header[start..end])
    }

    #[test]
    fn every_error_maps_to_a_well_formed_challenge() {
        let hostile = "\"quote\\back\r\nX-Injected: 1\u{7f}\u{e9}\u{1F600}";
        let errors = vec![
            ValidationError::AudienceMismatch {
                expected: vec!["api".into()],
                found: vec![hostile.into()],
            },
            ValidationError::IssuerMismatch {
                expected: vec!["https://idp".into()],
                found: Some(hostile.repeat(100)),
            },
            ValidationError::Malformed {
                part: crate::TokenPart::Token,
                reason: hostile.into(),
            },
            ValidationError::KeysUnavailable {
                issuer: Some(hostile.into()),
                reason: hostile.into(),
            },
        ];
        for opts in [
            ChallengeOptions::new(),
            ChallengeOptions::new().unavailable_status(401),
            ChallengeOptions::new().realm(hostile).expose_details(false),
        ] {
            for err in &errors {
                let c = opts.error(err);
                assert_eq!(c.code, err.code());
                assert_eq!(c.body["code"], err.code());
                for (_, v) in c.headers() {
                    assert!(v.chars().all(|c| (' '..='~').contains(&c)), "{v:?}");
                }
                if let Some(w) = &c.www_authenticate {
                    assert!(parse(w).is_some(), "{w}");
                    let d = param(w, "error_description").unwrap();
                    assert!(d.chars().all(allowed_in_description), "{d:?}");
                    assert!(d.chars().count() <= MAX_DESCRIPTION_CHARS);
                    assert_eq!(param(w, "error"), Some("invalid_token"));
                }
            }
        }
    }

    #[test]
    fn statuses_follow_rfc_6750() {
        let o = ChallengeOptions::new();
        let expired = ValidationError::Expired {
            exp: 1,
            now: 100,
            leeway: 0,
        };
        let c = o.error(&expired);
        assert_eq!(c.status, 401);
        assert_eq!(c.retry_after, None);
        assert_eq!(c.body["error"], "invalid_token");
        assert_eq!(c.body["fix"], expired.fix());
        assert_eq!(c.body["error_description"], format!("expired: {expired}"));

        let hidden = ChallengeOptions::new()
            .expose_details(false)
            .error(&expired);
        assert_eq!(
            hidden.www_authenticate.as_deref(),
            Some(r#"Bearer realm="tollgate", error="invalid_token", error_description="expired""#)
        );
        assert_eq!(hidden.body.get("fix"), None);
        assert_eq!(hidden.body["error_description"], "expired");

        let unavailable = ValidationError::KeysUnavailable {
            issuer: None,
            reason: "connection refused".into(),
        };
        let c = o.error(&unavailable);
        assert_eq!(
            (c.status, c.retry_after, c.www_authenticate.as_ref()),
            (503, Some(5), None)
        );
        assert!(c.headers().contains(&("retry-after", "5".into())));
        let c = ChallengeOptions::new()
            .unavailable_status(401)
            .error(&unavailable);
        assert_eq!((c.status, c.retry_after), (401, None));
        assert_eq!(c.body["error"], "invalid_token");
        let c = ChallengeOptions::new()
            .unavailable_status(500)
            .error(&unavailable);
        assert_eq!(
            (c.status, c.retry_after, c.www_authenticate),
            (500, None, None)
        );

        let m = o.missing_token("no Authorization header");
        assert_eq!(
            m.www_authenticate.as_deref(),
            Some("Bearer realm=\"tollgate\"")
        );
        assert_eq!(
            m.body["error_description"],
            "missing_token: no Authorization header"
        );

        let r = o.invalid_request("two tokens");
        assert_eq!(r.status, 400);
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(
                r#"Bearer realm="tollgate", error="invalid_request", error_description="invalid_request: two tokens""#
            )
        );
    }

    /// Finding 5 of issue 11: why keys are missing (the fetch URL, the IdP's body, an OS
    /// error) never reaches the client, whatever the status and `expose_details`.
    #[test]
    fn unavailable_answers_carry_a_fixed_sentence() {
        let reason = "fetching the JWKS from http://127.0.0.1:7002/jwks failed: HTTP status 500 \
                      (body starts \"internal <b>error</b> secret-internal-hostname db01.corp\"); \
                      os error 111";
        let err = ValidationError::KeysUnavailable {
            issuer: Some("https://idp.example".into()),
            reason: reason.into(),
        };
        assert!(
            err.to_string().contains(reason),
            "logs keep the whole reason"
        );
        for (opts, status, retry) in [
            (ChallengeOptions::new(), 503, Some(5)),
            (ChallengeOptions::new().retry_after(30), 503, Some(30)),
            (ChallengeOptions::new().unavailable_status(401), 401, None),
            (ChallengeOptions::new().unavailable_status(500), 500, None),
        ] {
            let c = opts.error(&err);
            assert_eq!((c.status, c.retry_after), (status, retry));
            let expected = format!(
                "keys_unavailable: cannot verify now: the token's signing keys are unavailable; retry after {} s",
                opts.retry_after
            );
            assert_eq!(c.body["error_description"], expected.as_str());
            if let Some(w) = &c.www_authenticate {
                assert_eq!(param(w, "error_description"), Some(expected.as_str()));
            }
            let everything = format!("{} {:?}", c.body_text(), c.headers());
            for secret in [
                "127.0.0.1",
                "7002",
                "/jwks",
                "db01",
                "internal",
                "<b>",
                "os error",
                "HTTP status",
            ] {
                assert!(
                    !everything.contains(secret),
                    "{secret} leaked: {everything}"
                );
            }
        }
        let hidden = ChallengeOptions::new().expose_details(false).error(&err);
        assert_eq!(hidden.body["error_description"], "keys_unavailable");
    }

    #[test]
    fn scope_and_role_requirements() {
        let o = ChallengeOptions::new();
        let c = o
            .require_scopes(&["orders.write", "x\"y"], &["orders.read"])
            .unwrap();
        assert_eq!(c.status, 403);
        assert_eq!(
            c.www_authenticate.as_deref(),
            Some(concat!(
                r#"Bearer realm="tollgate", error="insufficient_scope", "#,
                r#"error_description="insufficient_scope: this route requires scope orders.write x'y; the token grants orders.read", "#,
                r#"scope="orders.write x?y""#
            ))
        );
        assert!(o.require_roles(&["admin"], &["admin"]).is_none());
        let c = o.require_roles(&["admin"], &[]).unwrap();
        assert_eq!(c.code, "insufficient_role");
        assert_eq!(c.body["error"], "insufficient_scope");
        assert_eq!(
            c.body["error_description"],
            "insufficient_role: this route requires role admin; the token holds no role"
        );
        assert_eq!(param(c.www_authenticate.as_deref().unwrap(), "scope"), None);
    }

    proptest::proptest! {
        /// Whatever a token or a configuration holds, the challenge is one well-formed
        /// header: visible ASCII, quotes only around parameters, a valid description.
        #[test]
        fn any_text_makes_a_well_formed_header(found in ".{0,600}", realm in ".{0,40}", scope in ".{0,40}") {
            let o = ChallengeOptions::new().realm(realm);
            let err = ValidationError::IssuerMismatch { expected: vec!["https://idp".into()], found: Some(found.clone()) };
            for c in [o.error(&err), o.forbidden("insufficient_scope", &found, &[scope.as_str()]), o.invalid_request(&found)] {
                let w = c.www_authenticate.unwrap();
                proptest::prop_assert!(w.chars().all(|c| (' '..='~').contains(&c)), "{:?}", w);
                let params = parse(&w);
                proptest::prop_assert!(params.is_some(), "{}", w);
                for (name, value) in params.unwrap() {
                    if name == "scope" {
                        proptest::prop_assert!(!value.is_empty());
                        proptest::prop_assert!(
                            value.split(' ').all(|t| !t.is_empty() && t.chars().all(allowed_in_scope)),
                            "{:?}", value
                        );
                    } else {
                        proptest::prop_assert!(value.chars().all(allowed_in_description), "{:?}", value);
                    }
                }
            }
        }
    }

    #[test]
    fn long_descriptions_are_cut() {
        let q = quoted(&"a".repeat(1000));
        assert_eq!(q.len(), MAX_DESCRIPTION_CHARS);
        assert!(q.ends_with("..."));
        assert_eq!(
            quoted(&"a".repeat(MAX_DESCRIPTION_CHARS)).len(),
            MAX_DESCRIPTION_CHARS
        );
    }
}
