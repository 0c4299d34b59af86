#!/usr/bin/env bash
# Instructions per request of the running secure-fhir-server, security on versus off, counted by
# valgrind's callgrind (user space, all threads). Unlike `run.sh`'s requests per second, the count
# does not depend on what else the 2 cores are doing, so two commits can be compared on a busy
# machine (run it on both; differences of a percent or two are real).
#
#   benches/load/instructions.sh [PATH] [REQUESTS]    (defaults: /Patient/example, 2000)
#
# Each server starts under callgrind with its own database and the demo data (the secure one with
# its audit log on disk), takes 300 warm-up requests, then REQUESTS more over 4 keep-alive
# connections between a zeroing and a dump of the counters. Prints instructions per request for
# each, their ratio, and the secure server's top inclusive costs.
#
# What the count leaves out or overstates: kernel time (syscalls, `fdatasync`, context switches:
# `run.sh`'s CPU column has them); SHA-256, which runs without the CPU's SHA extensions under
# valgrind (several times its real cost); and the log's checkpoint signing, which is timed
# (every 10 ms while records arrive) rather than per request, so a server slowed down by
# valgrind signs far more often per request: it is reported apart and subtracted.
#
# Needs valgrind (Debian package `valgrind`, installed here if missing and apt is available) and
# the release binaries (`cargo build --release -p secure-fhir-server` and
# `cargo build --release -p secure-fhir-benches --example mint_token`, or LOAD_SKIP_BUILD unset).
set -euo pipefail
cd "$(dirname "$0")/../.."

REQ_PATH="${1:-/Patient/example}"
REQUESTS="${2:-2000}"
PHRASE="benchmark-only-serves-phi-to-anyone"

if ! command -v valgrind >/dev/null && command -v apt-get >/dev/null; then
    (apt-get install -y valgrind >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y valgrind >/dev/null; })
fi
command -v valgrind >/dev/null || { echo "benches/load: valgrind is not installed" >&2; exit 1; }

if [ -z "${LOAD_SKIP_BUILD:-}" ]; then
    echo "==> building (release)" >&2
    cargo build --release -q -p secure-fhir-server
    cargo build --release -q -p secure-fhir-benches --example mint_token
fi

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

read -r ISSUER AUDIENCE < <(target/release/examples/mint_token "$work")
TOKEN="$(cat "$work/token.txt")"
PORT=18460

# Sends N requests over C keep-alive connections; every answer must be a 200.
requests() { # n connections
    python3 - "$TOKEN" "$PORT" "$REQ_PATH" "$1" "$2" <<'PY'
import http.client, sys, threading
token, port, path, n, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
failed = []
def run(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(k):
        c.request("GET", "/fhir" + path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse(); r.read()
        if r.status != 200: failed.append(r.status)
threads = [threading.Thread(target=run, args=(n // conns,)) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
if failed: sys.exit(f"non-200 answers: {sorted(set(failed))}")
PY
}

# Runs one server under callgrind; prints "instructions checkpoint-instructions".
measure() { # name extra-args...
    local name="$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$work/$name.%p" \
        target/release/secure-fhir-server --listen "127.0.0.1:$PORT" --db "$work/$name.db" \
        --issuer "$ISSUER" --jwks-file "$work/jwks.json" --audience "$AUDIENCE" \
        --data examples/server/data/demo.json "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    for _ in $(seq 1 600); do
        grep -q "listening on" "$work/$name.out" 2>/dev/null && break
        sleep 0.2
    done
    grep -q "listening on" "$work/$name.out" || { echo "server $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
    requests 300 1
    callgrind_control -z "$pid" >/dev/null 2>&1
    requests "$REQUESTS" 4
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    local dump total signing
    dump="$(ls "$work/$name".*.1)"
    total="$(grep -m1 '^summary:' "$dump" | awk '{print $2}')"
    callgrind_annotate --threshold=100 --inclusive=yes "$dump" >"$work/$name.annotated" 2>/dev/null
    signing="$(awk '/Writer::write_checkpoint/ {gsub(",", "", $1); print $1; exit}' "$work/$name.annotated")"
    grep -E 'secure_fhir|smart_auth|fhir_audit' "$work/$name.annotated" | sed 's/ \[[^]]*\]$//; s/???://' | sed -n 1,25p >"$work/$name.top" || true
    echo "$total ${signing:-0}"
}

echo "==> $REQUESTS requests of GET /fhir$REQ_PATH under callgrind, security on then off" >&2
read -r on_total on_signing < <(measure secure --audit-log "$work/audit.log")
read -r off_total off_signing < <(measure open --dangerous-disable-security "$PHRASE")

echo "secure server, top inclusive costs over the run (instructions, share):"
sed 's/^/  /' "$work/secure.top"
echo
python3 - "$REQUESTS" "$on_total" "$on_signing" "$off_total" "$off_signing" <<'PY'
import sys
n, on, on_sign, off, off_sign = (int(a) for a in sys.argv[1:])
on_req, off_req = (on - on_sign) / n, (off - off_sign) / n
print(f"security on:  {on / n:,.0f} instructions per request ({on_sign / n:,.0f} of them timed checkpoint signing)")
print(f"security off: {off / n:,.0f} instructions per request")
print(f"without checkpoint signing: on {on_req:,.0f}, off {off_req:,.0f}; "
      f"security adds {on_req - off_req:,.0f} per request (on/off = {on_req / off_req:.2f})")
PY
