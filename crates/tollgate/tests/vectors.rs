//! External test vectors from `../shared/vectors` (Wycheproof, RFC 7515/7520/7638/8037
//! examples). Every case must give its expected result; where we knowingly differ from a
//! vector's label, the case is listed in a named deviation with its reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use tollgate::validate::verify_jws;
use tollgate::{jws, Algorithm, Jwk, JwkSet, Policy, SigningKey};

fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    assert!(
        dir.is_dir(),
        "the shared vectors are missing at {} (the repository expects ../shared beside it)",
        dir.display()
    );
    dir
}

fn load(rel: &str) -> Value {
    let path = vectors_dir().join(rel);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Tallies outcomes per file and fails with every mismatch listed.
#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(what());
        }
    }
    fn finish(self, name: &str, expected_cases: usize) {
        assert!(
            self.failures.is_empty(),
            "{name}: {} of {} cases disagree:\n{}",
            self.failures.len(),
            self.passed + self.failures.len(),
            self.failures.join("\n")
        );
        assert_eq!(self.passed, expected_cases, "{name}: number of cases run");
        eprintln!("{name}: {} cases agree", self.passed);
    }
}

/// Wycheproof raw-signature files: the signature over `msg` checked through Tollgate's JWK
/// parsing and the crypto seam (the same path a token's signature takes).
fn wycheproof_signatures(file: &str, alg: Algorithm, expected_cases: usize) {
    let doc = load(file);
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let jwk = Jwk::from_value(&group["publicKeyJwk"])
            .unwrap_or_else(|e| panic!("{}: {e}", group["publicKeyJwk"]));
        for t in group["tests"].as_array().unwrap() {
            let verified = jwk.verify(
                alg,
                &hex(t["msg"].as_str().unwrap()),
                &hex(t["sig"].as_str().unwrap()),
            );
            let result = t["result"].as_str().unwrap();
            // "acceptable" cases may go either way.
            let ok = match result {
                "valid" => verified,
                "invalid" => !verified,
                _ => true,
            };
            tally.check(ok, || {
                format!(
                    "tcId {} ({}): expected {result}, verified={verified}",
                    t["tcId"], t["comment"]
                )
            });
        }
    }
    tally.finish(file, expected_cases);
}

#[test]
fn wycheproof_ecdsa_p256() {
    wycheproof_signatures(
        "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES256,
        262,
    );
}

#[test]
fn wycheproof_ecdsa_p384() {
    wycheproof_signatures(
        "wycheproof/ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::ES384,
        280,
    );
}

#[test]
fn wycheproof_ecdsa_p521() {
    wycheproof_signatures(
        "wycheproof/ecdsa_secp521r1_sha512_p1363_test.json",
        Algorithm::ES512,
        318,
    );
}

#[test]
fn wycheproof_ed25519() {
    wycheproof_signatures("wycheproof/ed25519_test.json", Algorithm::EdDSA, 151);
}

/// HMAC: JWS requires the full-length tag (RFC 7518 3.2) and a key at least as long as the
/// hash. Deviation `hmac-outside-jws`: groups with truncated tags or short keys are labelled
/// valid for HMAC in general, but a JWS verifier must refuse them, so we expect refusal.
fn wycheproof_hmac(file: &str, alg: Algorithm, hash_bits: u64, expected_cases: usize) {
    let doc = load(file);
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let key_bits = group["keySize"].as_u64().unwrap();
        let tag_bits = group["tagSize"].as_u64().unwrap();
        let inside_jws = key_bits >= hash_bits && tag_bits == hash_bits;
        for t in group["tests"].as_array().unwrap() {
            let key = hex(t["key"].as_str().unwrap());
            let jwk = Jwk::from_value(
                &json!({"kty": "oct", "alg": alg.as_str(), "k": tollgate::b64::encode(&key)}),
            );
            let verified = match &jwk {
                Ok(jwk) => jwk.verify(
                    alg,
                    &hex(t["msg"].as_str().unwrap()),
                    &hex(t["tag"].as_str().unwrap()),
                ),
                Err(_) => false,
            };
            let result = t["result"].as_str().unwrap();
            let expected_valid = inside_jws && result == "valid";
            tally.check(verified == expected_valid, || {
                format!(
                    "tcId {} ({}, key {key_bits} bits, tag {tag_bits} bits): expected {}, verified={verified}",
                    t["tcId"],
                    t["comment"],
                    if expected_valid { "valid" } else { "refused" }
                )
            });
            if !inside_jws && key_bits < hash_bits {
                assert!(jwk.is_err(), "a short HMAC key must be refused");
            }
        }
    }
    tally.finish(file, expected_cases);
}

#[test]
fn wycheproof_hmac_sha256() {
    wycheproof_hmac(
        "wycheproof/hmac_sha256_test.json",
        Algorithm::HS256,
        256,
        174,
    );
}

#[test]
fn wycheproof_hmac_sha384() {
    wycheproof_hmac(
        "wycheproof/hmac_sha384_test.json",
        Algorithm::HS384,
        384,
        174,
    );
}

