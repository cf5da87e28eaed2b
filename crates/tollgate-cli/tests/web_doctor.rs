//! The doctor's web page (issue 16), end to end: `tollgate doctor --web` served by the real
//! binary, tokens minted by the dev issuer, and Debian's chromium driving the page through
//! chromedriver (headless, fresh profile). Six causes are pasted and their verdict, top
//! cause and fix read back from the rendered page; the page must have made no request to
//! another origin; screenshots at desktop and phone widths are written to `target/`.
//!
//! The "fix it in your stack" snippets are checked where a checker exists: the TOML by
//! `tollgate serve --check-config`, the Node (`jose`) and Python (PyJWT) snippets by running
//! them against the dev issuer (peers from `interop/`, installed by `interop/setup.sh`).

#[allow(dead_code)] // shared with tests/interop.rs; this suite uses the process and peers parts
mod interop_support;
mod web_doctor {
    pub mod webdriver;
}

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use interop_support::peers::peers;
use interop_support::process::{self, Server};
use serde_json::{json, Value};
use tollgate::{jws, Algorithm, SigningKey};
use tollgate_issuer::{DevIssuer, IssuerOptions};
use web_doctor::webdriver::{self, Driver};

/// How long the page server may live.
const PAGE_LIMIT: Duration = Duration::from_secs(600);
/// How long a rendered verdict may take to appear (discovery and key fetches included).
const RENDER_LIMIT: Duration = Duration::from_secs(60);

const TID: &str = "4a8f6c1e-93b2-4d7a-b0e5-2c61f9d8a3b7";
const OTHER_TID: &str = "0b3c9a51-2b5a-4d9c-9c9a-5f5d1c0e7a11";
const API_CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

fn now() -> i64 {
    tollgate::clock::unix_now()
}

/// One pasted token with the expectations typed into the form, and what the page must say.
struct Case {
    name: &'static str,
    token: String,
    issuers: Vec<String>,
    audiences: Vec<String>,
    jwks_url: Option<String>,
    jwks: Option<String>,
    algorithms: &'static str,
    offline: bool,
    verdict: &'static str,
    top_cause: &'static str,
    fix_contains: String,
    other_cause: Option<&'static str>,
}

impl Case {
    /// The same expectations as the API's JSON request.
    fn request(&self) -> Value {
        json!({
            "token": self.token,
            "issuers": self.issuers,
            "audiences": self.audiences,
            "jwks_url": self.jwks_url,
            "jwks": self.jwks,
            "algorithms": self.algorithms.split(',').map(str::trim).filter(|a| !a.is_empty()).collect::<Vec<_>>(),
            "offline": self.offline,
        })
    }
}

