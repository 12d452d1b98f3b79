#!/bin/sh
# Breaks keel on purpose (--test-break epoch_bump: promotions keep the epoch)
# and fuzzes seeds A..B: the fuzzer must fail (exit 1), shrink every failing
# seed to at most 2 steps, and write files that fail again with the break
# and pass without it (checked on the first).
set -u
keel=$1
file=$2
seeds=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$keel" scenario fuzz "$file" --seeds "$seeds" --out "$tmp" \
  --test-break epoch_bump >"$tmp/out" 2>&1
code=$?
cat "$tmp/out"
[ $code -eq 1 ] || { echo "expected exit 1, got $code" >&2; exit 1; }
shrunk=$(ls "$tmp"/fuzz-fail-seed-*.json 2>/dev/null | head -n 1)
[ -n "$shrunk" ] || { echo "no fuzz-fail-seed-N.json written" >&2; exit 1; }
for f in "$tmp"/fuzz-fail-seed-*.json; do
  n=$("$keel" scenario check "$f" | sed -n 's/.* \([0-9]*\) steps,.*/\1/p')
  [ -n "$n" ] && [ "$n" -le 2 ] || {
    echo "$f: expected at most 2 steps, got '$n'" >&2; exit 1; }
done
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
