#!/usr/bin/env bash
# Runs "$@" (a GUI program) on the current X display, waits up to 60 s for a
# top-level window titled "Tessera", prints xwininfo's line for it, then stops
# the program. Exits 1 when no such window appeared. Used by deb.sh inside
# xvfb-run and a private D-Bus session.
set -euo pipefail
"$@" >"${PROBE_LOG:-/dev/null}" 2>&1 &
pid=$!
found=
for _ in $(seq 300); do
  found=$(xwininfo -root -tree 2>/dev/null | grep '"Tessera": ' || true)
  [ -n "$found" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -n "$found" ] && printf '%s\n' "$found"