/// The six causes the issue names, minted by (or beside) the dev issuer.
fn cases(issuer: &DevIssuer) -> Vec<Case> {
    let url = issuer.url();
    let aud = issuer.audience();
    let jwks_text = issuer.jwks().to_string();
    let entra = |tid: &str| format!("https://login.microsoftonline.com/{tid}/v2.0");
    let n = now();

    // Keys rotated: the API holds the set from before the rotation; the issuer signs with
    // the new key and still publishes the old one (grace period).
    let before_rotation = jwks_text.clone();
    issuer.rotate();
    let rotated = issuer.mint(json!({}), json!({}));

    let hs = SigningKey::hmac(
        Algorithm::HS256,
        b"client-secret-of-the-spa-app-0123456789",
        "",
    )
    .expect("hmac key");
    let hs_token = jws::sign(
        &json!({"typ": "JWT"}),
        &json!({"iss": url, "aud": aud, "sub": "spa-user", "iat": n, "exp": n + 3600}),
        &hs,
    )
    .expect("hs256 token");
    let live_jwks = issuer.jwks().to_string();

    vec![
        Case {
            name: "keys_rotated",
            token: rotated,
            issuers: vec![url.clone()],
            audiences: vec![aud.clone()],
            jwks_url: None,
            jwks: Some(before_rotation),
            algorithms: "",
            offline: false,
            verdict: "invalid",
            top_cause: "keys_rotated",
            fix_contains: "jwks_uri".into(),
            other_cause: None,
        },
        Case {
            name: "other_tenant",
            token: issuer.mint(
                json!({"typ": "JWT"}),
                json!({"iss": entra(OTHER_TID), "tid": OTHER_TID, "aud": API_CLIENT, "ver": "2.0", "scp": "access_as_user"}),
            ),
            issuers: vec![entra(TID)],
            audiences: vec![API_CLIENT.into()],
            jwks_url: None,
            jwks: Some(live_jwks.clone()),
            algorithms: "",
            offline: true,
            verdict: "invalid",
            top_cause: "token_from_other_issuer",
            fix_contains: OTHER_TID.into(),
            other_cause: None,
        },
        Case {
            name: "audience_near_miss",
            token: issuer.mint(json!({}), json!({"aud": format!("{aud}/")})),
            issuers: vec![url.clone()],
            audiences: vec![aud.clone()],
            jwks_url: Some(issuer.jwks_url()),
            jwks: None,
            algorithms: "",
            offline: false,
            verdict: "invalid",
            top_cause: "audience_near_miss",
            fix_contains: format!("{aud}/"),
            other_cause: None,
        },
        Case {
            name: "hs256_vs_rs256",
            token: hs_token,
            issuers: vec![url.clone()],
            audiences: vec![aud.clone()],
            jwks_url: None,
            jwks: Some(live_jwks.clone()),
            algorithms: "RS256",
            offline: true,
            verdict: "invalid",
            top_cause: "symmetric_token",
            fix_contains: "RS256".into(),
            other_cause: None,
        },
        Case {
            name: "expired_clock_skew",
            token: issuer.mint(json!({}), json!({"iat": n - 3720, "exp": n - 120})),
            issuers: vec![url.clone()],
            audiences: vec![aud.clone()],
            jwks_url: None,
            jwks: None,
            algorithms: "",
            offline: false,
            verdict: "invalid",
            top_cause: "token_expired",
            fix_contains: "new token".into(),
            other_cause: Some("clock_skew"),
        },
        Case {
            name: "okta_org_server",
            token: issuer.mint(
                json!({"typ": "application/okta-internal-at+jwt", "kid": "org-kid-1"}),
                json!({"ver": 1, "jti": "AT.x9ak2", "iss": "https://dev-4815162.okta.com", "aud": "https://dev-4815162.okta.com", "cid": "0oa1b2c3", "uid": "00u1", "scp": ["openid", "profile"], "sub": "alice@example.com"}),
            ),
            issuers: vec!["https://dev-4815162.okta.com/oauth2/default".into()],
            audiences: vec!["api://default".into()],
            jwks_url: None,
            jwks: Some(live_jwks),
            algorithms: "",
            offline: true,
            verdict: "invalid",
            top_cause: "okta_org_authorization_server",
            fix_contains: "/oauth2/".into(),
            other_cause: None,
        },
    ]
}

