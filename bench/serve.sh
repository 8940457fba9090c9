#!/usr/bin/env bash
# Benchmark of `churnflow serve` on loopback with real HTTP load generators (Debian's `wrk` for
# saturation, `hey` for a fixed request rate), release build:
#   bash bench/serve.sh [SECONDS]        (CHURNFLOW=/path/to/churnflow to skip the build)
# For the Telco logistic champion (examples/telco's registry) and a 200-tree random forest
# trained on the same data, with reasons on: p50/p95/p99 at a fixed rate, requests/s at
# saturation (16 connections), a 10,000-customer batch with reasons, and the server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
command -v wrk >/dev/null && command -v hey >/dev/null || {
    echo "installing wrk and hey (Debian packages)" >&2
    apt-get install -y -qq wrk hey >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk hey >/dev/null; }
}
source bench/common.sh
churnflow_binary
BIN="$CHURNFLOW"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Two projects: the Telco example as committed (logistic champion), and a copy retrained as a
# 200-tree forest.
cp -r examples/telco "$WORK/telco"
cp -r examples/telco "$WORK/forest"
rm -rf "$WORK/forest/artifacts"
sed -i 's/^  algorithm: .*/  algorithm: random_forest/; s/^  n_trees: .*/  n_trees: 200/' "$WORK/forest/params.yaml"
(cd "$WORK/forest" && "$BIN" repro >/dev/null)

# One raw Telco row as JSON, and 10,000 rows (the export repeated) as a batch.
python3 - "$WORK" <<'EOF'
import csv, json, sys
work = sys.argv[1]
rows = list(csv.DictReader(open(f"{work}/telco/data/telco.csv")))
json.dump(rows[0], open(f"{work}/one.json", "w"))
batch = [rows[i % len(rows)] for i in range(10000)]
json.dump(batch, open(f"{work}/batch.json", "w"))
open(f"{work}/post.lua", "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    f'wrk.body = {json.dumps(json.dumps(rows[0]))}\n')
EOF

start_server() { # DIR MODEL: starts the server in DIR, sets SERVER (pid) and URL
    (cd "$1" && exec "$BIN" serve --model "$2" --addr 127.0.0.1:0 >"$WORK/addr" 2>"$WORK/serve.log") &
    SERVER=$!
    for _ in $(seq 100); do grep -q listening "$WORK/addr" 2>/dev/null && break; sleep 0.1; done
    URL="$(sed 's/listening on //' "$WORK/addr")"
}

measure() { # NAME DIR MODEL RATE
    local name="$1" dir="$2" model="$3" rate="$4"
    start_server "$dir" "$model"
    local url="$URL"
    curl -sf -X POST -H 'Content-Type: application/json' --data @"$WORK/one.json" "$url/predict" >/dev/null
    echo "== $name: RSS after loading and one request: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$SERVER/status)"
    echo "== $name: fixed rate $rate req/s, 16 connections, ${SECONDS_EACH}s (hey)"
    hey -z "${SECONDS_EACH}s" -c 16 -q $((rate / 16)) -m POST -T application/json -D "$WORK/one.json" "$url/predict" \
        | grep -E 'Requests/sec|10%|50%|95%|99%|\[2|\[4|\[5|Error' | sed 's/^/   /'
    echo "== $name: saturation, 16 connections, ${SECONDS_EACH}s (wrk)"
    wrk -t 2 -c 16 -d "${SECONDS_EACH}s" --latency -s "$WORK/post.lua" "$url/predict" \
        | grep -E 'Requests/sec|50%|90%|99%|Non-2xx|Socket' | sed 's/^/   /'
    echo "== $name: one batch of 10,000 customers with reasons (median of 5, curl)"
    for _ in 1 2 3 4 5; do
        curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
            --data-binary @"$WORK/batch.json" "$url/predict/batch"
    done | sort -n | sed -n 3p | sed 's/^/   seconds: /'
    echo "== $name: RSS now $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$SERVER/status), peak $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$SERVER/status) (the peak includes the 10,000-customer batches)"
    kill -TERM "$SERVER"; wait "$SERVER" || true
}

measure "logistic (Telco champion)" "$WORK/telco" "registry:champion" 2000
measure "random forest, 200 trees" "$WORK/forest" "models/model.json" 500
