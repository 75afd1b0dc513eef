# shellcheck shell=bash
# Shared by the packaging tests: PASS/FAIL bookkeeping and the summary line.
# Sourced, not executed.
set -euo pipefail

# shellcheck disable=SC2034 # used by the tests that source this file
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PASSED=0
FAILED=0

pass() { printf 'PASS: %s\n' "$1"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL: %s\n' "$1"; FAILED=$((FAILED + 1)); }

# check "what is checked" command args...: PASS when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# Prints the summary line and exits non-zero when anything failed.
summary() {
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
}

# Aborts the suite (counted as a failure) when a precondition is missing.
require() {
  local what=$1
  shift
  if ! "$@"; then
    fail "$what"
    summary || true
    exit 1
  fi
}
