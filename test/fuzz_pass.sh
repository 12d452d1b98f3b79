#!/bin/sh
# Fuzzes a scenario over a few seeds: every seed passes (exit 0), and without
# a terminal the progress line is printed (here once, at the end).
set -u
keel=$1
file=$2
seeds=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$keel" scenario fuzz "$file" --seeds "$seeds" --out "$tmp" >"$tmp/out" 2>&1
code=$?
cat "$tmp/out"
[ $code -eq 0 ] || { echo "expected exit 0, got $code" >&2; exit 1; }
count=$(( ${seeds#*..} - ${seeds%..*} + 1 ))
grep -Eq "^seeds $count/$count  failures 0  rate [0-9]+ seeds/min  sim/wall [0-9]+x\$" \
  "$tmp/out" || { echo "no final progress line" >&2; exit 1; }
[ -z "$(ls "$tmp" | grep fuzz-fail)" ] || {
  echo "a passing fuzz wrote a failure file" >&2; exit 1; }
echo "ok"
