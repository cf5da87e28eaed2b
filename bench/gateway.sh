#!/usr/bin/env bash
# Benchmark of `tollgate serve` in forward-auth mode (GET /verify) on loopback, with wrk,
# measured as ratios taken in pairs, so load that drifts on a shared machine cancels.
#
# Cases (each a short wrk run against the same gateway process):
#   anonymous      an anonymous route: the gateway's own floor (HTTP, policy, route, answer)
#   reused         one valid token, again and again: the verified-token cache hit path
#   fresh          a valid token never seen before, per request: one signature check + insert
#   bad_signature  valid kid, altered signature (distinct tokens, cycled)
#   expired        a correctly signed, expired token (distinct tokens, cycled)
#   unknown_kid    a kid the issuer does not publish (its refetch is rate-limited)
#   malformed      not a JWT (distinct per request)
#
# One round runs every case once, in an order that rotates from round to round; a ratio
# (e.g. bad_signature / fresh) is taken inside each round, and the table shows the median of
# the per-round ratios with their range. With `--baseline OLD` a second gateway (the binary
# OLD, same configuration) runs beside this tree's: every case is run on A (OLD) then B (new),
# or B then A, alternately, and B/A is the median of the per-pair ratios.
#
# At the end, RSS_TOKENS distinct refused tokens with 8 KB kids are sent to each gateway and
# its peak RSS (VmHWM) is printed.
#
# Usage: bench/gateway.sh [--baseline /path/to/old/tollgate]
#   env: DURATION=2 ROUNDS=7 CONNECTIONS=32 THREADS=1 ALG=RS256 FRESH_RATE=50000 TOKENS=(auto)
#        REFUSED=20000 RSS_TOKENS=100000 LOG_LEVEL=(the gateway default) GATEWAY_LOG=/dev/null
#        PROFILE="fresh bad_signature" (perf profiles of those cases, into PROFILE_DIR)
# Everything is bounded: the script is killed after 20 minutes, every wrk run lasts
# DURATION seconds, and every process it started is stopped (by PID) at the end.
# Needs: wrk (apt-get install -y wrk), curl, python3, a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) BASELINE="$(realpath "$2")"; shift 2 ;;
    *) echo "usage: bench/gateway.sh [--baseline /path/to/old/tollgate]" >&2; exit 2 ;;
  esac
done

DURATION="${DURATION:-2}"
ROUNDS="${ROUNDS:-7}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
ALG="${ALG:-RS256}"
# Fresh tokens: every round gets its own share, never sent twice to one gateway.
# FRESH_RATE is the most fresh requests a second one run is expected to make (raise it if a
# pool-exhausted warning shows; RS256 tokens take a few hundred microseconds each to mint).
FRESH_RATE="${FRESH_RATE:-50000}"
TOKENS="${TOKENS:-$(((ROUNDS + 1) * DURATION * FRESH_RATE))}"
REFUSED="${REFUSED:-20000}"
RSS_TOKENS="${RSS_TOKENS:-100000}"
LOG_LEVEL="${LOG_LEVEL:-warn,tollgate::decision=info}"
GATEWAY_LOG="${GATEWAY_LOG:-/dev/null}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 2; }

# Bound the whole run.
if [ -z "${TOLLGATE_BENCH_INNER:-}" ]; then
  TOLLGATE_BENCH_INNER=1 exec timeout 1200 "$0" ${BASELINE:+--baseline "$BASELINE"}
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

# The issuer, with every token minted before the clock starts. Its stdin is a pipe held open.
echo "bench: minting $TOKENS fresh tokens and $REFUSED of each refused kind ($ALG)..." >&2
mkfifo "$WORK/issuer_stdin"
"$CARGO_TARGET_DIR/release/examples/bench_issuer" "$WORK" "$TOKENS" "$ALG" "$REFUSED" \
  <"$WORK/issuer_stdin" 2>"$WORK/issuer.log" &
PIDS+=($!)
exec 9>"$WORK/issuer_stdin"
# Minting 800,000 RS256 tokens takes about 3.5 minutes on two cores.
for _ in $(seq 1 6000); do [ -s "$WORK/issuer_url" ] && break; sleep 0.1; done
[ -s "$WORK/issuer_url" ] || { cat "$WORK/issuer.log" >&2; echo "bench: the issuer did not start" >&2; exit 1; }
# One file of fresh tokens per round, and a spare one for profiles.
split -n "l/$((ROUNDS + 1))" -d -a 3 "$WORK/tokens.txt" "$WORK/fresh."
rm "$WORK/tokens.txt"

