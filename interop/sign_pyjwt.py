#!/usr/bin/env python3
"""Usage: .venv/bin/python sign_pyjwt.py OUTFILE

Signs one JWT per supported algorithm with fresh keys using PyJWT and writes
{"library","version","cases":[{alg,kid,token,jwks|secret_b64url}]}.
"""
import base64
import json
import secrets
import sys
import time
from importlib.metadata import version

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
HMAC = {"HS256": 32, "HS384": 48, "HS512": 64}
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_key(alg):
    if alg[:2] in ("RS", "PS"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in CURVES:
        return ec.generate_private_key(CURVES[alg])
    return ed25519.Ed25519PrivateKey.generate()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sign_pyjwt.py OUTFILE")
    now = int(time.time())
    claims = {"iss": "https://peer.example", "aud": "tollgate-interop", "sub": "alice", "iat": now, "exp": now + 600}
    supported = jwt.algorithms.get_default_algorithms()
    cases = []
    for alg in ASYMMETRIC + list(HMAC):
        if alg not in supported:
            print(f"unsupported: {alg}", file=sys.stderr)
            continue
        kid = f"pyjwt-{alg}-{secrets.token_urlsafe(6)}"
        headers = {"kid": kid, "typ": "JWT"}
        if alg in HMAC:
            secret = secrets.token_bytes(HMAC[alg])
            token = jwt.encode(claims, secret, algorithm=alg, headers=headers)
            cases.append({"alg": alg, "kid": kid, "token": token, "secret_b64url": b64url(secret)})
            continue
        key = new_key(alg)
        jwk = supported[alg].to_jwk(key.public_key(), as_dict=True)
        jwk.pop("key_ops", None)  # PyJWT adds key_ops for RSA; RFC 7517 4.3: don't mix with "use"
        jwk.update(kid=kid, alg=alg, use="sig")
        token = jwt.encode(claims, key, algorithm=alg, headers=headers)
        cases.append({"alg": alg, "kid": kid, "token": token, "jwks": {"keys": [jwk]}})

    lib_version = version("PyJWT")
    with open(sys.argv[1], "w") as f:
        json.dump({"library": "pyjwt", "version": lib_version, "cases": cases}, f, indent=2)
        f.write("\n")
    print(f"pyjwt {lib_version}: wrote {len(cases)} cases to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
