//! `tollgate serve --dev`: what it prints is true. Every printed case returns what the
//! instructions say it returns.

mod common;

use common::{challenge, client, error_code, json_body, TEST_TIMEOUT};
use tollgate_gateway::dev::DevSetup;

#[tokio::test]
async fn the_dev_setup_does_what_its_instructions_say() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let setup = DevSetup::start("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let text = setup.instructions();
        let gw = setup.gateway().url();
        let admin = setup.gateway().admin_url().unwrap();
        let t = setup.tokens().clone();
        for needle in [
            format!("curl -s {gw}/orders/42 -H \"Authorization: Bearer $VALID\""),
            format!("VALID='{}'", t.valid),
            format!("EXPIRED='{}'", t.expired),
            format!("WRONG_AUD='{}'", t.wrong_audience),
            format!("UNKNOWN_KID='{}'", t.unknown_kid),
            format!("READ_ONLY='{}'", t.read_only),
            format!("OPAQUE='{}'", t.opaque),
            "[issuer.introspection]".to_string(),
            format!("curl -s {admin}/metrics"),
            format!("{admin}/doctor"),
            "[[route]]".to_string(),
        ] {
            assert!(text.contains(&needle), "missing {needle:?} in:\n{text}");
        }
        // The printed configuration is a valid configuration.
        let printed: String = setup
            .config_text()
            .lines()
            .map(|l| format!("{l}\n"))
            .collect();
        tollgate_gateway::Config::from_toml_str(&printed).unwrap();

        let http = client();
        let bearer = |t: &str| format!("Bearer {t}");

        // valid: 200, identity seen by the echo, token not echoed whole
        let r = http
            .get(format!("{gw}/orders/42"))
            .header("Authorization", bearer(&t.valid))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let seen = json_body(r).await;
        assert_eq!(seen["headers"]["x-auth-subject"], "dev-user");
        assert_eq!(seen["headers"]["x-auth-scope"], "orders.read orders.write");
        let shown = seen["headers"]["authorization"].as_str().unwrap();
        assert!(
            !shown.contains(&t.valid) && shown.ends_with("characters)"),
            "{shown}"
        );

        for (token, code) in [
            (&t.expired, "expired"),
            (&t.wrong_audience, "audience_mismatch"),
            (&t.unknown_kid, "kid_not_found"),
        ] {
            let r = http
                .get(format!("{gw}/orders/42"))
                .header("Authorization", bearer(token))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{code}");
            assert_eq!(error_code(&r), code);
            assert!(challenge(&r).contains(&format!("error_description=\"{code}: ")));
        }
        // The printed doctor page lists those refusals, newest first.
        let page = http.get(format!("{admin}/doctor")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let listed = json_body(
            http.get(format!("{admin}/doctor/api/refusals"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let codes: Vec<&str> = listed["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["kid_not_found", "audience_mismatch", "expired"]);
        let r = http.get(format!("{gw}/orders/42")).send().await.unwrap();
        assert_eq!(
            (r.status().as_u16(), challenge(&r)),
            (401, "Bearer realm=\"tollgate\"".to_string())
        );
        assert_eq!(
            http.get(format!("{gw}/public/hello"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let r = http
            .post(format!("{gw}/orders/"))
            .header("Authorization", bearer(&t.read_only))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(challenge(&r).contains("scope=\"orders.write\""));
        let r = http
            .get(format!("{gw}/orders/42"))
            .header("Authorization", bearer(&t.valid))
            .header("X-Auth-Subject", "admin")
            .send()
            .await
            .unwrap();
        assert_eq!(json_body(r).await["headers"]["x-auth-subject"], "dev-user");
        // The opaque token: introspected, 200 with its identity; revoked at the issuer's
        // /revoke as printed: refused once the answer is older than max_ttl (the demo's
        // 10 s are not waited for here: the gateway's caches are the library's, tested
        // with a clock in tests/introspection.rs); a fresh gateway asks at once.
        let r = http
            .get(format!("{gw}/orders/42"))
            .header("Authorization", bearer(&t.opaque))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            json_body(r).await["headers"]["x-auth-subject"],
            "opaque-user"
        );
        let revoke = format!("{}/revoke", setup.issuer().url());
        assert!(
            text.contains(&format!("-d \"token=$OPAQUE\" {revoke}")),
            "{text}"
        );
        let r = http
            .post(&revoke)
            .basic_auth("dev", Some("dev-secret"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={}", t.opaque))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let m = http
            .get(format!("{admin}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(m.contains("tollgate_decisions_total"), "{m}");

        // The printed DPoP walk-through is true: a proof at the dev issuer's token endpoint
        // gives a DPoP-bound token; with a fresh proof the gateway lets it through, the same
        // proof twice is `dpop_replayed`, the token as Bearer `dpop_bound_token_as_bearer`.
        let token_url = setup.issuer().token_endpoint();
        for needle in [
            format!("tollgate dpop --key client-key.pem --new --method POST --url {token_url}"),
            format!("-H \"DPoP: $(tollgate dpop --key client-key.pem --method GET --url {gw}/orders/42 --token \"$DPOP_TOKEN\")\""),
            "dpop_replayed".to_string(),
            "dpop_bound_token_as_bearer".to_string(),
        ] {
            assert!(text.contains(&needle), "missing {needle:?} in:\n{text}");
        }
        let key = tollgate::SigningKey::generate(tollgate::Algorithm::ES256, "").unwrap();
        let now = tollgate::clock::unix_now();
        let proof = tollgate::dpop::make_proof(&key, "POST", &token_url, None, now).unwrap();
        let r = client()
            .post(&token_url)
            .basic_auth("dev", Some("dev-secret"))
            .header("DPoP", proof)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        let body = json_body(r).await;
        assert_eq!(body["token_type"], "DPoP", "{body}");
        let token = body["access_token"].as_str().unwrap().to_string();
        let url = format!("{gw}/orders/42");
        let proof = tollgate::dpop::make_proof(&key, "GET", &url, Some(&token), now).unwrap();
        for (scheme, expected, code) in [
            ("DPoP", 200, ""),
            ("DPoP", 401, "dpop_replayed"),
            ("Bearer", 401, "dpop_bound_token_as_bearer"),
        ] {
            let r = client()
                .get(&url)
                .header("Authorization", format!("{scheme} {token}"))
                .header("DPoP", &proof)
                .send()
                .await
                .unwrap();
            assert_eq!((r.status().as_u16(), error_code(&r)), (expected, code.to_string()));
        }
        assert!(m.contains("tollgate_introspection_calls_total{"), "{m}");
        setup.shutdown().await;
    })
    .await
    .unwrap();
}
