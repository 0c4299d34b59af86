#!/usr/bin/env bash
# Load benchmark of the running secure-fhir-server: authorized reads and searches per second and
# latency percentiles, with the security checks ON (token validation, decision, narrowing,
# result checks, audit log + AuditEvents) versus OFF (--dangerous-disable-security) in the same
# run, on the same data, alternating, so the cost of security is a measured ratio.
#
#   benches/load/run.sh [DURATION_SECS] [CONNECTIONS]     (defaults: 10 s, 16 connections)
#
# Both servers keep their data in a database file; the secure one answers a request only after
# its audit record is fdatasync'ed to the audit log (group commit), as it does in deployment.
# AUDIT_DIR=/dev/shm puts the audit log on tmpfs, where fdatasync returns at once: the same code
# path, measuring the CPU cost of security apart from the disk's flush latency (which bounds
# the secure server's throughput at CONNECTIONS / flush time when the disk is slow).
#
# SECURE_ARGS adds flags to the secure server, e.g. SECURE_ARGS="--audit-commit-delay 1500" for
# many concurrent clients (see the server's --help).
#
# Each row also gives the server process's CPU time per request (user + system, all threads,
# from /proc): a measure of the cost of security that does not depend on how the 2 cores are
# shared with `wrk` and whatever else runs.
#
# Needs `wrk` (Debian package `wrk`; installed here if missing and apt is available). Every
# request goes to 127.0.0.1 only; each wrk run stops by itself after DURATION_SECS.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${1:-10}"
CONNECTIONS="${2:-16}"
ROUNDS="${ROUNDS:-2}"
PHRASE="benchmark-only-serves-phi-to-anyone"

if ! command -v wrk >/dev/null; then
    if command -v apt-get >/dev/null; then
        (apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; })
    fi
fi
command -v wrk >/dev/null || { echo "benches/load: wrk is not installed" >&2; exit 1; }

if [ -z "${LOAD_SKIP_BUILD:-}" ]; then   # LOAD_SKIP_BUILD=1: use the binaries in target/release
    echo "==> building (release)" >&2
    cargo build --release -q -p secure-fhir-server
    cargo build --release -q -p secure-fhir-benches --example mint_token
fi

work="$(mktemp -d)"
audit_dir="$(mktemp -d -p "${AUDIT_DIR:-$work}")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    # Wait for them to exit, so that a run right after this one finds the ports free.
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work" "$audit_dir"
}
trap cleanup EXIT

read -r ISSUER AUDIENCE < <(target/release/examples/mint_token "$work")
TOKEN="$(cat "$work/token.txt")"

start_server() { # name port extra-args...
    local name="$1" port="$2"; shift 2
    # A database file each (WAL), as a deployment runs: an in-memory SQLite database slows down
    # as it grows (every commit scans its page cache; measured with `perf`).
    target/release/secure-fhir-server --listen "127.0.0.1:$port" --db "$work/$name.db" \
        --issuer "$ISSUER" --jwks-file "$work/jwks.json" --audience "$AUDIENCE" \
        --data examples/server/data/demo.json "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1
}

SECURE_PORT=18443
OPEN_PORT=18444
# shellcheck disable=SC2086 # SECURE_ARGS: extra flags of the secure server, split on spaces
start_server secure "$SECURE_PORT" --audit-log "$audit_dir/audit.log" ${SECURE_ARGS:-}
start_server open "$OPEN_PORT" --dangerous-disable-security "$PHRASE"

# Sanity: the secure server refuses without the token and answers with it; the open one
# answers without.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$SECURE_PORT/fhir/Patient/example")" = 401 ] || { echo "secure server did not refuse" >&2; exit 1; }
[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SECURE_PORT/fhir/Patient/example")" = 200 ] || { echo "token refused" >&2; exit 1; }
[ "$(code "http://127.0.0.1:$OPEN_PORT/fhir/Patient/example")" = 200 ] || { echo "open server failed" >&2; exit 1; }

# The server's CPU time so far (user + system, all threads), in clock ticks.
cpu_ticks() { # pid
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# wrk: prints "rps p50_ms p99_ms cpu_us_per_request"; fails if any response was not 2xx.
bench() { # url pid [auth]
    local url="$1" pid="$2" auth="${3:-}" out before after
    before="$(cpu_ticks "$pid")"
    if [ -n "$auth" ]; then
        out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $auth" "$url")"
    else
        out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")"
    fi
    after="$(cpu_ticks "$pid")"
    if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx responses from $url" >&2; echo "$out" >&2; exit 1; fi
    python3 - "$out" "$(( (after - before) * TICK_US ))" <<'PY'
import re, sys
out = sys.argv[1]
cpu_us = int(sys.argv[2])
requests = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def pct(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
print(f"{rps:.0f} {pct(50):.2f} {pct(99):.2f} {cpu_us / requests:.1f}")
PY
}

declare -A best
run_case() { # label path
    local label="$1" path="$2"
    for round in $(seq 1 "$ROUNDS"); do
        for mode in on off; do
            local r
            if [ "$mode" = on ]; then
                r="$(bench "http://127.0.0.1:$SECURE_PORT/fhir$path" "${pids[0]}" "$TOKEN")"
            else
                r="$(bench "http://127.0.0.1:$OPEN_PORT/fhir$path" "${pids[1]}")"
            fi
            echo "  $label security $mode round $round: $r (req/s p50ms p99ms server-CPU-us/request)" >&2
            local rps="${r%% *}"
            local prev="${best[$label.$mode]:-0 0 0 0}"
            if [ "${rps%.*}" -gt "${prev%% *}" ]; then best[$label.$mode]="$r"; fi
        done
    done
}

echo "==> wrk -t2 -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds alternating, best round kept" >&2
run_case read "/Patient/example"
run_case search "/Observation?patient=example"

echo
echo "| workload | security | req/s | p50 ms | p99 ms | server CPU µs/request |"
echo "|---|---|---:|---:|---:|---:|"
for label in read search; do
    for mode in on off; do
        read -r rps p50 p99 cpu <<<"${best[$label.$mode]}"
        echo "| $label | $mode | $rps | $p50 | $p99 | $cpu |"
    done
done
echo
for label in read search; do
    read -r on _ _ on_cpu <<<"${best[$label.on]}"
    read -r off _ _ off_cpu <<<"${best[$label.off]}"
    python3 -c "print(f'$label: security costs {(1 - $on / $off) * 100:.1f}% of throughput (on/off = {$on / $off:.3f}); server CPU per request on/off = {$on_cpu / $off_cpu:.2f}')"
done
