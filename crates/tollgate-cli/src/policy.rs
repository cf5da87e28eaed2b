//! The policy flags `verify` and `doctor` share (one clap struct, flattened into both), so
//! both commands judge a token by the same rules.

use std::path::PathBuf;

use tollgate::{Algorithm, Policy, TypPolicy};

/// What the API accepts: issuers, audiences, algorithms, time rules, required claims.
#[derive(clap::Args, Clone, Debug)]
pub struct PolicyArgs {
    /// An accepted issuer (repeatable); `iss` must equal one exactly. Unless keys are given
    /// (`--jwks`, `--secret-file`), its keys are found by OIDC discovery. A `{tenantid}`
    /// template (`https://login.microsoftonline.com/{tenantid}/v2.0`) accepts each tenant's
    /// issuer, checked against the token's `tid`; give its keys with `--jwks`
    /// (`https://login.microsoftonline.com/organizations/discovery/v2.0/keys`).
    #[arg(long = "issuer", value_name = "ISS")]
    pub issuers: Vec<String>,
    /// An accepted tenant id for a `{tenantid}` issuer (repeatable; a GUID). Default: every
    /// tenant.
    #[arg(long = "tenant", value_name = "GUID")]
    pub tenants: Vec<String>,
    /// An accepted audience (repeatable). Any `aud` value equal to one passes.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// An allowed algorithm (repeatable). Default: every asymmetric algorithm, plus
    /// HS256/384/512 when `--secret-file` is given.
    #[arg(long = "alg", value_name = "ALG")]
    pub algs: Vec<String>,
    /// A file holding the HMAC secret for HS* tokens, used byte for byte (a trailing newline
    /// is part of the secret: write it with `printf`, not `echo`).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Clock leeway in seconds for exp, nbf and iat.
    #[arg(long, value_name = "SECS", default_value_t = tollgate::claims::DEFAULT_LEEWAY)]
    pub leeway: u64,
    /// Judge as if now were this Unix time (default: the system clock).
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    pub now: Option<i64>,
    /// Require this header `typ` (repeatable: any of them), e.g. `at+jwt`.
    #[arg(long = "require-typ", value_name = "TYP")]
    pub require_typ: Vec<String>,
    /// Require this claim to be present (repeatable).
    #[arg(long = "require-claim", value_name = "NAME")]
    pub require_claims: Vec<String>,
    /// Maximum age since `iat`, in seconds.
    #[arg(long, value_name = "SECS")]
    pub max_age: Option<u64>,
    /// Accept tokens without `exp` (refused by default).
    #[arg(long)]
    pub allow_no_exp: bool,
}