# The gateways: B is this tree's, A the baseline (if any). Same configuration
# (bench/gateway.toml, shared with examples/decide_bench.rs).
start_gateway() { # name binary
  local port admin
  port="$(free_port)"; admin="$(free_port)"
  {
    printf 'listen = "127.0.0.1:%s"\nadmin_listen = "127.0.0.1:%s"\n\n' "$port" "$admin"
    sed "s|ISSUER_URL|$(cat "$WORK/issuer_url")|" bench/gateway.toml
  } >"$WORK/$1.toml"
  "$2" serve --config "$WORK/$1.toml" --log-level "$LOG_LEVEL" >"$GATEWAY_LOG" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null || { echo "bench: gateway $1 ($2) is not ready" >&2; exit 1; }
  eval "URL_$1=http://127.0.0.1:$port/verify; ADMIN_$1=http://127.0.0.1:$admin; PID_$1=$pid"
}
GATEWAYS="B"
start_gateway B "$CARGO_TARGET_DIR/release/tollgate"
if [ -n "$BASELINE" ]; then
  start_gateway A "$BASELINE"
  GATEWAYS="A B"
fi

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
# Tokens from a file (args: file, "once" or "cycle"); each wrk thread takes its own lines.
cat >"$WORK/file.lua" <<EOF
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
-- The requests are formatted once, before the clock starts: per request the client only
-- hands over the next one, as cheaply as wrk's static requests (anonymous, reused), so the
-- client's own CPU (on the same cores) weighs alike in every case.
function init(args)
  requests = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % $THREADS == id then
      requests[#requests + 1] = wrk.format("GET", nil, {
        ["X-Forwarded-Method"] = "GET",
        ["X-Forwarded-Uri"] = "/orders/42",
        ["Authorization"] = "Bearer " .. line,
      })
    end
    i = i + 1
  end
  once = args[2] == "once"
  n = 0
  wrapped = 0
end
function request()
  n = n + 1
  if n > #requests then n = 1; wrapped = 1 end
  return requests[n]
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    if t:get("wrapped") == 1 and t:get("once") then
      io.stderr:write("bench: WARNING: the fresh token pool was exhausted; raise TOKENS\n")
    end
  end
end
EOF
cat >"$WORK/malformed.lua" <<'EOF'
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args) n = 0 end
function request()
  n = n + 1
  return wrk.format("GET", nil, {
    ["X-Forwarded-Method"] = "GET",
    ["X-Forwarded-Uri"] = "/orders/42",
    ["Authorization"] = "Bearer not-a-jwt-" .. id .. "-" .. n,
  })
end
EOF
# Distinct unknown kids of 8 KB each (args: limit per thread); the header is base64url-encoded
# in three parts whose byte lengths are multiples of 3, so only the counter is encoded per request.
IFS=. read -r _ VALID_PAYLOAD VALID_SIG <<<"$VALID"
cat >"$WORK/bigkid.lua" <<EOF
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local d = { math.floor(v / 262144) % 64, math.floor(v / 4096) % 64, math.floor(v / 64) % 64, v % 64 }
    local k = 2 + (b and 1 or 0) + (c and 1 or 0)
    for j = 1, k do out[#out + 1] = chars:sub(d[j] + 1, d[j] + 1) end
  end
  return table.concat(out)
end
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  limit = tonumber(args[1])
  local prefix = '{"alg":"$ALG",'
  while (#prefix + 7) % 3 ~= 0 do prefix = prefix .. " " end
  prefix = prefix .. '"kid":"'
  head = b64(prefix)
  tail = b64(string.rep("k", 8192) .. '"}') .. ".$VALID_PAYLOAD.$VALID_SIG"
  n = 0
  responses = 0
end
function request()
  n = n + 1
  return wrk.format("GET", nil, {
    ["X-Forwarded-Method"] = "GET",
    ["X-Forwarded-Uri"] = "/orders/42",
    ["Authorization"] = "Bearer " .. head .. b64(string.format("%03d%09d", id, n)) .. tail,
  })
end
function response(status, headers, body)
  responses = responses + 1
  if responses >= limit then wrk.thread:stop() end
end
EOF

# The lua script and arguments of a case in a round.
case_args() { # case round
  local r
  if [ "$2" = profile ]; then r="$(printf '%03d' "$ROUNDS")"; else r="$(printf '%03d' $(( $2 - 1 )))"; fi
  case "$1" in
    anonymous) echo "$WORK/anonymous.lua" ;;
    reused) echo "$WORK/reused.lua" ;;
    fresh) echo "$WORK/file.lua -- $WORK/fresh.$r once" ;;  # round "profile": the spare share
    bad_signature) echo "$WORK/file.lua -- $WORK/bad_signature.txt cycle" ;;
    expired) echo "$WORK/file.lua -- $WORK/expired.txt cycle" ;;
    unknown_kid) echo "$WORK/file.lua -- $WORK/unknown_kid.txt cycle" ;;
    malformed) echo "$WORK/malformed.lua" ;;
  esac
}
expected_code() {
  case "$1" in
    anonymous|reused|fresh) echo "" ;;
    bad_signature) echo signature_invalid ;;
    malformed) echo malformed_token ;;
    unknown_kid) echo kid_not_found ;;
    *) echo "$1" ;;
  esac
}
CASES=(anonymous reused fresh bad_signature expired unknown_kid malformed)