#[test]
fn wycheproof_hmac_sha512() {
    wycheproof_hmac(
        "wycheproof/hmac_sha512_test.json",
        Algorithm::HS512,
        512,
        174,
    );
}

#[test]
fn every_wycheproof_file_present_is_run() {
    let run = [
        "ecdsa_secp256r1_sha256_p1363_test.json",
        "ecdsa_secp384r1_sha384_p1363_test.json",
        "ecdsa_secp521r1_sha512_p1363_test.json",
        "ed25519_test.json",
        "hmac_sha256_test.json",
        "hmac_sha384_test.json",
        "hmac_sha512_test.json",
    ];
    for entry in std::fs::read_dir(vectors_dir().join("wycheproof")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") {
            assert!(
                run.contains(&name.as_str()),
                "wycheproof/{name} has no test here: add one"
            );
        }
    }
}

fn set_of(jwk: &Value) -> JwkSet {
    JwkSet::from_value(&json!({ "keys": [jwk] })).unwrap()
}

#[test]
fn rfc_7515_7638_8037_examples() {
    let doc = load("rfc-examples/rfc_jose_examples.json");
    let mut tally = Tally::default();
    for t in doc["jws_compact_tests"].as_array().unwrap() {
        let id = t["id"].to_string();
        let token = t["jws"].as_str().unwrap();
        let expected_valid = t["signature"] == "valid";
        let result = if t["jwk"].is_null() {
            // alg none: no key at all; must be refused as unsecured.
            jws::decode(token, usize::MAX)
                .map(|_| ())
                .map_err(|e| e.code())
        } else {
            let alg: Algorithm = t["alg"].as_str().unwrap().parse().unwrap();
            verify_jws(token, &set_of(&t["jwk"]), &[alg])
                .map(|_| ())
                .map_err(|e| e.code())
        };
        tally.check(result.is_ok() == expected_valid, || {
            format!("id {id}: expected {}, got {result:?}", t["signature"])
        });
        if t["alg"] == "none" {
            tally.check(result == Err("unsecured_token"), || {
                format!("id {id}: alg none must be unsecured_token, got {result:?}")
            });
        }
    }
    // The JWT layer on top: the RFC 7519 example expired in 2011; non-JSON payloads are
    // malformed claims even though their signatures verify.
    let hs = &doc["jws_compact_tests"][0];
    let err = tollgate::validate::validate(
        hs["jws"].as_str().unwrap(),
        &set_of(&hs["jwk"]),
        &Policy::new().algorithms([Algorithm::HS256]),
        1_700_000_000,
    )
    .unwrap_err();
    assert_eq!(err.code(), "expired");
    let ok = tollgate::validate::validate(
        hs["jws"].as_str().unwrap(),
        &set_of(&hs["jwk"]),
        &Policy::new().algorithms([Algorithm::HS256]),
        1_300_819_000,
    )
    .unwrap();
    assert_eq!(
        ok.claims.get("http://example.com/is_root"),
        Some(&json!(true))
    );
    for t in doc["jws_compact_tests"].as_array().unwrap() {
        if t["jwt_claims"]
            .as_str()
            .is_some_and(|s| s.contains("not a JWT claims set"))
        {
            let alg: Algorithm = t["alg"].as_str().unwrap().parse().unwrap();
            let err = tollgate::validate::validate(
                t["jws"].as_str().unwrap(),
                &set_of(&t["jwk"]),
                &Policy::new().algorithms([alg]),
                1_700_000_000,
            )
            .unwrap_err();
            assert_eq!(err.code(), "malformed_token", "id {}", t["id"]);
        }
    }
    // JSON serializations: a compact-only validator refuses the object form.
    for t in doc["jws_json_tests"].as_array().unwrap() {
        let text = t["jws"].to_string();
        let err = jws::decode(&text, usize::MAX).unwrap_err();
        tally.check(err.code() == "malformed_token", || {
            format!("id {}: JSON serialization gave {}", t["id"], err.code())
        });
    }
    for t in doc["thumbprint_tests"].as_array().unwrap() {
        let got = tollgate::jwk::thumbprint_of(&t["jwk"]).unwrap();
        tally.check(got == t["thumbprint"].as_str().unwrap(), || {
            format!("id {}: thumbprint {got}", t["id"])
        });
    }
    let cases = doc["jws_compact_tests"].as_array().unwrap().len()
        + 1 // the extra alg-none check
        + doc["jws_json_tests"].as_array().unwrap().len()
        + doc["thumbprint_tests"].as_array().unwrap().len();
    tally.finish("rfc_jose_examples.json", cases);
}

fn cookbook(rel: &str) -> Value {
    load(&format!("rfc7520-cookbook/{rel}"))
}

