#!/usr/bin/env bash
# Benchmark of `tollgate serve` in forward-auth mode (POST/GET /verify) on loopback, with wrk.
#
#   (a) an anonymous route: the gateway's own floor (HTTP, route match, answer);
#   (b) a reused valid token: answered from the verified-token cache;
#   (c) a fresh valid token per request: one signature check and one cache insert each.
#
# Prints requests/s, p50/p99 latency and the ratios (b)/(a), (c)/(a), then the gateway's
# peak RSS. Everything is bounded: each run lasts DURATION seconds, the whole script is
# killed after 10 minutes, and every process it started is stopped at the end.
#
# Usage: bench/gateway.sh   (env: DURATION=5 ROUNDS=3 CONNECTIONS=64 THREADS=2 ALG=ES256
#                            TOKENS=240000 LOG_LEVEL=warn)
# Each case runs ROUNDS times, interleaved; the table shows each case's best round (the
# least disturbed on a shared machine) and every round's requests/s.
# Needs: wrk (apt-get install -y wrk), curl, a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
ALG="${ALG:-ES256}"
TOKENS="${TOKENS:-240000}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
ROUNDS="${ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 2; }

# Bound the whole run.
if [ -z "${TOLLGATE_BENCH_INNER:-}" ]; then
  TOLLGATE_BENCH_INNER=1 exec timeout 600 "$0" "$@"
fi

echo "bench: building (release)..." >&2
cargo build --release -q -p tollgate-cli
cargo build --release -q -p tollgate-gateway --example bench_issuer

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The issuer, with the tokens minted before the clock starts. Its stdin is a pipe held open.
mkfifo "$WORK/issuer_stdin"
"$CARGO_TARGET_DIR/release/examples/bench_issuer" "$WORK" "$TOKENS" "$ALG" <"$WORK/issuer_stdin" 2>"$WORK/issuer.log" &
PIDS+=($!)
exec 9>"$WORK/issuer_stdin"
for _ in $(seq 1 600); do [ -s "$WORK/issuer_url" ] && break; sleep 0.1; done
[ -s "$WORK/issuer_url" ] || { cat "$WORK/issuer.log" >&2; echo "bench: the issuer did not start" >&2; exit 1; }

PORT="$(free_port)"
ADMIN="$(free_port)"
cat >"$WORK/gateway.toml" <<EOF
listen = "127.0.0.1:$PORT"
admin_listen = "127.0.0.1:$ADMIN"

[[issuer]]
issuer = "$(cat "$WORK/issuer_url")"
audiences = ["api://bench"]

[[route]]
path = "/public/"
anonymous = true

[[route]]
path = "/"

[headers]
X-Auth-Subject = "sub"
X-Auth-Scope = "scope"
EOF
"$CARGO_TARGET_DIR/release/tollgate" serve --config "$WORK/gateway.toml" --log-level "$LOG_LEVEL" \
  >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ADMIN/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN/readyz" >/dev/null || { cat "$WORK/gateway.log" >&2; exit 1; }

URL="http://127.0.0.1:$PORT/verify"
VALID="$(cat "$WORK/valid_token")"

