#!/bin/bash
# The A/B helper of the perf-audit runs: one fresh iamvault (IAMVAULT=binary) per call, setup, then each scenario at each client count.
# usage: pbench.sh OUTDIR "scenarios" "clients" duration
set -euo pipefail
OUT=$1; SCEN=${2:-"get-caller-identity get-caller-identity-session assume-role"}; CL=${3:-"1 32"}; DUR=${4:-10}
ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
BENCH=$ROOT/bench/target/release/iamvault-bench
IAMVAULT=${IAMVAULT:-$ROOT/target/release/iamvault}
rm -rf "$OUT"; mkdir -p "$OUT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
V=http://127.0.0.1:$PORT
"$IAMVAULT" --data-dir "$OUT/vault" serve --listen "127.0.0.1:$PORT" >"$OUT/iamvault.out" 2>"$OUT/iamvault.log" &
VP=$!
trap 'kill $VP 2>/dev/null; wait $VP 2>/dev/null' EXIT
for _ in $(seq 1 300); do curl -s -o /dev/null "$V/healthz" && break; sleep 0.1; done
creds() { awk -v k="$2" '$1==k {print $3}' "$1"; }
export AWS_ACCESS_KEY_ID=$(creds "$OUT/vault/bootstrap-credentials" aws_access_key_id)
export AWS_SECRET_ACCESS_KEY=$(creds "$OUT/vault/bootstrap-credentials" aws_secret_access_key)
"$BENCH" setup --endpoint "$V" --state "$OUT/state.json" --max-clients 64 --login-users 0 >/dev/null
echo $VP > "$OUT/pid"
for s in $SCEN; do for c in $CL; do
  "$BENCH" run --endpoint "$V" --state "$OUT/state.json" --label iamvault --scenario "$s" --clients "$c" --duration "$DUR" --json-out "$OUT/results.jsonl" --server-pid "$VP" --quiet 2>&1 | grep -v '^$' | tail -2
done; done
