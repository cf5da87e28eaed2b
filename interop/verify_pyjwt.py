#!/usr/bin/env python3
"""Usage: .venv/bin/python verify_pyjwt.py JWKS_URL TOKEN ISS AUD

Verifies TOKEN with jwt.PyJWKClient + jwt.decode (asymmetric algs only).
Prints {"ok":true,"alg":...,"kid":...,"typ":...,"claims":{...}} and exits 0,
or {"ok":false,"error":"..."} and exits 1.
"""
import json
import sys

import jwt

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def main():
    if len(sys.argv) != 5:
        print("usage: verify_pyjwt.py JWKS_URL TOKEN ISS AUD", file=sys.stderr)
        sys.exit(2)
    jwks_url, token, issuer, audience = sys.argv[1:]
    try:
        header = jwt.get_unverified_header(token)
        signing_key = jwt.PyJWKClient(jwks_url, cache_keys=False, timeout=10).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, signing_key, algorithms=ALGORITHMS, audience=audience, issuer=issuer,
                            options={"require": ["exp", "iss", "aud"]})
    except Exception as e:  # noqa: BLE001 - any failure is a verification failure
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
    print(json.dumps({"ok": True, "alg": header.get("alg"), "kid": header.get("kid"),
                      "typ": header.get("typ"), "claims": claims}))


if __name__ == "__main__":
    main()
