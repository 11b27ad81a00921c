#!/usr/bin/env bash
# Instructions the OpenAPI validator spends on each benchmark body (request
# head and body phases), counted by cachegrind: the difference between a run
# of N validations and a run of none, over N. Steady where times move with
# the machine's load.
#
#   bench/openapi_instructions.sh [N]
set -euo pipefail
n=${1:-200}
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
(cd "$repo" && cargo build --release -q -p palisade-openapi --example body_instructions)
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$target/release/examples/body_instructions
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() { # count BODY PATH RUNS -> total instructions
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$work/out" \
        "$bin" "$repo/bench/openapi.yaml" "$repo/bench/wrk/$1" "$2" "$3" >/dev/null 2>"$work/log" \
        || { cat "$work/log" >&2; exit 1; }
    awk '/^summary:/ { print $2 }' "$work/out"
}
echo "| body | instructions per request |"
echo "| --- | ---: |"
for body in "order-1k.json /api/orders" "catalog-16k.json /api/products/import"; do
    set -- $body
    base=$(count "$1" "$2" 0)
    more=$(count "$1" "$2" "$n")
    echo "| $1 | $(((more - base) / n)) |"
done