# Every case answers as expected, on every gateway, before anything is timed.
for g in $GATEWAYS; do
  url="$(eval echo "\$URL_$g")"
  for c in bad_signature expired unknown_kid; do
    code="$(curl -s -o /dev/null -D - -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /orders/42' \
      -H "Authorization: Bearer $(head -1 "$WORK/$c.txt")" "$url" | awk -F': ' 'tolower($1) == "x-tollgate-error" {print $2}' | tr -d '\r')"
    [ "$code" = "$(expected_code "$c")" ] || { echo "bench: $g answers $c with code '$code'" >&2; exit 1; }
  done
done

# CPU time (user + system, in clock ticks) the gateway process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"

run() { # gateway case round
  local url script args
  url="$(eval echo "\$URL_$1")"
  read -r script args <<<"$(case_args "$2" "$3")"
  local pid cpu_before
  pid="$(eval echo "\$PID_$1")"
  cpu_before="$(cpu_ticks "$pid")"
  # shellcheck disable=SC2086
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url" $args \
    >"$WORK/$1.$2.$3.txt" 2>&1 || true
  echo "$(( $(cpu_ticks "$pid") - cpu_before ))" >"$WORK/$1.$2.$3.cpu"
  local total non2xx
  total="$(awk '/requests in/ {print $1}' "$WORK/$1.$2.$3.txt")"
  non2xx="$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/$1.$2.$3.txt" | grep -o '[0-9]*$' || echo 0)"
  if [ -z "$(expected_code "$2")" ]; then
    [ "$non2xx" = 0 ] || echo "bench: $1 $2: $non2xx non-2xx responses" >&2
  else
    [ "$non2xx" = "$total" ] || echo "bench: $1 $2: only $non2xx of $total refused" >&2
  fi
  grep -q WARNING "$WORK/$1.$2.$3.txt" && grep WARNING "$WORK/$1.$2.$3.txt" >&2
  return 0
}

echo "bench: warming up..." >&2
for g in $GATEWAYS; do
  wrk -t1 -c4 -d1s -s "$WORK/reused.lua" "$(eval echo "\$URL_$g")" >/dev/null 2>&1 || true