cat >"$WORK/anonymous.lua" <<'EOF'
wrk.method = "GET"
wrk.headers["X-Forwarded-Method"] = "GET"
wrk.headers["X-Forwarded-Uri"] = "/public/logo.png"
EOF
cat >"$WORK/reused.lua" <<EOF
wrk.method = "GET"
wrk.headers["X-Forwarded-Method"] = "GET"
wrk.headers["X-Forwarded-Uri"] = "/orders/42"
wrk.headers["Authorization"] = "Bearer $VALID"
EOF
# Fresh tokens: each round and wrk thread takes its own lines of the pool, so no token is
# sent twice until its share is exhausted (then a warning is printed: raise TOKENS).
cat >"$WORK/fresh.lua" <<EOF
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  -- this round's share of the pool, split between threads: no token is sent twice
  local slot = id + $THREADS * (tonumber(args[1]) - 1)
  tokens = {}
  local i = 0
  for line in io.lines("$WORK/tokens.txt") do
    if i % ($THREADS * $ROUNDS) == slot then tokens[#tokens + 1] = line end
    i = i + 1
  end
  n = 0
  wrapped = 0
end
function request()
  n = n + 1
  if n > #tokens then n = 1; wrapped = 1 end
  return wrk.format("GET", nil, {
    ["X-Forwarded-Method"] = "GET",
    ["X-Forwarded-Uri"] = "/orders/42",
    ["Authorization"] = "Bearer " .. tokens[n],
  })
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    if t:get("wrapped") == 1 then
      io.stderr:write("bench: WARNING: the token pool was exhausted; raise TOKENS\n")
    end
  end
end
EOF

run() { # name script round
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$2" "$URL" -- "$3" >"$WORK/$1.$3.txt" 2>&1
  local non2xx
  non2xx="$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/$1.$3.txt" | grep -o '[0-9]*$' || true)"
  if [ -n "$non2xx" ]; then echo "bench: $1: $non2xx non-2xx responses" >&2; cat "$WORK/$1.$3.txt" >&2; fi
}
# The best round of a case (highest requests/s): on a shared machine, the least disturbed.
best() { for f in "$WORK/$1".*.txt; do echo "$(awk '/^Requests\/sec:/ {print $2}' "$f") $f"; done | sort -g | tail -1 | cut -d' ' -f2; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$(best "$1")"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$(best "$1")"; }
all_rps() { for f in "$WORK/$1".*.txt; do awk '/^Requests\/sec:/ {printf "%.0f ", $2}' "$f"; done; }

echo "bench: warming up..." >&2
wrk -t1 -c4 -d2s -s "$WORK/reused.lua" "$URL" >/dev/null 2>&1 || true
# Rounds interleave the cases, so a burst of load elsewhere does not favour one case.
for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round/$ROUNDS: (a) anonymous, (b) reused token, (c) fresh $ALG tokens, ${DURATION}s each" >&2
  run anonymous "$WORK/anonymous.lua" "$round"
  run reused "$WORK/reused.lua" "$round"
  run fresh "$WORK/fresh.lua" "$round"
done

PEAK_RSS_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$GATEWAY_PID/status" 2>/dev/null || true)"; PEAK_RSS_KB="${PEAK_RSS_KB:-0}"
A="$(rps anonymous)"; B="$(rps reused)"; C="$(rps fresh)"
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2fx", x / y; else print "?" }'; }

echo
echo "tollgate serve, forward-auth /verify, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s x $ROUNDS rounds (best shown), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), log level $LOG_LEVEL"
echo
printf '| %-32s | %12s | %9s | %9s | %8s |\n' "case" "requests/s" "p50" "p99" "vs (a)"
printf '|%s|%s|%s|%s|%s|\n' "----------------------------------" "--------------" "-----------" "-----------" "----------"
printf '| %-32s | %12s | %9s | %9s | %8s |\n' "(a) anonymous route" "$A" "$(pct anonymous 50%)" "$(pct anonymous 99%)" "1.00x"
printf '| %-32s | %12s | %9s | %9s | %8s |\n' "(b) reused valid token" "$B" "$(pct reused 50%)" "$(pct reused 99%)" "$(ratio "$B" "$A")"
printf '| %-32s | %12s | %9s | %9s | %8s |\n' "(c) fresh valid token ($ALG)" "$C" "$(pct fresh 50%)" "$(pct fresh 99%)" "$(ratio "$C" "$A")"
echo
echo "gateway peak RSS: $((PEAK_RSS_KB / 1024)) MiB (VmHWM $PEAK_RSS_KB kB)"
echo "target: (b) >= 0.80x (a)"
echo "every round, requests/s: (a) $(all_rps anonymous)| (b) $(all_rps reused)| (c) $(all_rps fresh)"
curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -E '^tollgate_token_cache_requests_total|^tollgate_decisions_total' || true
