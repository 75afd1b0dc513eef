# Shared by scripts/run and scripts/test: install what is missing, idempotently.
# Sourced, not executed.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# Debian packages the build, the app and the tests need.
APT_BUILD=(build-essential pkg-config libssl-dev libdbus-1-dev libwebkit2gtk-4.1-dev
  libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev file curl)
APT_RUN=(xvfb xauth dbus-x11 gnome-keyring)
APT_TEST=(redis-server webkit2gtk-driver chromium desktop-file-utils x11-utils appstream systemd openssl python3)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages among "$@" that are not installed yet.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

ensure_toolchains() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2; exit 1; }
  if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
  fi
}

# Front-end packages, at the versions pinned in ui/package-lock.json.
# Not `npm ci`: the registry reachable here lacks some other platforms' optional
# binaries (e.g. @tauri-apps/cli-darwin-*) at the pinned version, so the lock
# cannot list them and `npm ci` refuses it; `npm install --no-save` installs the
# locked versions for this platform and leaves the lock untouched.
ensure_npm() {
  local dir
  for dir in "$ROOT/ui" "$@"; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      log "installing npm packages in ${dir#"$ROOT"/}"
      (cd "$dir" && npm install --no-save --no-audit --no-fund)
    fi
  done
}

# `cargo install` of a pinned tool, only when that version is not installed yet
# (read from cargo's own record: not every tool answers --version).
ensure_cargo_tool() {
  local crate=$1 version=$2
  if ! cargo install --list | grep -q "^$crate v$version:"; then
    log "installing $crate $version"
    cargo install --locked "$crate" --version "=$version"
  fi
}

build_ui() {
  log "building the front end"
  (cd "$ROOT/ui" && npm run build)
}

# Runs "$@" inside a private D-Bus session with an unlocked gnome-keyring
# Secret Service, its keyrings kept in a throw-away directory.
with_secret_service() {
  local dir rc=0
  dir=$(mktemp -d)
  mkdir -p "$dir/data" "$dir/run" "$dir/config" && chmod 700 "$dir/run"
  XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run" XDG_CONFIG_HOME="$dir/config" \
    dbus-run-session -- bash -c '
      printf %s tessera-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
      exec "$@"' with_secret_service "$@" || rc=$?
  remove_runtime_dir "$dir"
  return $rc
}

# Removes a throw-away HOME/XDG directory. A desktop app started inside it may
# have started xdg-document-portal, whose FUSE mount (run/doc) outlives the
# D-Bus session for a moment: unmount it, and never fail a run over cleanup.
remove_runtime_dir() {
  local dir=$1 mnt
  for mnt in "$dir/run/doc" "$dir/home/.cache/doc" "$dir/cache/doc"; do
    if [ -d "$mnt" ]; then fusermount -uz "$mnt" 2>/dev/null || true; fi
  done
  rm -rf "$dir" 2>/dev/null || { sleep 1; rm -rf "$dir" 2>/dev/null; } ||
    log "warning: could not remove $dir"
}
