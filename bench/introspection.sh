#!/usr/bin/env bash
# A short load figure for opaque tokens (issue 14): `tollgate serve` in forward-auth mode
# (GET /verify), one reused opaque token (introspected once, then served from the caches)
# against one reused JWT (verified once, then cached), same gateway, same run, wrk runs
# alternating (JWT, opaque, opaque, JWT, ...); the ratio is the median of the per-round
# ratios. The dev issuer (`tollgate issuer`) serves the introspection; how many times it was
# asked is printed at the end (1 expected).
#
# Usage: bench/introspection.sh      env: DURATION=2 ROUNDS=5 CONNECTIONS=32 THREADS=1
# Bounded: the script is killed after 10 minutes; every process it starts is stopped by PID.
# Needs: wrk, curl, python3, a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-2}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }

if [ -z "${TOLLGATE_BENCH_INNER:-}" ]; then
  TOLLGATE_BENCH_INNER=1 exec timeout 600 "$0"
fi

cargo build --release -q -p tollgate-cli
BIN="$CARGO_TARGET_DIR/release/tollgate"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ISSUER_PORT="$(free_port)"
ISSUER="http://127.0.0.1:$ISSUER_PORT"
"$BIN" issuer --listen "127.0.0.1:$ISSUER_PORT" --audience api://bench > "$WORK/issuer.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "$ISSUER/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
mint() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$ISSUER/admin/mint" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])'; }
JWT="$(mint '{}')"
OPAQUE="$(mint '{"opaque": true}')"

printf 'dev-secret\n' > "$WORK/secret"
GW_PORT="$(free_port)"
cat > "$WORK/gateway.toml" <<EOF
listen = "127.0.0.1:$GW_PORT"
admin_listen = ""

[[issuer]]
issuer = "$ISSUER"
audiences = ["api://bench"]

[issuer.introspection]
client_id = "dev"
client_secret_file = "$WORK/secret"
max_ttl = 600

[[route]]
path = "/"

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
EOF
"$BIN" serve --config "$WORK/gateway.toml" --log-level warn > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
GW="http://127.0.0.1:$GW_PORT"
for _ in $(seq 100); do curl -s -o /dev/null "$GW/verify" && break; sleep 0.1; done
ask() { curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /x' -H "Authorization: Bearer $1" "$GW/verify"; }
[ "$(ask "$JWT")" = 200 ] || { echo "bench: the JWT is refused" >&2; cat "$WORK/gateway.log" >&2; exit 1; }
[ "$(ask "$OPAQUE")" = 200 ] || { echo "bench: the opaque token is refused" >&2; cat "$WORK/gateway.log" >&2; exit 1; }

run() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" \
    -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /x' -H "Authorization: Bearer $1" \
    "$GW/verify" | awk '/Requests\/sec/ {print $2}'
}
echo "round jwt_rps opaque_rps opaque/jwt"
RATIOS=()
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then j="$(run "$JWT")"; o="$(run "$OPAQUE")"; else o="$(run "$OPAQUE")"; j="$(run "$JWT")"; fi
  ratio="$(python3 -c "print(f'{$o/$j:.3f}')")"
  RATIOS+=("$ratio")
  echo "$r $j $o $ratio"
done
python3 - "${RATIOS[@]}" <<'EOF'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"median opaque/jwt {statistics.median(r):.3f}x (range {r[0]:.3f}-{r[-1]:.3f})")
EOF
echo "introspection calls at the issuer: $(curl -s -H "Host: 127.0.0.1:$ISSUER_PORT" "$ISSUER/admin/state" | python3 -c 'import sys,json; print(json.load(sys.stdin)["introspection_requests"])')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
