#!/usr/bin/env python3
"""Usage: .venv/bin/python sign_jwcrypto.py OUTFILE

Signs one JWT per supported algorithm with fresh keys using jwcrypto and writes
{"library","version","cases":[{alg,kid,token,jwks|secret_b64url}]}.
"""
import json
import secrets
import sys
import time
from importlib.metadata import version

from jwcrypto import jwk, jws, jwt
from jwcrypto.common import base64url_encode

ALGS = {  # alg -> jwk.JWK.generate() parameters
    "RS256": {"kty": "RSA", "size": 2048}, "RS384": {"kty": "RSA", "size": 2048},
    "RS512": {"kty": "RSA", "size": 2048}, "PS256": {"kty": "RSA", "size": 2048},
    "PS384": {"kty": "RSA", "size": 2048}, "PS512": {"kty": "RSA", "size": 2048},
    "ES256": {"kty": "EC", "crv": "P-256"}, "ES384": {"kty": "EC", "crv": "P-384"},
    "ES512": {"kty": "EC", "crv": "P-521"}, "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
}
HMAC = {"HS256": 32, "HS384": 48, "HS512": 64}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sign_jwcrypto.py OUTFILE")
    now = int(time.time())
    claims = {"iss": "https://peer.example", "aud": "tollgate-interop", "sub": "alice", "iat": now, "exp": now + 600}
    cases = []
    for alg in list(ALGS) + list(HMAC):
        if alg not in jws.default_allowed_algs:
            print(f"unsupported: {alg}", file=sys.stderr)
            continue
        kid = f"jwcrypto-{alg}-{secrets.token_urlsafe(6)}"
        if alg in HMAC:
            secret = secrets.token_bytes(HMAC[alg])
            key = jwk.JWK(kty="oct", k=base64url_encode(secret), kid=kid)
        else:
            key = jwk.JWK.generate(kid=kid, **ALGS[alg])
        token = jwt.JWT(header={"alg": alg, "kid": kid, "typ": "JWT"}, claims=claims)
        token.make_signed_token(key)
        case = {"alg": alg, "kid": kid, "token": token.serialize()}
        if alg in HMAC:
            case["secret_b64url"] = base64url_encode(secret)
        else:
            public = key.export_public(as_dict=True)
            public.update(alg=alg, use="sig")
            case["jwks"] = {"keys": [public]}
        cases.append(case)

    lib_version = version("jwcrypto")
    with open(sys.argv[1], "w") as f:
        json.dump({"library": "jwcrypto", "version": lib_version, "cases": cases}, f, indent=2)
        f.write("\n")
    print(f"jwcrypto {lib_version}: wrote {len(cases)} cases to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
