#!/bin/sh
# Breaks keel on purpose (--test-break epoch_bump: promotions keep the epoch)
# and fuzzes: the fuzzer must fail (exit 1), shrink the failing seed to at
# most 2 steps, and write a file that fails again with the break and passes
# without it.
set -u
keel=$1
file=$2
seed=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$keel" scenario fuzz "$file" --seeds "$seed..$seed" --out "$tmp" \
  --test-break epoch_bump >"$tmp/out" 2>&1
code=$?
cat "$tmp/out"
[ $code -eq 1 ] || { echo "expected exit 1, got $code" >&2; exit 1; }
shrunk="$tmp/fuzz-fail-seed-$seed.json"
[ -f "$shrunk" ] || { echo "no $shrunk" >&2; exit 1; }
grep -q "replay: keel scenario run $shrunk --mode sim --test-break epoch_bump" \
  "$tmp/out" || { echo "no replay command" >&2; exit 1; }
# keel scenario check: "FILE: ok (5 nodes, 2 apps, N steps, ...)"
steps=$("$keel" scenario check "$shrunk" | sed -n 's/.* \([0-9]*\) steps,.*/\1/p')
echo "shrunk to $steps steps"
[ -n "$steps" ] && [ "$steps" -le 2 ] || {
  echo "expected at most 2 steps, got '$steps'" >&2; exit 1; }
"$keel" scenario run "$shrunk" --mode sim --quiet --test-break epoch_bump \
  >/dev/null 2>&1
code=$?
[ $code -eq 1 ] || {
  echo "the shrunk file with the break: expected exit 1, got $code" >&2; exit 1; }
"$keel" scenario run "$shrunk" --mode sim --quiet || {
  echo "the shrunk file without the break failed" >&2; exit 1; }
echo "ok"