/// `tollgate doctor --web`, running; its page URL.
fn page_server() -> (Server, String) {
    let mut server = Server::start(
        "tollgate doctor --web",
        Path::new(env!("CARGO_BIN_EXE_tollgate")),
        &["doctor".into(), "--web".into()],
        None,
        PAGE_LIMIT,
    )
    .expect("tollgate doctor --web starts");
    let line = server
        .wait_for("open http://", Duration::from_secs(60))
        .expect("the page URL is printed");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/doctor"),
        "{url}"
    );
    (server, url)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn cause_ids(report: &Value) -> Vec<String> {
    report["causes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The API behind the page answers the six cases with the expected top cause and fix, the
/// report carrying the page's data (parts without the signature, meanings, timeline, keys,
/// fetches) and one snippet per stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_diagnoses_the_six_causes() {
    let issuer = DevIssuer::start(IssuerOptions::default())
        .await
        .expect("issuer");
    let (_server, url) = page_server();
    let api = url.replace("/doctor", "/doctor/api/diagnose");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for case in cases(&issuer) {
        let r = client
            .post(&api)
            .header("content-type", "application/json")
            .body(case.request().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", case.name);
        let body = json_of(r).await;
        let report = &body["report"];
        let ids = cause_ids(report);
        assert_eq!(report["verdict"], case.verdict, "{}: {ids:?}", case.name);
        assert_eq!(
            ids.first().map(String::as_str),
            Some(case.top_cause),
            "{}: {ids:?}",
            case.name
        );
        let fix = report["causes"][0]["fix"].as_str().unwrap();
        assert!(fix.contains(&case.fix_contains), "{}: {fix}", case.name);
        if let Some(other) = case.other_cause {
            assert!(ids.iter().any(|i| i == other), "{}: {ids:?}", case.name);
        }
        // The page's data is in the report; the signature is not.
        let sig = case.token.rsplit('.').next().unwrap();
        assert!(
            !body.to_string().contains(sig),
            "{}: the signature leaked",
            case.name
        );
        assert_eq!(report["parts"][2]["name"], "signature");
        assert!(report["parts"][2]["text"].is_null());
        assert!(report["claim_meanings"]["iss"]
            .as_str()
            .unwrap()
            .contains("Issuer"));
        assert!(report["timeline"]["exp"].is_i64(), "{}", case.name);
        assert_eq!(body["snippets"].as_array().unwrap().len(), 5);
        if case.name == "keys_rotated" {
            assert!(report["rotation"]
                .as_str()
                .unwrap()
                .contains(&issuer.current_kid()));
            let api_keys = &report["keys"][0];
            assert_eq!(api_keys["role"], "api");
            assert_eq!(api_keys["token_kid"], issuer.current_kid());
            assert!(api_keys["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["fit"] != "match"));
            let live = report["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["role"] == "live")
                .unwrap();
            assert_eq!(live["keys"][0]["fit"], "match");
            let fetched: Vec<&str> = report["fetches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["url"].as_str().unwrap())
                .collect();
            assert_eq!(fetched, [issuer.discovery_url(), issuer.jwks_url()]);
        }
        if case.offline {
            assert_eq!(
                report["fetches"],
                json!([]),
                "{}: offline fetches nothing",
                case.name
            );
        }
    }
    issuer.shutdown().await;
}

/// Hostile requests to the API: other origins, other hosts, non-JSON bodies, oversized
/// bodies, unknown members, long lists and URLs that may not be fetched are refused with
/// a stable error, and every answer carries the security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_what_a_web_page_elsewhere_could_send() {
    let (_server, url) = page_server();
    let api = url.replace("/doctor", "/doctor/api/diagnose");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let ok = json!({"token": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln", "offline": true});
    let post = |body: String, headers: Vec<(&'static str, String)>| {
        let mut req = client.post(&api).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let json_ct = ("content-type", "application/json".to_string());
    let r = post(ok.to_string(), vec![json_ct.clone()]).await.unwrap();
    assert_eq!(r.status(), 200);
    for (name, headers, status) in [
        (
            "foreign origin",
            vec![json_ct.clone(), ("origin", "https://evil.example".into())],
            403,
        ),
        (
            "null origin",
            vec![json_ct.clone(), ("origin", "null".into())],
            403,
        ),
        (
            "rebound host",
            vec![json_ct.clone(), ("host", "evil.example".into())],
            403,
        ),
        (
            "form post",
            vec![("content-type", "application/x-www-form-urlencoded".into())],
            415,
        ),
        (
            "text post",
            vec![("content-type", "text/plain".into())],
            415,
        ),
    ] {
        let r = post(ok.to_string(), headers).await.unwrap();
        assert_eq!(r.status(), status, "{name}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{name}");
    }
    for (name, body) in [
        ("not JSON", "{".to_string()),
        (
            "unknown member",
            json!({"token": "x", "secret": "y"}).to_string(),
        ),
        (
            "duplicate token",
            r#"{"token": "a", "token": "b"}"#.to_string(),
        ),
        ("no token", json!({"issuers": []}).to_string()),
        ("empty token", json!({"token": "  "}).to_string()),
        (
            "long list",
            json!({"token": "a.b.c", "audiences": vec!["a"; 100]}).to_string(),
        ),
        (
            "bad alg",
            json!({"token": "a.b.c", "algorithms": ["none"]}).to_string(),
        ),
        (
            "keys as text",
            json!({"token": ok["token"], "jwks": "not json", "offline": true}).to_string(),
        ),
    ] {
        let r = post(body, vec![json_ct.clone()]).await.unwrap();
        assert_eq!(r.status(), 400, "{name}");
        let v = json_of(r).await;
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name}: {v}"
        );
    }
    // A key URL that may not be fetched (plain HTTP off loopback) is not fetched: the
    // report says why and cannot check the token.
    let r = post(
        json!({"token": ok["token"], "jwks_url": "http://idp.example/keys"}).to_string(),
        vec![json_ct.clone()],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v = json_of(r).await;
    assert_eq!(v["report"]["causes"][0]["id"], "jwks_unreachable", "{v}");
    assert!(
        v["report"]["fetches"][0]["outcome"]
            .as_str()
            .unwrap()
            .contains("https"),
        "{v}"
    );
    // Extreme times and leeways are diagnosed, not a crash.
    let extreme = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLyIsImF1ZCI6ImFwaSIsImV4cCI6OTIyMzM3MjAzNjg1NDc3NTgwNywiaWF0IjotOTIyMzM3MjAzNjg1NDc3NTgwOCwibmJmIjoxZTMwMH0.c2ln";
    for now in [i64::MAX, i64::MIN, 0] {
        for leeway in [0, u64::MAX] {
            let body = json!({"token": extreme, "issuers": ["https://idp.example"], "offline": true, "now": now, "leeway": leeway});
            let r = post(body.to_string(), vec![json_ct.clone()]).await.unwrap();
            assert_eq!(r.status(), 200, "now {now}, leeway {leeway}");
        }
    }
    let big = json!({"token": "a".repeat(300 * 1024)}).to_string();
    let r = post(big, vec![json_ct.clone()]).await.unwrap();
    assert_eq!(r.status(), 413);
    let page = client.get(&url).send().await.unwrap();
    let h = page.headers();
    assert_eq!(h["content-security-policy"], tollgate_gateway::web::CSP);
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    // Nothing from another origin: every src and href is this origin's.
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            assert!(
                part.starts_with('/'),
                "{attr}{}",
                &part[..part.len().min(40)]
            );
        }
    }
}

/// Chromium pastes the six tokens into the page and reads the verdict, the top cause and
/// its fix; the page made no request to another origin; screenshots at desktop and phone
/// widths land in `target/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_six_causes() {
    let issuer = DevIssuer::start(IssuerOptions::default())
        .await
        .expect("issuer");
    let (_server, url) = page_server();
    let origin = url.trim_end_matches("/doctor").to_string();
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    let shots = target_dir().join("web-doctor");

    for case in cases(&issuer) {
        browser.goto(&url).await;
        browser
            .wait_for("return document.readyState === 'complete'", RENDER_LIMIT)
            .await;
        let fields = [
            ("#token", case.token.clone()),
            ("#issuers", case.issuers.join("\n")),
            ("#audiences", case.audiences.join("\n")),
            ("#jwks_url", case.jwks_url.clone().unwrap_or_default()),
            ("#jwks", case.jwks.clone().unwrap_or_default()),
            ("#algorithms", case.algorithms.to_string()),
        ];
        for (selector, value) in &fields {
            browser.fill(selector, value).await;
        }
        if case.offline {
            browser.find("#offline").await.click().await;
        }
        browser.find("#diagnose").await.click().await;
        let verdict = browser
            .wait_for(
                "return document.getElementById('verdict').dataset.verdict || (document.getElementById('error').hidden ? '' : 'error: ' + document.getElementById('error').textContent)",
                RENDER_LIMIT,
            )
            .await;
        assert_eq!(verdict, case.verdict, "{}", case.name);
        let top = browser
            .script(
                "return document.getElementById('top-cause').dataset.cause",
                json!([]),
            )
            .await;
        assert_eq!(top, case.top_cause, "{}", case.name);
        let fix = browser.find("#top-fix").await.text().await;
        assert!(fix.starts_with("Fix: "), "{}: {fix}", case.name);
        assert!(fix.contains(&case.fix_contains), "{}: {fix}", case.name);
        let verdict_text = browser.find("#verdict").await.text().await;
        assert!(
            verdict_text.starts_with("Refused"),
            "{}: {verdict_text}",
            case.name
        );
        if let Some(other) = case.other_cause {
            let others = browser.find("#other-causes").await.text().await;
            assert!(others.contains(other), "{}: {others}", case.name);
        }
        // The checklist, the claims with their meanings, the timeline and the snippets are drawn.
        let drawn = browser
            .script(
                "return [document.querySelectorAll('#checks li').length, document.querySelectorAll('#claims-table tbody tr').length, document.querySelectorAll('#timeline svg line').length, document.querySelectorAll('#stacks button').length, document.getElementById('stack-code').textContent.length]",
                json!([]),
            )
            .await;
        let drawn: Vec<i64> = drawn
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert!(
            drawn[0] >= 8 && drawn[1] >= 3 && drawn[2] >= 3 && drawn[3] == 5 && drawn[4] > 50,
            "{}: {drawn:?}",
            case.name
        );
        if case.name == "keys_rotated" {
            let rotation = browser.find("#rotation").await.text().await;
            assert!(rotation.contains(&issuer.current_kid()), "{rotation}");
            let tid_meaning = browser.find("#claims-table").await.text().await;
            assert!(
                tid_meaning.contains("Issuer: who made the token"),
                "{tid_meaning}"
            );
            // Whole-page pictures: the window as tall as the page (bounded).
            browser.script("window.scrollTo(0, 0)", json!([])).await;
            let height = |v: Value| v.as_i64().unwrap_or(1000).clamp(800, 4000) as u32;
            let h = browser
                .script("return document.documentElement.scrollHeight", json!([]))
                .await;
            browser.resize(1280, height(h) + 140).await;
            browser
                .screenshot(&shots.join("desktop-keys-rotated.png"))
                .await;
            browser.resize(390, 844).await;
            let width = browser
                .script("return document.documentElement.scrollWidth", json!([]))
                .await;
            assert!(
                width.as_i64().unwrap() <= 390,
                "the page scrolls sideways on a phone: {width}"
            );
            browser
                .screenshot(&shots.join("phone-keys-rotated-top.png"))
                .await;
            browser
                .script(
                    "document.getElementById('verdict').scrollIntoView()",
                    json!([]),
                )
                .await;
            browser
                .screenshot(&shots.join("phone-keys-rotated.png"))
                .await;
            browser.resize(1280, 1000).await;
        }
        // Every request the page made went to its own origin.
        let resources = browser
            .script(
                "return performance.getEntriesByType('resource').map(e => e.name).concat(performance.getEntriesByType('navigation').map(e => e.name))",
                json!([]),
            )
            .await;
        let resources: Vec<&str> = resources
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(resources.len() >= 3, "{}: {resources:?}", case.name);
        for r in &resources {
            assert!(
                r.starts_with(&format!("{origin}/")),
                "{}: a request to another origin: {r}",
                case.name
            );
        }
    }
    // The keyboard reaches the form: every field is labelled, and Tab from the top visits
    // the visible fields in reading order, each shown with a focus ring, then the button,
    // which Enter presses.
    browser.goto(&url).await;
    browser
        .wait_for("return document.readyState === 'complete'", RENDER_LIMIT)
        .await;
    let labelled = browser
        .script(
            "return [...document.querySelectorAll('input, textarea, select')].every(f => f.labels && f.labels.length > 0)",
            json!([]),
        )
        .await;
    assert_eq!(labelled, true);
    let expected = [
        "token",
        "issuers",
        "audiences",
        "jwks_url",
        "discovery_url",
        "jwks",
        "algorithms",
        "leeway",
        "typ",
        "offline",
        "diagnose",
    ];
    let mut visited = Vec::new();
    for _ in &expected {
        browser.press(webdriver::TAB).await;
        let focused = browser
            .script(
                "const e = document.activeElement; const r = e.getBoundingClientRect(); const s = getComputedStyle(e); \
                 return [e.id, r.width > 0 && r.height > 0, (e.labels && e.labels.length > 0) || e.textContent.trim().length > 0, \
                         s.outlineStyle !== 'none' || s.boxShadow !== 'none']",
                json!([]),
            )
            .await;
        let id = focused[0].as_str().unwrap_or_default().to_string();
        assert_eq!(focused[1], true, "{id} is focused but not visible");
        assert_eq!(focused[2], true, "{id} is focused but has no name");
        assert_eq!(focused[3], true, "{id} is focused without a focus ring");
        visited.push(id);
    }
    assert_eq!(visited, expected, "the Tab order");
    browser.press(webdriver::ENTER).await;
    let answered = browser
        .wait_for(
            "return document.getElementById('error').hidden ? document.getElementById('verdict').dataset.verdict : document.getElementById('error').textContent",
            RENDER_LIMIT,
        )
        .await;
    assert!(
        answered
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("token"),
        "Enter on the button diagnoses (here: no token given): {answered}"
    );

    // The gateway's page: its issuer prefilled, a refusal listed and opened.
    let gw = gateway(&issuer).await;
    let refused = issuer.mint(json!({}), json!({"sub": "carol", "exp": now() - 7200}));
    let r = reqwest::Client::new()
        .get(format!("{}/orders/7", gw.url()))
        .header("Authorization", format!("Bearer {refused}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let admin = gw.admin_url().unwrap();
    browser.goto(&format!("{admin}/doctor")).await;
    let row = browser
        .wait_for(
            "const b = document.querySelector('#refusals button[data-refusal]'); return b ? b.closest('tr').textContent : ''",
            RENDER_LIMIT,
        )
        .await;
    let row = row.as_str().unwrap();
    assert!(
        row.contains("expired") && row.contains("token_expired") && row.contains("carol"),
        "{row}"
    );
    let prefilled = browser
        .script("return document.getElementById('issuers').value", json!([]))
        .await;
    assert_eq!(prefilled, issuer.url());
    browser
        .find("#refusals button[data-refusal]")
        .await
        .click()
        .await;
    let top = browser
        .wait_for(
            "return document.getElementById('top-cause').dataset.cause",
            RENDER_LIMIT,
        )
        .await;
    assert_eq!(top, "token_expired");
    browser.script("window.scrollTo(0, 0)", json!([])).await;
    browser
        .screenshot(&shots.join("desktop-gateway-refusal.png"))
        .await;
    let resources = browser
        .script(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            json!([]),
        )
        .await;
    for r in resources.as_array().unwrap() {
        assert!(r.as_str().unwrap().starts_with(&format!("{admin}/")), "{r}");
    }
    drop(browser);
    gw.shutdown().await;
    issuer.shutdown().await;
}

/// A gateway in front of nothing (every request here is refused) trusting `issuer`, with its
/// admin listener (and so the doctor page) on loopback.
async fn gateway(issuer: &DevIssuer) -> tollgate_gateway::RunningGateway {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n[[issuer]]\nissuer = \"{}\"\naudiences = [\"{}\"]\n[[route]]\nname = \"orders\"\npath = \"/\"\n",
        issuer.url(),
        issuer.audience()
    );
    let config = tollgate_gateway::Config::from_toml_str(&text).unwrap();
    let gw = tollgate_gateway::Gateway::new(config)
        .unwrap()
        .serve()
        .await
        .unwrap();
    for _ in 0..600 {
        if gw.gateway().is_ready() {
            return gw;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not load the issuer's keys");
}

fn tollgate(args: &[&str]) -> process::Output {
    process::run(
        Command::new(env!("CARGO_BIN_EXE_tollgate")).args(args),
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("tollgate: {e}"))
}

fn stack(token: &str, issuer: &DevIssuer, stack: &str, extra: &[&str]) -> String {
    let url = issuer.url();
    let aud = issuer.audience();
    let mut args = vec![
        "doctor",
        token,
        "--issuer",
        &url,
        "--audience",
        &aud,
        "--stack",
        stack,
    ];
    args.extend_from_slice(extra);
    let out = tollgate(&args);
    assert!(
        out.stderr.contains(stack_title(stack)),
        "{}",
        out.describe()
    );
    out.stdout
}

fn stack_title(stack: &str) -> &'static str {
    match stack {
        "node" => "Node.js (jose)",
        "python" => "Python (PyJWT)",
        "tollgate" => "Tollgate gateway",
        "aspnet" => "ASP.NET Core",
        _ => "Spring",
    }
}

/// The command line: `--web` stays on loopback unless told otherwise; `--stack` names a
/// known stack.
#[test]
fn the_command_line_refuses_what_it_cannot_honour() {
    let remote = tollgate(&["doctor", "--web", "--listen", "0.0.0.0:0"]);
    assert_eq!(remote.code, 2, "{}", remote.describe());
    assert!(
        remote.stderr.contains("--allow-remote"),
        "{}",
        remote.describe()
    );
    let stack = tollgate(&["doctor", "a.b.c", "--offline", "--stack", "cobol"]);
    assert_eq!(stack.code, 2, "{}", stack.describe());
    assert!(stack.stderr.contains("aspnet"), "{}", stack.describe());
}

/// The snippets are right where a checker exists: the TOML passes `serve --check-config`,
/// and the Node (jose) and Python (PyJWT) snippets accept the dev issuer's token, with the
/// fix applied (an audience near-miss is corrected to the token's exact audience).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snippets_accept_the_token_in_their_stacks() {
    let issuer = DevIssuer::start(IssuerOptions::default())
        .await
        .expect("issuer");
    let aud = issuer.audience();
    let near_miss = issuer.mint(
        json!({}),
        json!({"aud": format!("{aud}/"), "sub": "snippet-user"}),
    );
    let dir = tempfile::tempdir().unwrap();

    let toml = stack(&near_miss, &issuer, "tollgate", &[]);
    assert!(
        toml.contains(&format!("audiences = [\"{aud}/\"]")),
        "{toml}"
    );
    let file = dir.path().join("tollgate.toml");
    std::fs::write(&file, &toml).unwrap();
    let check = tollgate(&[
        "serve",
        "--check-config",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(check.code, 0, "{}\n{toml}", check.describe());

    for other in ["aspnet", "spring"] {
        let text = stack(&near_miss, &issuer, other, &[]);
        assert!(text.contains(&format!("\"{aud}/\"")), "{text}");
    }

    let Some(peers) = peers() else { return };
    // Node: the snippet as a module next to the interop peers' node_modules.
    let node_dir = dir.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    std::os::unix::fs::symlink(
        peers.dir.join("node_modules"),
        node_dir.join("node_modules"),
    )
    .unwrap();
    let snippet = stack(&near_miss, &issuer, "node", &[]);
    std::fs::write(node_dir.join("verify.mjs"), &snippet).unwrap();
    std::fs::write(
        node_dir.join("run.mjs"),
        "import { verify } from './verify.mjs';\nconst p = await verify(process.argv[2]);\nconsole.log(JSON.stringify(p));\n",
    )
    .unwrap();
    let run_node = || {
        process::run(
            Command::new("node")
                .arg(node_dir.join("run.mjs"))
                .arg(&near_miss),
            Duration::from_secs(60),
        )
        .unwrap()
    };
    let out = run_node();
    assert_eq!(out.code, 0, "{}\n{snippet}", out.describe());
    assert_eq!(out.json()["sub"], "snippet-user");
    // The unchanged expectation (without the fix) is what jose refuses too.
    let unfixed = snippet.replace(
        &format!("audience: [\"{aud}/\"]"),
        &format!("audience: [\"{aud}\"]"),
    );
    std::fs::write(node_dir.join("verify.mjs"), unfixed).unwrap();
    let out = run_node();
    assert_ne!(
        out.code,
        0,
        "jose accepted the unfixed audience: {}",
        out.describe()
    );

    // Python: PyJWT with the snippet imported as a module.
    let py = stack(&near_miss, &issuer, "python", &[]);
    std::fs::write(dir.path().join("snippet_verify.py"), &py).unwrap();
    let out = process::run(
        Command::new(&peers.python)
            .arg("-c")
            .arg("import json, sys; sys.path.insert(0, sys.argv[1]); import snippet_verify; print(json.dumps(snippet_verify.verify(sys.argv[2])))")
            .arg(dir.path())
            .arg(&near_miss),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(out.code, 0, "{}\n{py}", out.describe());
    assert_eq!(out.json()["sub"], "snippet-user");
    issuer.shutdown().await;
}
