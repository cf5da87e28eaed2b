//! Multi-tenant issuers end to end, through the binaries: `tollgate issuer --multi-tenant`
//! (Entra-shaped: a `{tenantid}` discovery issuer, keys with `issuer` members, a tenant per
//! token request) and `tollgate serve` with the gateway README's Entra configuration,
//! answering forward-auth `/verify` for: the right tenant, another allowed tenant, a tenant
//! not allowed, a missing `tid`, an `iss` naming another tenant than `tid`, a
//! personal-account key for an organisation's `iss`, a personal-account token, and v1 and v2
//! tokens with both audience spellings. Then `tollgate verify --tenant` on the same tokens.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const FABRIKAM: &str = "0b5a1f7e-3c4d-4e8f-9a0b-1c2d3e4f5a6b";
const OTHER: &str = "11111111-2222-4333-8444-555555555555";
const PERSONAL: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn tollgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    c.env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

/// A child process stopped (SIGTERM, then kill) by its own PID when dropped.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines until `done` says so (or 30 s, or the end); returns everything read.
fn read_until<R: BufRead>(r: &mut R, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
        if done(&line) {
            break;
        }
    }
    seen
}

fn banner_value(banner: &str, label: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{banner}"))
}

struct Issuer {
    _child: Stopped,
    template: String,
    token_endpoint: String,
    discovery: String,
    jwks: String,
    base: String,
}

