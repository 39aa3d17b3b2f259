#!/usr/bin/env bash
# Login flood (issue 10): USERS users with a password and a virtual MFA device sign in
# at once from CLIENTS concurrent clients (password + TOTP through /vault/v1/login,
# spread over loopback source addresses as `run --scenario login` does), RUNS times,
# each run between two measurements of the raw argon2id verification rate of this
# machine (`iamvault-bench argon2-rate`, one thread per CPU, 5 s each; the ratio uses
# their mean, since a shared machine's rate drifts). Prints the server's VmRSS/VmHWM
# after each run, and the CPU time the server and the load generator used per sign-in
# (against the raw rate's 1000 * THREADS / rate ms of argon2 per verification).
#
#   bench/login-flood.sh
#   USERS=1000 CLIENTS=1000 RUNS=3 DURATION=60 bench/login-flood.sh
#
# DURATION bounds a flood (it ends earlier, when every user has signed in once).
#
# Output in bench/target/login-<time>/ (results.jsonl, argon2.txt, the server's log).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
USERS=${USERS:-1000}
CLIENTS=${CLIENTS:-1000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-60}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-$HERE/target/login-$(date +%Y%m%d-%H%M%S)}
BENCH=${BENCH:-$HERE/target/release/iamvault-bench}
IAMVAULT=${IAMVAULT:-$ROOT/target/release/iamvault}

mkdir -p "$OUT"
echo "== output in $OUT"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VAULT=http://127.0.0.1:$port
"$IAMVAULT" --data-dir "$OUT/vault" serve --listen "127.0.0.1:$port" >"$OUT/iamvault.out" 2>"$OUT/iamvault.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    if curl -s -o /dev/null "$VAULT/healthz"; then break; fi
    sleep 0.1
done

creds() { awk -v k="$2" '$1==k {print $3}' "$1"; }
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
AWS_ACCESS_KEY_ID=$(creds "$OUT/vault/bootstrap-credentials" aws_access_key_id)
AWS_SECRET_ACCESS_KEY=$(creds "$OUT/vault/bootstrap-credentials" aws_secret_access_key)

echo "== setup: $USERS login users"
"$BENCH" setup --endpoint "$VAULT" --state "$OUT/state.json" --max-clients 1 --login-users "$USERS"
grep -E 'VmRSS|VmHWM' "/proc/$PID/status" | tr -s ' \t' ' ' | sed 's/^/after setup: /'

# CPU seconds (user + system) a process has used so far; all_cpu_secs: every process's.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
all_cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {print ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }
rate() { "$BENCH" argon2-rate --threads "$THREADS" | tee -a "$OUT/argon2.txt" | awk '{print $(NF-1)}'; }
for i in $(seq 1 "$RUNS"); do
    echo "== run $i"
    before=$(rate)
    server0=$(cpu_secs "$PID")
    all0=$(all_cpu_secs)
    /usr/bin/env time -f '%U %S' -o "$OUT/load-cpu-$i.txt" \
        "$BENCH" run --endpoint "$VAULT" --state "$OUT/state.json" --label iamvault \
        --scenario login --clients "$CLIENTS" --duration "$DURATION" --json-out "$OUT/results.jsonl" \
        --server-pid "$PID" --quiet | tee "$OUT/run-$i.txt"
    server1=$(cpu_secs "$PID")
    all1=$(all_cpu_secs)
    after=$(rate)
    logins=$(sed -n 's/.* = \([0-9.]*\) ops\/s.*/\1/p' "$OUT/run-$i.txt")
    ops=$(sed -n 's/.*: \([0-9]*\) ops in .*/\1/p' "$OUT/run-$i.txt")
    load_cpu=$(awk '{print $1 + $2}' "$OUT/load-cpu-$i.txt")
    secs=$(sed -n 's/.* ops in \([0-9.]*\) s .*/\1/p' "$OUT/run-$i.txt")
    # Other processes' CPU during the flood (the machine may be shared): a run where they
    # took more than a few per cent measured the neighbours, not the vault.
    python3 -c 'import sys; b, a, l, n, s0, s1, g, t, a0, a1, w = map(float, sys.argv[1:]); m = (b + a) / 2; other = (a1 - a0) - (s1 - s0) - g; print(f"run '"$i"': raw argon2 {b:.1f} / {a:.1f} per s (mean {m:.1f}), logins {l:.1f} per s = {100 * l / m:.0f} % of raw; CPU per sign-in: server {1000 * (s1 - s0) / n:.2f} ms, load generator {1000 * g / n:.2f} ms (raw argon2: {1000 * t / m:.2f} ms); other processes {100 * other / (t * w):.0f} % of the CPUs")' \
        "$before" "$after" "$logins" "$ops" "$server0" "$server1" "$load_cpu" "$THREADS" "$all0" "$all1" "$secs" | tee -a "$OUT/summary.txt"
done
grep -E 'VmRSS|VmHWM' "/proc/$PID/status" | tr -s ' \t' ' ' | sed 's/^/at the end: /' | tee -a "$OUT/summary.txt"
