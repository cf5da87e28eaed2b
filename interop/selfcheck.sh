#!/usr/bin/env bash
# Self-check of the interop peers (no Rust involved): installs them, runs the
# three signers, cross-verifies their tokens among the peers, and runs
# oidc-provider for a client_credentials round trip and a key rotation.
# Every step is bounded with `timeout`; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
PY=.venv/bin/python
WORK=$(mktemp -d)
HTTP_PID=""
OP_PID=""
cleanup() {
  [[ -n "$OP_PID" ]] && kill -TERM "$OP_PID" 2>/dev/null || true
  [[ -n "$HTTP_PID" ]] && kill -TERM "$HTTP_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "selfcheck: FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 50); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
field() { $PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

echo "== setup"
timeout 300 ./setup.sh

echo "== signers"
timeout 60 node sign_node.mjs "$WORK/jose.json"
timeout 60 $PY sign_pyjwt.py "$WORK/pyjwt.json"
timeout 60 $PY sign_jwcrypto.py "$WORK/jwcrypto.json"

echo "== offline checks (shape; jwcrypto verifies asymmetric, PyJWT verifies HS)"
mkdir "$WORK/jwks"
JWKS_DIR="$WORK/jwks" timeout 60 $PY check_cases.py "$WORK"/{jose,pyjwt,jwcrypto}.json

echo "== remote-JWKS cross-verification (verify_node.mjs, verify_pyjwt.py)"
PORT=$(free_port)
(cd "$WORK/jwks" && exec timeout 300 python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
HTTP_PID=$!
wait_http "http://127.0.0.1:$PORT/" || fail "JWKS http server did not start"
n=0
for lib in jose pyjwt jwcrypto; do
  for alg in $($PY -c 'import json,sys; print(" ".join(c["alg"] for c in json.load(open(sys.argv[1]))["cases"] if "jwks" in c))' "$WORK/$lib.json"); do
    token=$($PY -c 'import json,sys; print(next(c["token"] for c in json.load(open(sys.argv[1]))["cases"] if c["alg"]==sys.argv[2]))' "$WORK/$lib.json" "$alg")
    url="http://127.0.0.1:$PORT/$lib-$alg.json"
    if [[ $lib != jose ]]; then
      timeout 20 node verify_node.mjs "$url" "$token" https://peer.example tollgate-interop >/dev/null \
        || fail "jose could not verify $lib $alg"
      n=$((n+1))
    fi
    if [[ $lib != pyjwt ]]; then
      timeout 20 $PY verify_pyjwt.py "$url" "$token" https://peer.example tollgate-interop >/dev/null \
        || fail "PyJWT could not verify $lib $alg"
      n=$((n+1))
    fi
  done
done
echo "cross-verified $n token/verifier pairs"
# negative checks: wrong audience, tampered signature
url="http://127.0.0.1:$PORT/pyjwt-ES256.json"
token=$($PY -c 'import json,sys; print(next(c["token"] for c in json.load(open(sys.argv[1]))["cases"] if c["alg"]=="ES256"))' "$WORK/pyjwt.json")
out=$(timeout 20 node verify_node.mjs "$url" "$token" https://peer.example wrong-aud) && fail "jose accepted a wrong audience"
[[ $(field "$out" 'd["ok"]') == False ]] || fail "bad failure output: $out"
tampered=$($PY -c 'import sys; h, p, s = sys.argv[1].split("."); print(h, p, ("B" if s[0] == "A" else "A") + s[1:], sep=".")' "$token")
timeout 20 $PY verify_pyjwt.py "$url" "$tampered" https://peer.example tollgate-interop >/dev/null && fail "PyJWT accepted a tampered token"
kill -TERM "$HTTP_PID"; wait "$HTTP_PID" 2>/dev/null || true; HTTP_PID=""

echo "== thumbprints (jose vs jwcrypto)"
$PY -c 'import json,sys,glob; print(json.dumps({"keys": [json.load(open(f))["keys"][0] for f in sorted(glob.glob(sys.argv[1]+"/*.json"))]}))' "$WORK/jwks" > "$WORK/all_jwks.json"
timeout 20 node thumbprint_node.mjs "$WORK/all_jwks.json" > "$WORK/thumbs.json"
$PY - "$WORK/all_jwks.json" "$WORK/thumbs.json" <<'EOF'
import json, sys
from jwcrypto import jwk
keys, thumbs = (json.load(open(p)) for p in sys.argv[1:])
for k in keys["keys"]:
    assert thumbs[k["kid"]] == jwk.JWK(**k).thumbprint(), k["kid"]
print(f"{len(thumbs)} thumbprints agree")
EOF

echo "== oidc-provider"
start_op() {  # start_op KEYFILE
  OP_PORT=$(free_port)
  timeout 120 node oidc_provider.mjs "$OP_PORT" "$1" > "$WORK/op.out" 2> "$WORK/op.err" &
  OP_PID=$!
  for _ in $(seq 100); do grep -q '^READY ' "$WORK/op.out" && break; sleep 0.1; done
  grep -qx "READY http://127.0.0.1:$OP_PORT" "$WORK/op.out" || { cat "$WORK/op.err" >&2; fail "provider not ready"; }
  ISSUER="http://127.0.0.1:$OP_PORT"
}
stop_op() {
  kill -TERM "$OP_PID"
  local rc=0; wait "$OP_PID" || rc=$?
  OP_PID=""
  [[ $rc == 0 ]] || fail "provider exited with $rc on SIGTERM"
}
get_token() {  # get_token RESOURCE -> access token
  local resp
  resp=$(curl -fsS --max-time 10 -u interop:interop-secret -d grant_type=client_credentials \
    -d "resource=$1" -d "scope=read write" "$ISSUER/token") || fail "token request failed"
  field "$resp" 'd["access_token"]'
}

start_op "$WORK/key1.json"
disc=$(curl -fsS --max-time 10 "$ISSUER/.well-known/openid-configuration")
[[ $(field "$disc" 'd["issuer"]') == "$ISSUER" ]] || fail "issuer mismatch"
JWKS_URI=$(field "$disc" 'd["jwks_uri"]')
jwks=$(curl -fsS --max-time 10 "$JWKS_URI")
at=$(get_token urn:tollgate:api)
kid1=$($PY - "$at" "$jwks" <<'EOF'
import json, sys, jwt
h = jwt.get_unverified_header(sys.argv[1])
assert h["typ"] == "at+jwt" and h["alg"] == "RS256", h
assert h["kid"] in [k["kid"] for k in json.loads(sys.argv[2])["keys"]], "kid not in jwks"
print(h["kid"])
EOF
)
out=$(timeout 20 node verify_node.mjs "$JWKS_URI" "$at" "$ISSUER" urn:tollgate:api) || fail "jose rejected provider token: $out"
echo "jose:  $out"
out=$(timeout 20 $PY verify_pyjwt.py "$JWKS_URI" "$at" "$ISSUER" urn:tollgate:api) || fail "PyJWT rejected provider token: $out"
echo "pyjwt: $out"
other=$(get_token urn:other:api)
timeout 20 node verify_node.mjs "$JWKS_URI" "$other" "$ISSUER" urn:tollgate:api >/dev/null \
  && fail "token for urn:other:api accepted for urn:tollgate:api"
stop_op

start_op "$WORK/key1.json"   # same key file: same kid
kid1b=$($PY -c 'import jwt,sys; print(jwt.get_unverified_header(sys.argv[1])["kid"])' "$(get_token urn:tollgate:api)")
[[ $kid1b == "$kid1" ]] || fail "restart with the same KEYFILE changed the kid"
stop_op
start_op "$WORK/key2.json"   # different key file: rotated key
kid2=$($PY -c 'import jwt,sys; print(jwt.get_unverified_header(sys.argv[1])["kid"])' "$(get_token urn:tollgate:api)")
[[ $kid2 != "$kid1" ]] || fail "restart with a different KEYFILE kept the kid"
stop_op
echo "key rotation: $kid1 -> $kid2"

echo "selfcheck: all passed"
