#!/bin/sh
# Fails if any `keel node` process started by a test or a --mode process
# scenario run (their cluster files live under /tmp/keel-*) is still alive.
# ctest runs it after every test of the fixture keel_nodes.
stray=$(pgrep -af 'node --cluster /tmp/keel-' | grep -v pgrep)
if [ -n "$stray" ]; then
  echo "stray keel node processes:" >&2
  echo "$stray" >&2
  exit 1
fi
echo "no stray keel node processes"
