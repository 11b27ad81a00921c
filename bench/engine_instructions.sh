#!/usr/bin/env bash
# Instructions the SecLang engine spends per transaction at paranoia level 1,
# counted by cachegrind (steady where times move with the machine's load):
# the difference between a run of N transactions and a run of none, over N.
#
#   bench/engine_instructions.sh CRS_DIR [N]
#
# CRS_DIR is a Core Rule Set checkout (its rules/ directory inside). The
# requests are those of `cargo bench -p palisade-waf --bench engine`.
set -euo pipefail
crs=${1:?usage: bench/engine_instructions.sh CRS_DIR [N]}
n=${2:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
(cd "$repo" && cargo build --release -q -p palisade-waf --example engine_instructions)
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$target/release/examples/engine_instructions
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() { # count MIX TRANSACTIONS -> total instructions
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$work/out" \
        "$bin" "$crs" "$1" "$2" >/dev/null 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
    awk '/^summary:/ { print $2 }' "$work/out"
}
echo "| request | instructions per transaction |"
echo "| --- | ---: |"
for mix in get 1k 16k; do
    base=$(count "$mix" 0)
    more=$(count "$mix" "$n")
    echo "| $mix | $(((more - base) / n)) |"
done