impl PolicyArgs {
    /// The policy the flags describe.
    pub fn policy(&self) -> Result<Policy, String> {
        let mut policy = Policy::new().leeway(self.leeway);
        policy.issuers = self.issuers.clone();
        if let Some(t) = self
            .tenants
            .iter()
            .find(|t| !tollgate::claims::is_tenant_id(&t.to_ascii_lowercase()))
        {
            return Err(format!(
                "--tenant {t:?} is not a tenant id: give the directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"
            ));
        }
        policy = policy.tenants(self.tenants.iter().cloned());
        policy.audiences = self.audiences.clone();
        policy.required_claims = self.require_claims.clone();
        policy.max_age = self.max_age;
        policy.require_exp = !self.allow_no_exp;
        if !self.require_typ.is_empty() {
            policy.typ = TypPolicy::OneOf(self.require_typ.clone());
        }
        if self.algs.is_empty() {
            if self.secret_file.is_some() {
                policy
                    .algorithms
                    .extend([Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
            }
        } else {
            policy.algorithms = self
                .algs
                .iter()
                .map(|a| a.parse::<Algorithm>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
        }
        Ok(policy)
    }

    /// "Now": `--now`, else the system clock.
    pub fn now(&self) -> i64 {
        self.now.unwrap_or_else(tollgate::clock::unix_now)
    }
}

/// What the request presented besides its token (sender-constrained tokens: DPoP, RFC 9449;
/// client certificates, RFC 8705), shared by `verify` and `doctor`. Given any of these
/// flags, a valid token is also checked against the request.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RequestArgs {
    /// The DPoP proof the request carried (its `DPoP` header; repeat it if the request had
    /// several). The token is then taken as sent with `Authorization: DPoP`.
    #[arg(long, value_name = "PROOF")]
    pub dpop: Vec<String>,
    /// The token was sent with `Authorization: Bearer` (to check a bound token sent that way).
    #[arg(long, conflicts_with = "dpop")]
    pub bearer: bool,
    /// The request's method (the proof's `htm` must equal it).
    #[arg(long, value_name = "METHOD", default_value = "GET")]
    pub method: String,
    /// The URL the API sees (behind a proxy: its configured public URL).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A proof the API already accepted (repeatable): the same proof again is a replay.
    #[arg(long, value_name = "PROOF")]
    pub dpop_seen: Vec<String>,
    /// The issuer's DPoP mode: `off`, `allowed` (default) or `required`.
    #[arg(long, value_name = "MODE", default_value = "allowed")]
    pub dpop_mode: String,
    /// The client certificate (PEM) the request came with, for certificate-bound tokens.
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
}

impl RequestArgs {
    /// True when any request flag was given.
    pub fn given(&self) -> bool {
        !self.dpop.is_empty()
            || self.bearer
            || self.url.is_some()
            || !self.dpop_seen.is_empty()
            || self.client_cert.is_some()
            || self.dpop_mode != "allowed"
    }

    /// The request these flags describe.
    pub fn request(&self) -> Result<tollgate::doctor::DpopRequest, String> {
        use tollgate::binding::{AuthScheme, CertFormat, ClientCert};
        let mode = self
            .dpop_mode
            .parse()
            .map_err(|e| format!("--dpop-mode: {e}"))?;
        let client_cert = match &self.client_cert {
            None => ClientCert::default(),
            Some(path) => {
                let pem = crate::input::read_file(&path.display().to_string())?;
                let der = tollgate::binding::read_client_cert(
                    &String::from_utf8_lossy(&pem),
                    CertFormat::EscapedPem,
                )
                .map_err(|e| format!("--client-cert {}: {e}", path.display()))?;
                ClientCert::Der(der)
            }
        };
        Ok(tollgate::doctor::DpopRequest {
            scheme: if self.bearer {
                AuthScheme::Bearer
            } else {
                AuthScheme::Dpop
            },
            proofs: self.dpop.iter().map(|p| p.trim().to_string()).collect(),
            method: self.method.clone(),
            url: self.url.clone(),
            seen: self.dpop_seen.clone(),
            options: tollgate::dpop::DpopOptions::default().mode(mode),
            client_cert,
        })
    }
}

/// Token introspection (RFC 7662) for opaque tokens, shared by `verify` and `doctor`: on
/// when `--introspection-client-id` is given, for the one `--issuer`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct IntrospectionArgs {
    /// Introspect opaque tokens as this client (needs exactly one `--issuer`, and the
    /// secret from `--introspection-secret-file` or `--introspection-secret-env`).
    #[arg(long, value_name = "ID")]
    pub introspection_client_id: Option<String>,
    /// A file holding the introspection client's secret (one trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    pub introspection_secret_file: Option<PathBuf>,
    /// An environment variable holding the introspection client's secret.
    #[arg(long, value_name = "VAR")]
    pub introspection_secret_env: Option<String>,
    /// The introspection endpoint (https, or http on loopback). Default: the
    /// `introspection_endpoint` of the issuer's discovery document.
    #[arg(long, value_name = "URL")]
    pub introspection_endpoint: Option<String>,
    /// Client authentication: `client_secret_basic` (default) or `client_secret_post`.
    #[arg(long, value_name = "METHOD")]
    pub introspection_auth: Option<String>,
    /// Introspect JWTs too (after their signature and claims pass), to see revocation.
    #[arg(long)]
    pub introspect_jwts: bool,
}

impl IntrospectionArgs {
    /// The library's options, or `None` when introspection is not asked for.
    pub fn options(&self) -> Result<Option<tollgate::introspection::IntrospectionOptions>, String> {
        use tollgate::introspection::{ClientAuth, ClientSecret, IntrospectionOptions};
        let Some(id) = &self.introspection_client_id else {
            let given = self.introspection_secret_file.is_some()
                || self.introspection_secret_env.is_some()
                || self.introspection_endpoint.is_some()
                || self.introspection_auth.is_some()
                || self.introspect_jwts;
            if given {
                return Err("the introspection options need --introspection-client-id".into());
            }
            return Ok(None);
        };
        let secret = match (&self.introspection_secret_file, &self.introspection_secret_env) {
            (Some(file), None) => ClientSecret::from_file(file)?,
            (None, Some(var)) => ClientSecret::from_env(var)?,
            _ => {
                return Err(
                    "give exactly one of --introspection-secret-file FILE and --introspection-secret-env VAR"
                        .into(),
                )
            }
        };
        let mut options =
            IntrospectionOptions::new(id.clone(), secret).introspect_jwts(self.introspect_jwts);
        if let Some(url) = &self.introspection_endpoint {
            options = options.endpoint(url.clone());
        }
        if let Some(auth) = &self.introspection_auth {
            options = options.auth(ClientAuth::parse(auth).ok_or_else(|| {
                format!("--introspection-auth must be client_secret_basic or client_secret_post, found {auth:?}")
            })?);
        }
        Ok(Some(options))
    }
}
