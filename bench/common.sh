# Sourced by the bench scripts. Sets ROOT (the checkout) and defines:
#   churnflow_binary   sets CHURNFLOW to a release build of this checkout, built here, unless
#                      CHURNFLOW already names a binary (for A/B runs of two builds). Built with
#                      --workspace: the feature set of the other builds, so polars is not
#                      compiled again.
#   median [N..]       the median of the arguments, or of the numbers on stdin without any.
#   bench_setup        churnflow_binary, then BIN (the binary), CI=1 NO_COLOR=1 (plain output)
#                      and work (a temporary folder removed when the script exits).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

churnflow_binary() {
  if [ -z "${CHURNFLOW:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet --workspace --bins)
    CHURNFLOW="${CARGO_TARGET_DIR:-$ROOT/target}/release/churnflow"
  fi
}

median() {
  if [ $# -gt 0 ]; then printf '%s\n' "$@"; else cat; fi |
    sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

bench_setup() {
  churnflow_binary
  BIN="$CHURNFLOW"
  export CI=1 NO_COLOR=1
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
}
