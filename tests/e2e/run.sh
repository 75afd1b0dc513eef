#!/usr/bin/env bash
# Desktop end-to-end tests: builds the front end, the app (embedded assets)
# and the provider; starts the provider in demo mode on a free loopback port;
# then runs app.test.mjs under Xvfb inside a private D-Bus session with an
# unlocked gnome-keyring, HOME and XDG_* in a throw-away directory, and
# BROWSER set to fake-browser.mjs (signs the demo user in over HTTP). The
# provider runs with a 30-s step-up window (see STEP_UP_MAX_AGE).
# Screenshots land in artifacts/e2e/. Needs: xvfb-run, dbus-run-session,
# gnome-keyring-daemon, WebKitWebDriver (webkit2gtk-driver), tauri-driver
# (cargo install tauri-driver --locked --version ^2), node.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# The app under test: TESSERA_APP when given (scripts/test passes the release
# binary scripts/package built), else a debug build with the front end embedded.
if [ -z "${TESSERA_APP:-}" ]; then
  (cd ui && npm run build)
  cargo build -p tessera-desktop --features custom-protocol --bin tessera-desktop
  TESSERA_APP="$ROOT/target/debug/tessera-desktop"
fi
cargo build -p tessera-provider
REDIS_SERVER="${TESSERA_REDIS_SERVER:-/usr/bin/redis-server}"
[ -x "$REDIS_SERVER" ] || { echo "redis-server not found at $REDIS_SERVER (apt install redis-server)" >&2; exit 1; }

DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
TMP=$(mktemp -d)
PROVIDER_PID=
REDIS_PID=
cleanup() {
  if [ -n "$PROVIDER_PID" ]; then kill "$PROVIDER_PID" 2>/dev/null || true; fi
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  # The app may have started xdg-document-portal, whose FUSE mount outlives
  # the D-Bus session for a moment; cleanup never fails the run.
  fusermount -uz "$TMP/run/doc" 2>/dev/null || true
  rm -rf "$TMP" 2>/dev/null || { sleep 1; rm -rf "$TMP" 2>/dev/null; } || echo "warning: could not remove $TMP" >&2
}
trap cleanup EXIT
mkdir -p "$TMP/home" "$TMP/config/tessera" "$TMP/data" "$TMP/cache" "$TMP/run" "$TMP/provider"
chmod 700 "$TMP/run"

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# A real redis-server of our own, then the demo provider on the Redis store
# (what deployments run), both on free loopback ports.
REDIS_PORT=$(free_port)
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$TMP" > "$TMP/redis.out" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
  sleep 0.1
done
PORT=$(free_port)
# A short step-up window, so the tests can make the provider ask for a new
# sign-in (RFC 9470) without waiting ten minutes. At least one TOTP step
# (30 s): a step-up then always falls in a later TOTP window than the
# sign-in it replaces, and the user's code is never a replay.
STEP_UP_MAX_AGE=30
printf 'step_up_max_age_secs = %s\n' "$STEP_UP_MAX_AGE" > "$TMP/provider.toml"
"$ROOT/target/debug/tessera-provider" --demo --config "$TMP/provider.toml" --port "$PORT" \
  --data-dir "$TMP/provider" --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT/" \
  > "$TMP/provider.out" 2>&1 &
PROVIDER_PID=$!
for _ in $(seq 100); do
  grep -q '^help-desk user TOTP:' "$TMP/provider.out" 2>/dev/null && break
  kill -0 "$PROVIDER_PID" 2>/dev/null || { cat "$TMP/provider.out" >&2; exit 1; }
  sleep 0.1
done
grep -q '^help-desk user TOTP:' "$TMP/provider.out" || { echo "the provider did not start" >&2; exit 1; }
ISSUER="http://127.0.0.1:$PORT"
# The demo accounts, for fake-browser.mjs (the tests pick one with "use").
export TESSERA_E2E_ACCOUNTS="$TMP/accounts.json"
node -e '
  const out = require("fs").readFileSync(process.argv[1], "utf8");
  const account = (label) => ({
    password: out.match(new RegExp(`^${label}: \\S+ / password (\\S+)$`, "m"))[1],
    totp_secret: out.match(new RegExp(`^${label} TOTP: .*secret=([A-Z2-7]+)`, "m"))[1],
  });
  const accounts = { demo: account("demo user"), helpdesk: account("help-desk user") };
  require("fs").writeFileSync(process.argv[2], JSON.stringify({ use: "demo", accounts }), { mode: 0o600 });
' "$TMP/provider.out" "$TESSERA_E2E_ACCOUNTS"

printf 'issuer = "%s"\nlanguage = "en"\n' "$ISSUER" > "$TMP/config/tessera/config.toml"

export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" \
  XDG_CACHE_HOME="$TMP/cache" XDG_RUNTIME_DIR="$TMP/run"
export TESSERA_APP TESSERA_E2E_ISSUER="$ISSUER" TESSERA_E2E_STEP_UP_MAX_AGE="$STEP_UP_MAX_AGE"
export ARTIFACTS="$ROOT/artifacts/e2e" TAURI_DRIVER="$DRIVER"
export BROWSER="node $ROOT/tests/e2e/fake-browser.mjs"
export TESSERA_E2E_BROWSER_LOG="$ROOT/artifacts/e2e/browser.log"
mkdir -p "$ARTIFACTS" && : > "$TESSERA_E2E_BROWSER_LOG"
# No WEBKIT_DISABLE_DMABUF_RENDERER here: the app chooses WebKitGTK's
# shared-memory renderer by itself (src-tauri/src/main.rs), and this suite
# checks that it draws under Xvfb as launched by a user.

# The suite takes about 40 s, 30 of them waiting for the step-up window to
# pass; the rest is headroom for a loaded machine (a fake-browser sign-in may
# also wait up to 30 s for a TOTP window not used yet).
timeout "${E2E_TIMEOUT:-240}" dbus-run-session -- bash -c '
  printf %s tessera-e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec xvfb-run -a -s "-screen 0 1280x800x24" node --test-reporter=spec tests/e2e/app.test.mjs'
