#!/usr/bin/env bash
# Audit retention under load: fills a fresh vault's audit log with FILL seconds of
# GetCallerIdentity at 32 clients (every request is a record), then measures 15 s of the
# same load without a prune and 15 s with `iamvault audit prune` of everything recorded
# so far running in the middle of it. Prints both runs' figures, the prune's wall and CPU
# time, the verify line after it, the archive's size, and how long checking the archive
# (`audit verify-archive`) takes.
#
#   bench/audit-prune.sh            # FILL=40
#   FILL=120 bench/audit-prune.sh
#
# Needs release builds: `cargo build --release` and, in bench/, `cargo build --release`.
# Everything goes to a temporary directory that is removed at the end.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${IAMVAULT:-$ROOT/target/release/iamvault}
B=${BENCH:-$HERE/target/release/iamvault-bench}
FILL=${FILL:-40}
PORT=${PORT:-8977}
D=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"' EXIT

"$BIN" --data-dir "$D/v" init >/dev/null 2>&1
"$BIN" --data-dir "$D/v" serve --listen 127.0.0.1:$PORT >"$D/out" 2>"$D/log" &
PID=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=$(awk '$1=="aws_access_key_id" {print $3}' "$D/v/bootstrap-credentials")
export AWS_SECRET_ACCESS_KEY=$(awk '$1=="aws_secret_access_key" {print $3}' "$D/v/bootstrap-credentials")
run() {
  "$B" run --endpoint http://127.0.0.1:$PORT --state "$D/state.json" --label "$1" \
    --scenario get-caller-identity --clients 32 --duration "$2" --quiet 2>&1 | grep ops/s
}
"$B" setup --endpoint http://127.0.0.1:$PORT --state "$D/state.json" --max-clients 64 --login-users 1 >/dev/null
run fill "$FILL"
echo "records before: $("$BIN" --data-dir "$D/v" audit search --count)"
echo "database: $(stat -c %s "$D/v/vault.db") bytes"
run no-prune 15
CUT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
run with-prune 15 &
RP=$!
sleep 3
/usr/bin/time -f "prune: wall %e s, CPU %U + %S s, max RSS %M KiB" \
  "$BIN" --data-dir "$D/v" audit prune --before "$CUT" --archive "$D/archive.jsonl"
wait $RP
"$BIN" --data-dir "$D/v" audit verify
echo "archive: $(wc -l <"$D/archive.jsonl") lines, $(stat -c %s "$D/archive.jsonl") bytes"
/usr/bin/time -f "verify-archive: wall %e s, CPU %U + %S s, max RSS %M KiB" \
  "$BIN" --data-dir "$D/v" audit verify-archive "$D/archive.jsonl"