done
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round/$ROUNDS (${#CASES[@]} cases x ${DURATION}s x gateways $GATEWAYS)" >&2
  n=${#CASES[@]}
  for k in $(seq 0 $((n - 1))); do
    c="${CASES[$(( (k + round) % n ))]}"
    if [ $((round % 2)) = 1 ]; then order="$GATEWAYS"; else order="$(echo "$GATEWAYS" | rev)"; fi
    for g in $order; do run "$g" "$c" "$round"; done
  done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# Optional CPU profiles (PROFILE="fresh bad_signature"): perf samples each gateway while
# one more run of the case lasts; the flat report goes to PROFILE_DIR/<gateway>.<case>.txt,
# the samples to <gateway>.<case>.perf.data (call graphs need frame pointers: build with
# RUSTFLAGS="-C force-frame-pointers=yes" and a CARGO_TARGET_DIR of its own).
PROFILE_DIR="${PROFILE_DIR:-$CARGO_TARGET_DIR/gateway-profile}"
for c in ${PROFILE:-}; do
  mkdir -p "$PROFILE_DIR"
  for g in $GATEWAYS; do
    pid="$(eval echo "\$PID_$g")"
    echo "bench: profiling $g $c..." >&2
    perf record -F 999 -g -o "$WORK/perf.data" -p "$pid" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
    run "$g" "$c" profile
    wait "$perf_pid" || true
    perf report -i "$WORK/perf.data" --no-children --percent-limit 0.7 --stdio -g none \
      >"$PROFILE_DIR/$g.$c.txt" 2>/dev/null || echo "bench: perf could not sample" >&2
    perf report -i "$WORK/perf.data" --children --percent-limit 3 --stdio -g none \
      >"$PROFILE_DIR/$g.$c.children.txt" 2>/dev/null || true
    cp "$WORK/perf.data" "$PROFILE_DIR/$g.$c.perf.data"
  done
done

echo "bench: peak RSS after $RSS_TOKENS distinct refused tokens with 8 KB kids..." >&2
for g in $GATEWAYS; do
  wrk -t"$THREADS" -c"$CONNECTIONS" -d60s -s "$WORK/bigkid.lua" "$(eval echo "\$URL_$g")" \
    -- $((RSS_TOKENS / THREADS)) >"$WORK/$g.rss.txt" 2>&1 || true
  eval "RSS_$g=\$(awk '/^VmHWM:/ {print \$2}' /proc/\$PID_$g/status)"
  eval "RSS_SENT_$g=\$(awk '/requests in/ {print \$1}' \"$WORK/$g.rss.txt\")"
done

echo
echo "tollgate serve, forward-auth /verify, $ALG, wrk -t$THREADS -c$CONNECTIONS, $ROUNDS rounds x ${DURATION}s per case and gateway, log level $LOG_LEVEL"
echo "$(nproc) cores, load average $LOAD_BEFORE before, $LOAD_AFTER after; B = $CARGO_TARGET_DIR/release/tollgate${BASELINE:+, A = $BASELINE}"
python3 - "$WORK" "$ROUNDS" "$GATEWAYS" "$TICKS" "${CASES[@]}" <<'EOF'
import re, statistics, sys
work, rounds, gateways, ticks, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), int(sys.argv[4]), sys.argv[5:]

def parse(g, c, r):
    text = open(f"{work}/{g}.{c}.{r}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else float("nan")
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    cpu = int(open(f"{work}/{g}.{c}.{r}.cpu").read()) / ticks * 1e6 / max(requests, 1)
    return rps, p99, cpu

data = {(g, c, r): parse(g, c, r) for g in gateways for c in cases for r in range(1, rounds + 1)}

def med(xs): return statistics.median(xs)
def ratio(num, den, g_num, g_den=None):
    g_den = g_den or g_num
    xs = [data[(g_num, num, r)][0] / data[(g_den, den, r)][0] for r in range(1, rounds + 1)]
    return med(xs), min(xs), max(xs)
def fmt(t): return f"**{t[0]:.2f}x** ({t[1]:.2f}-{t[2]:.2f})"

labels = {"anonymous": "anonymous route (floor)", "reused": "reused valid token (cache)",
          "fresh": "fresh valid token", "bad_signature": "bad signature (valid kid)",
          "expired": "expired token", "unknown_kid": "unknown kid", "malformed": "malformed token"}
for g in gateways:
    print()
    print(f"Gateway {g}: median of {rounds} rounds; ratios are medians of per-round ratios (min-max)")
    print()
    print("| request | req/s | p99 | gateway CPU per request | vs anonymous | vs fresh valid |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in cases:
        rps = med([data[(g, c, r)][0] for r in range(1, rounds + 1)])
        p99 = med([data[(g, c, r)][1] for r in range(1, rounds + 1)])
        cpu = med([data[(g, c, r)][2] for r in range(1, rounds + 1)])
        va = "" if c == "anonymous" else fmt(ratio(c, "anonymous", g))
        vf = "" if c in ("anonymous", "reused", "fresh") else fmt(ratio(c, "fresh", g))
        print(f"| {labels[c]} | {rps:,.0f} | {p99:,.0f} µs | {cpu:.1f} µs | {va} | {vf} |")
if len(gateways) == 2:
    print()
    print("B (this tree) / A (baseline), median of per-pair ratios (min-max), req/s:")
    print()
    print("| request | A req/s | B req/s | B/A | A CPU/request | B CPU/request |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in cases:
        a = med([data[("A", c, r)][0] for r in range(1, rounds + 1)])
        b = med([data[("B", c, r)][0] for r in range(1, rounds + 1)])
        ca = med([data[("A", c, r)][2] for r in range(1, rounds + 1)])
        cb = med([data[("B", c, r)][2] for r in range(1, rounds + 1)])
        print(f"| {labels[c]} | {a:,.0f} | {b:,.0f} | {fmt(ratio(c, c, 'B', 'A'))} | {ca:.1f} µs | {cb:.1f} µs |")
    # The issue's yardstick: fresh / anonymous on each side, per round, and B's over A's.
    xs = [(data[("B", "fresh", r)][0] / data[("B", "anonymous", r)][0])
          / (data[("A", "fresh", r)][0] / data[("A", "anonymous", r)][0]) for r in range(1, rounds + 1)]
    print()
    print(f"(fresh/anonymous of B) / (fresh/anonymous of A): {fmt((med(xs), min(xs), max(xs)))}")
EOF
echo
for g in $GATEWAYS; do
  rss="$(eval echo "\$RSS_$g")"; sent="$(eval echo "\$RSS_SENT_$g")"
  echo "gateway $g: peak RSS $((rss / 1024)) MiB (VmHWM $rss kB) after $sent distinct refused tokens with 8 KB kids (limit 100 MiB)"
done
for g in $GATEWAYS; do
  echo "gateway $g metrics:"
  curl -s "$(eval echo "\$ADMIN_$g")/metrics" | grep -E '^tollgate_token_cache_requests_total|^tollgate_decisions_total|^tollgate_key_fetches_total' || true
done
