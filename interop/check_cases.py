#!/usr/bin/env python3
"""Usage: .venv/bin/python check_cases.py CASES.json... (used by selfcheck.sh)

Checks the shape of signer output files and verifies every token offline with
jwcrypto (asymmetric, from the case's JWKS) and PyJWT (HS, from the secret).
Also writes each case's JWKS to DIR/<library>-<alg>.json when JWKS_DIR is set,
for serving over HTTP to the remote verifiers.
"""
import base64
import json
import os
import re
import sys

import jwt
from jwcrypto import jwk, jws

B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
ALL = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
       "HS256", "HS384", "HS512"]
HS_LEN = {"HS256": 32, "HS384": 48, "HS512": 64}
KEY_SHAPE = {"RS": ("RSA", None, 342), "PS": ("RSA", None, 342), "ES256": ("EC", "P-256", 43),
             "ES384": ("EC", "P-384", 64), "ES512": ("EC", "P-521", 88), "EdDSA": ("OKP", "Ed25519", 43)}


def b64dec(s):
    assert B64URL.match(s), f"not unpadded base64url: {s[:20]}..."
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_case(lib, case):
    alg, token = case["alg"], case["token"]
    header = json.loads(b64dec(token.split(".")[0]))
    assert header == {"alg": alg, "kid": case["kid"], "typ": "JWT"}, header
    claims = json.loads(b64dec(token.split(".")[1]))
    assert {k: claims[k] for k in ("iss", "aud", "sub")} == \
        {"iss": "https://peer.example", "aud": "tollgate-interop", "sub": "alice"}, claims
    assert claims["exp"] - claims["iat"] == 600, claims
    if alg in HS_LEN:
        secret = b64dec(case["secret_b64url"])
        assert len(secret) == HS_LEN[alg], f"{alg} secret is {len(secret)} bytes"
        jwt.decode(token, secret, algorithms=[alg], audience="tollgate-interop", issuer="https://peer.example")
        return
    (key,) = case["jwks"]["keys"]
    kty, crv, coord_len = KEY_SHAPE.get(alg, KEY_SHAPE.get(alg[:2]))
    assert (key["kty"], key.get("crv"), key["kid"], key["alg"], key["use"]) == \
        (kty, crv, case["kid"], alg, "sig"), key
    assert "d" not in key and "p" not in key, "private key material in JWKS"
    for member in ("n", "e", "x", "y"):
        if member in key:
            b64dec(key[member])
    assert len(key["n" if kty == "RSA" else "x"]) == coord_len, key
    verifier = jws.JWS()
    verifier.deserialize(token)
    verifier.verify(jwk.JWK(**key), alg=alg)
    if os.environ.get("JWKS_DIR"):
        with open(os.path.join(os.environ["JWKS_DIR"], f"{lib}-{alg}.json"), "w") as f:
            json.dump(case["jwks"], f)


def main():
    failed = 0
    for path in sys.argv[1:]:
        doc = json.load(open(path))
        lib = doc["library"]
        assert re.match(r"^\d+\.\d+\.\d+", doc["version"]), doc["version"]
        algs = [c["alg"] for c in doc["cases"]]
        missing = [a for a in ALL if a not in algs]
        print(f"{lib} {doc['version']}: {len(algs)} cases" + (f", missing {missing}" if missing else ""))
        for case in doc["cases"]:
            try:
                check_case(lib, case)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {lib} {case.get('alg')}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