fn start_issuer() -> Issuer {
    let mut child = tollgate()
        .args(["issuer", "--listen", "127.0.0.1:0", "--multi-tenant"])
        .args([
            "--audience",
            &format!("api://{CLIENT}"),
            "--audience",
            CLIENT,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out: BufReader<ChildStdout> = BufReader::new(child.stdout.take().unwrap());
    let child = Stopped(child);
    let banner = read_until(&mut out, |l| l.starts_with("Press Ctrl-C"));
    // Keep draining stdout so the issuer never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let template = banner_value(&banner, "issuer");
    let token_endpoint = banner_value(&banner, "token endpoint");
    let base = token_endpoint.trim_end_matches("/token").to_string();
    Issuer {
        _child: child,
        template,
        discovery: banner_value(&banner, "discovery"),
        jwks: banner_value(&banner, "jwks"),
        token_endpoint,
        base,
    }
}

impl Issuer {
    fn iss(&self, tid: &str) -> String {
        self.template.replace("{tenantid}", tid)
    }

    async fn token(&self, http: &reqwest::Client, form: &str) -> (u16, Value) {
        let r = http
            .post(&self.token_endpoint)
            .basic_auth("dev", Some("dev-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials{form}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.text().await.unwrap()).unwrap(),
        )
    }

    async fn access_token(&self, http: &reqwest::Client, form: &str) -> String {
        let (status, body) = self.token(http, form).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn mint(&self, http: &reqwest::Client, header: Value, claims: Value) -> String {
        let r = http
            .post(format!("{}/admin/mint", self.base))
            .header("content-type", "application/json")
            .body(json!({"header": header, "claims": claims}).to_string())
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        body["token"].as_str().unwrap().to_string()
    }
}

/// The gateway README's Entra ID configuration (organisations, v1 and v2, both audience
/// spellings, two tenants), pointed at the dev issuer.
fn gateway_config(idp: &Issuer) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[[issuer]]
issuer = "{template}"
aliases = ["{v1}"]
discovery_url = "{discovery}"
tenants = ["{CONTOSO}", "{FABRIKAM}"]
audiences = ["api://{CLIENT}", "{CLIENT}"]

[[route]]
path = "/"
issuers = ["{template}"]   # a route names a templated issuer like any other

[headers]
X-Auth-Tenant = "tid"
"#,
        template = idp.template,
        v1 = idp.template.replace("/v2.0", "/v1/"),
        discovery = idp.discovery,
    )
}

fn start_gateway(config: &str, dir: &std::path::Path) -> (Stopped, String, String) {
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = tollgate()
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err: BufReader<ChildStderr> = BufReader::new(child.stderr.take().unwrap());
    let child = Stopped(child);
    let log = read_until(&mut err, |l| l.contains("gateway listening"));
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let addr = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "gateway listening")
        .and_then(|v| v["addr"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no startup line:\n{log}"));
    (child, addr, log)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let text = http.get(url).send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
}

async fn verify(http: &reqwest::Client, addr: &str, token: &str) -> (u16, String, String) {
    let r = http
        .get(format!("http://{addr}/verify"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/orders/1")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let (code, tenant) = (header("x-tollgate-error"), header("x-auth-tenant"));
    (r.status().as_u16(), code, tenant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_shaped_tenants_through_tollgate_serve() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let idp = start_issuer();
        assert!(
            idp.template.ends_with("/{tenantid}/v2.0"),
            "{}",
            idp.template
        );

        // The dev issuer looks like Entra's common endpoint.
        let doc: Value = get_json(&http, &idp.discovery).await;
        assert_eq!(doc["issuer"], idp.template.as_str());
        let jwks: Value = get_json(&http, &idp.jwks).await;
        let issuers: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["issuer"].as_str().unwrap())
            .collect();
        assert!(issuers.contains(&idp.template.as_str()), "{issuers:?}");
        assert!(issuers.contains(&idp.iss(PERSONAL).as_str()), "{issuers:?}");
        let personal_kid = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["issuer"] == idp.iss(PERSONAL).as_str())
            .and_then(|k| k["kid"].as_str())
            .unwrap()
            .to_string();

        // The token endpoint: a tenant per request, only a tenant id; unknown audiences granted.
        let contoso = idp.access_token(&http, &format!("&tenant={CONTOSO}")).await;
        let (status, body) = idp.token(&http, "&tenant=x%2F..%2Fevil").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        let other_api = idp
            .access_token(
                &http,
                &format!("&tenant={CONTOSO}&audience=api://somewhere-else"),
            )
            .await;

        let dir = tempfile::tempdir().unwrap();
        let (_gw, addr, log) = start_gateway(&gateway_config(&idp), dir.path());
        assert!(!log.contains("every tenant is accepted"), "{log}");

        let fabrikam = idp
            .access_token(&http, &format!("&tenant={FABRIKAM}"))
            .await;
        let other = idp.access_token(&http, &format!("&tenant={OTHER}")).await;
        let personal = idp
            .access_token(&http, &format!("&tenant={PERSONAL}"))
            .await;
        let no_tid = idp
            .mint(
                &http,
                json!({}),
                json!({"iss": idp.iss(CONTOSO), "tid": null, "aud": CLIENT}),
            )
            .await;
        let crossed = idp
            .mint(
                &http,
                json!({}),
                json!({"iss": idp.iss(FABRIKAM), "tid": CONTOSO}),
            )
            .await;
        let forged = idp
            .mint(
                &http,
                json!({"kid": personal_kid}),
                json!({"iss": idp.iss(CONTOSO), "tid": CONTOSO}),
            )
            .await;
        let v1 = idp
            .mint(
                &http,
                json!({}),
                json!({"iss": idp.template.replace("/v2.0", "/v1/").replace("{tenantid}", CONTOSO),
                       "tid": CONTOSO, "aud": CLIENT, "ver": "1.0"}),
            )
            .await;
        let v1_wrong_tenant = idp
            .mint(
                &http,
                json!({}),
                json!({"iss": idp.template.replace("/v2.0", "/v1/").replace("{tenantid}", OTHER),
                       "tid": OTHER}),
            )
            .await;

        let cases = [
            (
                "right tenant (v2, api:// audience)",
                &contoso,
                200,
                "",
                CONTOSO,
            ),
            ("another allowed tenant", &fabrikam, 200, "", FABRIKAM),
            ("v1 token, bare client id audience", &v1, 200, "", CONTOSO),
            (
                "a tenant not allowed",
                &other,
                401,
                "tenant_not_allowed",
                "",
            ),
            (
                "v1, a tenant not allowed",
                &v1_wrong_tenant,
                401,
                "tenant_not_allowed",
                "",
            ),
            (
                "personal account to an organisations API",
                &personal,
                401,
                "tenant_not_allowed",
                "",
            ),
            ("no tid", &no_tid, 401, "tenant_missing", ""),
            (
                "iss names another tenant than tid",
                &crossed,
                401,
                "issuer_mismatch",
                "",
            ),
            (
                "personal-account key, organisation iss",
                &forged,
                401,
                "key_issuer_mismatch",
                "",
            ),
            (
                "another API's audience",
                &other_api,
                401,
                "audience_mismatch",
                "",
            ),
        ];
        for (what, token, status, code, tenant) in cases {
            let got = verify(&http, &addr, token).await;
            assert_eq!(
                got,
                (status, code.to_string(), tenant.to_string()),
                "{what}"
            );
        }

        // Without `tenants`, every tenant passes and the gateway says so once at start.
        let open = gateway_config(&idp)
            .replace(&format!("tenants = [\"{CONTOSO}\", \"{FABRIKAM}\"]\n"), "");
        let (_gw2, addr2, log2) = start_gateway(&open, dir.path());
        assert_eq!(
            log2.matches("every tenant is accepted").count(),
            1,
            "{log2}"
        );
        assert_eq!(verify(&http, &addr2, &other).await.0, 200);
        assert_eq!(verify(&http, &addr2, &personal).await.0, 200);
        assert_eq!(
            verify(&http, &addr2, &forged).await.1,
            "key_issuer_mismatch"
        );

        // `tollgate verify` with the same template, keys and tenants.
        let (template, jwks_url) = (idp.template.clone(), idp.jwks.clone());
        let cli = move |token: &str, tenants: &[&str]| {
            let mut c = tollgate();
            c.args([
                "verify", "--json", "--issuer", &template, "--jwks", &jwks_url,
            ]);
            c.args(["--audience", &format!("api://{CLIENT}")]);
            for t in tenants {
                c.args(["--tenant", t]);
            }
            let out = c.arg(token).output().unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (out.status.code(), v["code"].as_str().map(str::to_string))
        };
        // `tollgate doctor` names the cause, in Entra's terms.
        let (template, jwks_url) = (idp.template.clone(), idp.jwks.clone());
        let doctor = move |token: &str| {
            let out = tollgate()
                .args([
                    "doctor", "--json", "--issuer", &template, "--jwks", &jwks_url,
                ])
                .args([
                    "--audience",
                    &format!("api://{CLIENT}"),
                    "--tenant",
                    CONTOSO,
                ])
                .arg(token)
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            v["causes"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let (contoso, other, forged) = (contoso.clone(), other.clone(), forged.clone());
        let (personal, no_tid) = (personal.clone(), no_tid.clone());
        let results = tokio::task::spawn_blocking(move || {
            let causes = [
                doctor(&other),
                doctor(&forged),
                doctor(&personal),
                doctor(&no_tid),
            ];
            assert_eq!(
                causes,
                [
                    "tenant_not_allowed",
                    "key_issuer_mismatch",
                    "personal_account_to_organizations_api",
                    "tenant_missing"
                ]
            );
            [
                cli(&contoso, &[CONTOSO]),
                cli(&other, &[CONTOSO]),
                cli(&forged, &[]),
            ]
        })
        .await
        .unwrap();
        assert_eq!(results[0].0, Some(0), "{results:?}");
        assert_eq!(
            results[1].1.as_deref(),
            Some("tenant_not_allowed"),
            "{results:?}"
        );
        assert_eq!(
            results[2].1.as_deref(),
            Some("key_issuer_mismatch"),
            "{results:?}"
        );
    })
    .await
    .unwrap();
}