#[test]
fn rfc_7520_cookbook_signatures() {
    let mut tally = Tally::default();
    let mut outcomes = BTreeMap::new();
    let dir = vectors_dir().join("rfc7520-cookbook/jws");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names.push("../curve25519/jws.json".into());
    for name in &names {
        let doc = cookbook(&format!("jws/{name}"));
        let alg: Algorithm = doc["input"]["alg"].as_str().unwrap().parse().unwrap();
        let keys = if doc["input"]["key"].is_array() {
            JwkSet::from_value(&json!({"keys": doc["input"]["key"]})).unwrap()
        } else {
            set_of(&doc["input"]["key"])
        };
        let outcome = match doc["output"]["compact"].as_str() {
            Some(compact) => {
                let r = verify_jws(compact, &keys, &[alg]);
                let detached = compact.contains("..");
                match (r, detached) {
                    // Deviation `detached-content`: a JWT always carries its payload.
                    (Err(e), true) => e.code() == "malformed_token",
                    (Ok((_, payload)), false) => {
                        payload == doc["input"]["payload"].as_str().unwrap().as_bytes()
                    }
                    _ => false,
                }
            }
            None => {
                // JSON-only examples (unprotected headers, several signatures): refused.
                let text = doc["output"]["json"].to_string();
                jws::decode(&text, usize::MAX).is_err_and(|e| e.code() == "malformed_token")
            }
        };
        outcomes.insert(name.clone(), outcome);
        tally.check(outcome, || format!("{name}: unexpected outcome"));
    }
    tally.finish("rfc7520-cookbook/jws", names.len());
}

#[test]
fn rfc_7520_cookbook_deterministic_signing_reproduces_the_rfc() {
    // RSA v1.5, HMAC and Ed25519 signatures are deterministic: signing the same input with
    // the cookbook's private keys must give the RFC's exact bytes.
    for (file, key) in [
        ("jws/4_1.rsa_v15_signature.json", None),
        ("jws/4_4.hmac-sha2_integrity_protection.json", None),
        ("curve25519/jws.json", None::<Value>),
    ] {
        let doc = cookbook(file);
        let jwk = key.unwrap_or_else(|| doc["input"]["key"].clone());
        let alg: Algorithm = doc["input"]["alg"].as_str().unwrap().parse().unwrap();
        let signer = SigningKey::from_jwk(&jwk, Some(alg)).unwrap();
        let token = jws::sign_raw(
            &doc["signing"]["protected"],
            doc["input"]["payload"].as_str().unwrap().as_bytes(),
            &signer,
        )
        .unwrap();
        // The RFC's header bytes are its own serialization; sign over exactly those.
        let protected_b64u = doc["signing"]["protected_b64u"].as_str().unwrap();
        let signing_input = format!(
            "{protected_b64u}.{}",
            tollgate::b64::encode(doc["input"]["payload"].as_str().unwrap())
        );
        let sig = signer.sign(signing_input.as_bytes()).unwrap();
        assert_eq!(
            format!("{signing_input}.{}", tollgate::b64::encode(sig)),
            doc["output"]["compact"].as_str().unwrap(),
            "{file}"
        );
        assert!(verify_jws(&token, &set_of(&signer.public_jwk()), &[alg]).is_ok());
    }
}

#[test]
fn rfc_7520_cookbook_keys() {
    let usable = [
        "3_1.ec_public_key.json",
        "3_2.ec_private_key.json",
        "3_3.rsa_public_key.json",
        "3_4.rsa_private_key.json",
        "3_5.symmetric_key_mac_computation.json",
    ];
    for name in usable {
        let jwk = Jwk::from_value(&cookbook(&format!("jwk/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            jwk.public_members().get("d").is_none(),
            "{name}: private part kept"
        );
    }
    let enc = Jwk::from_value(&cookbook("jwk/3_6.symmetric_key_encryption.json")).unwrap_err();
    assert!(enc.contains("encryption"), "{enc}");
    for name in ["3_2.ec_private_key.json", "3_4.rsa_private_key.json"] {
        let signer = SigningKey::from_jwk(&cookbook(&format!("jwk/{name}")), None).unwrap();
        let token = jws::sign(&json!({}), &json!({"sub": "frodo"}), &signer).unwrap();
        let public = Jwk::from_value(&cookbook(&format!("jwk/{name}"))).unwrap();
        let mut set = JwkSet::new();
        set.push(public);
        assert!(verify_jws(&token, &set, &[signer.alg()]).is_ok(), "{name}");
    }
}

#[test]
fn rfc_7797_unencoded_payloads_are_refused() {
    for name in ["hmac-sha2_b64_false.json", "4.2.hmac-sha2_b64_false.json"] {
        let doc = cookbook(&format!("rfc7797/{name}"));
        if let Some(compact) = doc["output"]["compact"].as_str() {
            let err = jws::decode(compact, usize::MAX).unwrap_err();
            assert_eq!(err.code(), "crit_unsupported", "{name}");
        }
        if let Some(json_form) = doc["output"].get("json") {
            let err = jws::decode(&json_form.to_string(), usize::MAX).unwrap_err();
            assert_eq!(err.code(), "malformed_token", "{name}");
        }
    }
}
