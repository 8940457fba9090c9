#!/usr/bin/env bash
# The remote store against a real S3-protocol server on loopback (moto's, from .ci/install-s3):
# push of a whole demo store, a second push with nothing new, and `repro --pull` on a fresh
# git clone. Prints medians of REPEATS runs, with objects, bytes and MB/s.
#
#   bash bench/remote.sh [CUSTOMERS=100000] [REPEATS=3]
# Builds churnflow in release unless CHURNFLOW=/path/to/churnflow names a binary.
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
source "$(dirname "$0")/common.sh"
here="$ROOT"
churnflow_binary
BIN="$CHURNFLOW"
bash "$here/.ci/install-s3"
export CI=1 NO_COLOR=1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf -X PUT "$endpoint/churn" >/dev/null && break; sleep 0.1; done

git_() { git -c user.name=bench -c user.email=bench@example.com -c init.defaultBranch=main "$@"; }
mkdir "$work/project"
cp "$here/pipeline.yaml" "$here/params.yaml" "$here/.gitignore" "$work/project/"
"$BIN" -C "$work/project" generate --customers "$N" --seed 42 --out data/raw >/dev/null
"$BIN" -C "$work/project" repro -q
"$BIN" -C "$work/project" remote add s3 s3://churn/bench --endpoint-url "$endpoint" >/dev/null
(cd "$work/project" && git_ init -q && git_ add -A && git_ commit -q -m bench)

ms() { echo $(( ($2 - $1) / 1000000 )); }
push=() ; again=() ; pull=() ; fetch=()
for i in $(seq "$REPEATS"); do
  # A fresh prefix per round, so every first push sends the whole store.
  sed -i "s#s3://churn/bench[^ ]*#s3://churn/bench$i#" "$work/project/.churnflow/config.yaml"
  (cd "$work/project" && git_ commit -q -am "remote $i")
  t0=$(date +%s%N); "$BIN" -C "$work/project" push --json >"$work/push.json"; t1=$(date +%s%N)
  push+=($(ms "$t0" "$t1"))
  t0=$(date +%s%N); "$BIN" -C "$work/project" push --json >"$work/again.json"; t1=$(date +%s%N)
  again+=($(ms "$t0" "$t1"))
  rm -rf "$work/clone" && git_ clone -q "$work/project" "$work/clone"
  t0=$(date +%s%N); "$BIN" -C "$work/clone" fetch --json >"$work/fetch.json"; t1=$(date +%s%N)
  fetch+=($(ms "$t0" "$t1"))
  rm -rf "$work/clone" && git_ clone -q "$work/project" "$work/clone"
  t0=$(date +%s%N); "$BIN" -C "$work/clone" repro --pull >"$work/pull.log" 2>&1; t1=$(date +%s%N)
  pull+=($(ms "$t0" "$t1"))
done
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
bytes=$(field "$work/push.json" bytes)
mbs() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6 / (float(sys.argv[2]) / 1e3):.1f}')" "$bytes" "$1"; }
echo "customers:                   $N"
echo "store:                       $(field "$work/push.json" objects) objects, $(( bytes / 1000000 )) MB ($(field "$work/push.json" multipart) multipart), $(field "$work/push.json" runs) run records"
echo "push, all new:               $(median "${push[@]}") ms ($(mbs "$(median "${push[@]}")") MB/s)"
echo "push, nothing new:           $(median "${again[@]}") ms (objects sent: $(field "$work/again.json" objects))"
echo "fetch into a fresh clone:    $(median "${fetch[@]}") ms ($(mbs "$(median "${fetch[@]}")") MB/s)"
echo "repro --pull, fresh clone:   $(median "${pull[@]}") ms ($(grep -Eo '[0-9]+ ran, [0-9]+ restored, [0-9]+ up to date' "$work/pull.log"))"
