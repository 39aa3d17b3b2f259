#!/usr/bin/env bash
# iamvault and moto side by side: the same setup and scenarios against both servers, in
# one run, on this machine; prints the table with ratios and says which scenarios moto
# lacks. Also sweeps GetCallerIdentity over 1..32 clients on both and plots it.
#
#   bench/moto-compare.sh
#   CLIENTS="1 8 32" DURATION=20 bench/moto-compare.sh
#
# Everything it makes goes to bench/target/compare-<time>/ (results.jsonl, table.md,
# sweep.csv, sweep.png, both servers' logs). The load generator runs on the same machine
# as the servers and shares their CPUs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MOTO_VERSION=${MOTO_VERSION:-5.2.5}
CLIENTS=${CLIENTS:-"1 32"}
DURATION=${DURATION:-10}
SWEEP_DURATION=${SWEEP_DURATION:-5}
SWEEP_CLIENTS=${SWEEP_CLIENTS:-1,2,4,8,16,32}
# Each login run signs every prepared user in once and ends when they run out: enough
# users for DURATION seconds at ~150 sign-ins/s (two cores of argon2id) make the login rows
# full-length measurements, not a 2-second burst.
LOGIN_USERS=${LOGIN_USERS:-$((DURATION * 150))}
SCENARIOS=${SCENARIOS:-"get-caller-identity get-caller-identity-session assume-role create-delete-access-key simulate-principal-policy authorize login"}
OUT=${OUT:-$HERE/target/compare-$(date +%Y%m%d-%H%M%S)}
VENV=$HERE/target/moto-venv
BENCH=$HERE/target/release/iamvault-bench
IAMVAULT=$ROOT/target/release/iamvault

mkdir -p "$OUT"
echo "== output in $OUT"

if [ ! -x "$VENV/bin/moto_server" ] || ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')"; then
    echo "== installing moto[server]==$MOTO_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
fi

echo "== building iamvault and the harness (release)"
(cd "$ROOT" && cargo build --release --quiet)
(cd "$HERE" && cargo build --release --quiet)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(free_port)
VAULT_PORT=$(free_port)
MOTO=http://127.0.0.1:$MOTO_PORT
VAULT=http://127.0.0.1:$VAULT_PORT

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$OUT/moto.log" 2>&1 &
PIDS+=($!)
MOTO_PID=$!
"$IAMVAULT" --data-dir "$OUT/vault" serve --listen "127.0.0.1:$VAULT_PORT" >"$OUT/iamvault.out" 2>"$OUT/iamvault.log" &
PIDS+=($!)
VAULT_PID=$!

wait_up() {
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null "$1"; then return 0; fi
        sleep 0.1
    done
    echo "server at $1 did not start" >&2
    exit 1
}
wait_up "$VAULT/healthz"
wait_up "$MOTO/moto-api/"

creds() { awk -v k="$2" '$1==k {print $3}' "$1"; }
VAULT_KEY=$(creds "$OUT/vault/bootstrap-credentials" aws_access_key_id)
VAULT_SECRET=$(creds "$OUT/vault/bootstrap-credentials" aws_secret_access_key)
# moto checks no signature: any strings do.
MOTO_KEY=AKIAMOTOBENCHMARK001
MOTO_SECRET=moto-bench-secret-key-any-string-will-do

vault_env() { AWS_ACCESS_KEY_ID=$VAULT_KEY AWS_SECRET_ACCESS_KEY=$VAULT_SECRET "$@"; }
moto_env() { AWS_ACCESS_KEY_ID=$MOTO_KEY AWS_SECRET_ACCESS_KEY=$MOTO_SECRET "$@"; }

echo "== setup (through the IAM API of each server)"
vault_env "$BENCH" setup --endpoint "$VAULT" --state "$OUT/iamvault-state.json" --max-clients 64 --login-users "$LOGIN_USERS"
moto_env "$BENCH" setup --endpoint "$MOTO" --state "$OUT/moto-state.json" --max-clients 64 --login-users 2

RESULTS=$OUT/results.jsonl
for s in $SCENARIOS; do
    for c in $CLIENTS; do
        echo "== $s, $c clients"
        vault_env "$BENCH" run --endpoint "$VAULT" --state "$OUT/iamvault-state.json" --label iamvault \
            --scenario "$s" --clients "$c" --duration "$DURATION" --json-out "$RESULTS" --server-pid "$VAULT_PID" --quiet || true
        moto_env "$BENCH" run --endpoint "$MOTO" --state "$OUT/moto-state.json" --label moto \
            --scenario "$s" --clients "$c" --duration "$DURATION" --json-out "$RESULTS" --server-pid "$MOTO_PID" --quiet || true
    done
done

echo "== sweep: get-caller-identity at $SWEEP_CLIENTS clients"
vault_env "$BENCH" sweep --endpoint "$VAULT" --state "$OUT/iamvault-state.json" --label iamvault \
    --scenario get-caller-identity --clients-list "$SWEEP_CLIENTS" --duration "$SWEEP_DURATION" --quiet \
    --csv "$OUT/sweep.csv" --png "$OUT/sweep.png"
moto_env "$BENCH" sweep --endpoint "$MOTO" --state "$OUT/moto-state.json" --label moto \
    --scenario get-caller-identity --clients-list "$SWEEP_CLIENTS" --duration "$SWEEP_DURATION" --quiet \
    --csv "$OUT/sweep.csv" --png "$OUT/sweep.png"

echo "== every issuance audited: AssumeRole records in the vault's audit log"
ISSUED=$(python3 -c 'import json,sys; print(sum(r["ops"]-r["errors"] for r in map(json.loads, open(sys.argv[1])) if r["label"]=="iamvault" and r["scenario"]=="assume-role"))' "$RESULTS")
AUDITED=$("$IAMVAULT" --data-dir "$OUT/vault" audit search --action sts:AssumeRole --decision allowed --count 2>/dev/null || echo "?")
echo "AssumeRole issued in the measured runs: $ISSUED; allowed sts:AssumeRole audit records (also warm-ups, probes, authorize's session): $AUDITED" | tee "$OUT/audit.txt"

echo
echo "== results (machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load generator on the same CPUs)"
"$BENCH" table --results "$RESULTS" --a iamvault --b moto | tee "$OUT/table.md"
echo
echo "sweep: $OUT/sweep.csv, $OUT/sweep.png"
