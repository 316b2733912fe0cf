#!/usr/bin/env bash
# Instruction counts (callgrind) for policy_scale's full configuration: the full computation,
# the first label change, and the mean of the remaining ones. Counts do not depend on the
# machine's load, so they compare across runs and commits.
#
#   bench/policy_scale_callgrind.sh [CHANGES] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
changes=${1:-100}
build=${2:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$work/out" \
  "$build/bench/policy_scale" --callgrind --changes "$changes" >/dev/null 2>"$work/log" || {
  cat "$work/log" >&2
  exit 1
}
# The total of the dump that the client request named $1 wrote.
count() {
  for dump in "$work"/out.*; do
    if grep -qx "desc: Trigger: Client Request: $1" "$dump"; then
      awk '/^totals:/ {print $2}' "$dump"
    fi
  done
}
full=$(count "full computation")
first=$(count "first label change")
rest=$(count "label changes")
group() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
echo "| phase | instructions |"
echo "|---|---|"
printf '| full computation | %s |\n' "$(group "$full")"
printf '| first label change | %s |\n' "$(group "$first")"
printf '| later label changes, mean of %d | %s |\n' "$((changes - 1))" \
  "$(group $((rest / (changes - 1))))"
