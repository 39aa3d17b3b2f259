#!/bin/bash
# A/B of AssumeRole at 32 clients: $1 = binary, $2 = label
# Usage: [BENCH=harness] bench/ab.sh BINARY LABEL [SCENARIO]  (scenario defaults to assume-role; port 8977)
set -e
B=${BENCH:-$(cd "$(dirname "$0")" && pwd)/target/release/iamvault-bench}
D=$(mktemp -d)
$1 --data-dir $D/v serve --listen 127.0.0.1:8977 >$D/out 2>$D/log &
PID=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:8977/healthz >/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=$(awk '$1=="aws_access_key_id" {print $3}' $D/v/bootstrap-credentials)
export AWS_SECRET_ACCESS_KEY=$(awk '$1=="aws_secret_access_key" {print $3}' $D/v/bootstrap-credentials)
$B setup --endpoint http://127.0.0.1:8977 --state $D/state.json --max-clients 64 --login-users 1 >/dev/null
for r in 1 2 3; do
  $B run --endpoint http://127.0.0.1:8977 --state $D/state.json --label $2 --scenario ${3:-assume-role} --clients 32 --duration 8 --server-pid $PID --quiet --json-out ${JSON_OUT:-/dev/null} 2>&1 | grep -v "^setup"
done
kill $PID; wait $PID 2>/dev/null || true
rm -rf $D
