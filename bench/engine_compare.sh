#!/usr/bin/env bash
# Time per transaction of the SecLang engine at paranoia level 1, this tree
# against an earlier revision, measured side by side: the two builds take
# turns, ROUNDS times, and each figure is the median of its rounds.
#
#   bench/engine_compare.sh CRS_DIR REV [ROUNDS]
#
# CRS_DIR is a Core Rule Set checkout (its rules/ directory inside); REV a
# git revision that has the `engine_instructions` example. The requests are
# those of `cargo bench -p palisade-waf --bench engine`. Time per
# transaction = (run of N transactions - run of none) / N, wall clock.
set -euo pipefail
crs=$(cd "${1:?usage: bench/engine_compare.sh CRS_DIR REV [ROUNDS]}" && pwd)
rev=${2:?usage: bench/engine_compare.sh CRS_DIR REV [ROUNDS]}
rounds=${3:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() { git -C "$repo" worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git -C "$repo" worktree add --detach -q "$work/old" "$rev"
# The example finds no CRS of its own there: it is given CRS_DIR.
target=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && cargo build --release -q -p palisade-waf --example engine_instructions)
(cd "$work/old" && CARGO_TARGET_DIR="$target/engine-compare-old" cargo build --release -q -p palisade-waf --example engine_instructions)
new=$target/release/examples/engine_instructions
old=$target/engine-compare-old/release/examples/engine_instructions
seconds() { # seconds BIN MIX N
    local start end
    start=$(date +%s.%N)
    "$1" "$crs" "$2" "$3" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
per_txn() { # per_txn BIN MIX N -> microseconds per transaction
    local base full
    base=$(seconds "$1" "$2" 0)
    full=$(seconds "$1" "$2" "$3")
    echo "($full - $base) * 1000000 / $3" | bc -l
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| request | $rev µs | $(git -C "$repo" rev-parse --short HEAD) µs | new / old |"
echo "| --- | ---: | ---: | ---: |"
for spec in "get 4000" "1k 2000" "16k 200"; do
    set -- $spec
    olds=(); news=()
    for _ in $(seq "$rounds"); do
        olds+=("$(per_txn "$old" "$1" "$2")")
        news+=("$(per_txn "$new" "$1" "$2")")
    done
    o=$(median "${olds[@]}"); n=$(median "${news[@]}")
    printf '| %s | %.0f | %.0f | %.2f |\n' "$1" "$o" "$n" "$(echo "$n / $o" | bc -l)"
done
