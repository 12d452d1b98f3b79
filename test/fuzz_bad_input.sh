#!/bin/sh
# Bad input exits 2 with a one-line error: a bad --seeds, a file without a
# fuzz section, a bad fuzz section, an unknown --test-break.
set -u
keel=$1
file=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
expect2() {
  pattern=$1
  shift
  "$keel" scenario fuzz "$@" --out "$tmp" >"$tmp/out" 2>"$tmp/err"
  code=$?
  lines=$(wc -l <"$tmp/err")
  if [ $code -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$pattern" "$tmp/err"; then
    echo "keel scenario fuzz $*: expected exit 2 and one line matching '$pattern'," \
         "got $code:" >&2
    cat "$tmp/err" >&2
    status=1
  else
    echo "exit 2: $(cat "$tmp/err")"
  fi
}
expect2 '--seeds: expected A..B' "$file" --seeds 5..2
expect2 '--seeds: expected A..B' "$file" --seeds x
expect2 'quickstart.json: \$.fuzz: missing' scenarios/quickstart.json --seeds 1..2
expect2 'bad_fuzz.json: \$.fuzz.kinds.heal: step "heal" is not drawn' \
  test/data/bad_fuzz.json --seeds 1..2
expect2 '--test-break: unknown break "nope"' "$file" --seeds 1..2 --test-break nope
exit $status
