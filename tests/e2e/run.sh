#!/usr/bin/env bash
# Desktop end-to-end tests: builds the front end and the app (embedded
# assets), then runs app.test.mjs under Xvfb inside a private D-Bus session
# with an unlocked gnome-keyring, HOME and XDG_* in a throw-away directory.
# Screenshots land in artifacts/e2e/. Needs: xvfb-run, dbus-run-session,
# gnome-keyring-daemon, WebKitWebDriver (webkit2gtk-driver), tauri-driver
# (cargo install tauri-driver --locked --version ^2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

(cd ui && npm run build)
cargo build -p tessera-desktop --features custom-protocol --bin tessera-desktop

DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home" "$TMP/config/tessera" "$TMP/data" "$TMP/cache" "$TMP/run"
chmod 700 "$TMP/run"
# The provider the app is configured for; nothing needs to listen there for
# the sign-in screen tests. A full sign-in test starts the demo provider here.
ISSUER=${TESSERA_E2E_ISSUER:-http://127.0.0.1:8765}
printf 'issuer = "%s"\n' "$ISSUER" > "$TMP/config/tessera/config.toml"

export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" \
  XDG_CACHE_HOME="$TMP/cache" XDG_RUNTIME_DIR="$TMP/run"
export TESSERA_APP="$ROOT/target/debug/tessera-desktop" TESSERA_E2E_ISSUER="$ISSUER"
export ARTIFACTS="$ROOT/artifacts/e2e" TAURI_DRIVER="$DRIVER"
# No browser may really open during the tests.
export BROWSER=true
# WebKitGTK draws nothing into screenshots under Xvfb with its DMA-BUF renderer.
export WEBKIT_DISABLE_DMABUF_RENDERER=1

timeout "${E2E_TIMEOUT:-240}" dbus-run-session -- bash -c '
  printf %s tessera-e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec xvfb-run -a -s "-screen 0 1280x800x24" node --test-reporter=spec tests/e2e/app.test.mjs'
