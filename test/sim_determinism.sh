#!/bin/sh
# Runs one scenario in simulation three times: twice with seed 11, once with
# seed 12. The first two traces must be byte-identical, the third different.
set -u
keel=$1
file=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sha() {
  "$keel" scenario run "$file" --mode sim --seed "$1" --quiet \
    --report "$tmp/r.json" --trace "$tmp/t$2.jsonl" >/dev/null || {
    echo "run with seed $1 failed" >&2; exit 1; }
  sed -n 's/.*"trace_sha256": *"\([0-9a-f]*\)".*/\1/p' "$tmp/r.json"
}
a=$(sha 11 a)
b=$(sha 11 b)
c=$(sha 12 c)
echo "seed 11: $a"
echo "seed 11: $b"
echo "seed 12: $c"
[ -n "$a" ] || { echo "no trace_sha256 in the report" >&2; exit 1; }
[ "$a" = "$b" ] || { echo "same seed, different traces" >&2; exit 1; }
cmp -s "$tmp/ta.jsonl" "$tmp/tb.jsonl" || {
  echo "same seed, trace files differ" >&2; exit 1; }
[ "$a" != "$c" ] || { echo "different seeds, same trace" >&2; exit 1; }
echo "ok"
