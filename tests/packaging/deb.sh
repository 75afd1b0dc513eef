#!/usr/bin/env bash
# Installs the desktop app's .deb on this machine with dpkg, checks what it
# installed (binary, desktop entry in French and English, hicolor icons, package
# metadata), runs the installed binary without a display (--version) and on a
# virtual one (its window opens), then
# removes and purges it and checks that nothing is left. Also reads the .rpm
# built alongside (name, version, requirements, same files as the .deb).
#
# Needs root, and the installers built first:
#   bash scripts/package && bash tests/packaging/deb.sh [path/to.deb]
# Required tools: desktop-file-validate (desktop-file-utils), appstreamcli
# (appstream), xvfb-run (xvfb),
# xwininfo (x11-utils), dbus-run-session (dbus).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=tessera
BUNDLE="$ROOT/target/release/bundle"
DESKTOP=/usr/share/applications/Tessera.desktop
HICOLOR=/usr/share/icons/hicolor

require "running as root (dpkg -i)" test "$(id -u)" -eq 0
DEB=${1:-$(ls -t "$BUNDLE"/deb/*.deb 2>/dev/null | head -n1 || true)}
require "a built .deb (run: bash scripts/package)" test -f "${DEB:-/nonexistent}"
require "desktop-file-validate on PATH (apt install desktop-file-utils)" bash -c "command -v desktop-file-validate >/dev/null"
require "appstreamcli on PATH (apt install appstream)" bash -c "command -v appstreamcli >/dev/null"
for tool in xvfb-run xwininfo dbus-run-session; do
  require "$tool on PATH (apt install xvfb x11-utils dbus)" bash -c "command -v $tool >/dev/null"
done
echo "package: ${DEB#"$ROOT"/}"

work=$(mktemp -d)
installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; }
cleanup() {
  rm -rf "$work"
  if installed; then dpkg --purge "$PKG" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
# A leftover from an interrupted run would hide what this package does.
if installed; then dpkg --purge "$PKG" >/dev/null; fi

deb_version=$(dpkg-deb -f "$DEB" Version)
workspace_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")

# --- package metadata ----------------------------------------------------------
check "package name is $PKG" test "$(dpkg-deb -f "$DEB" Package)" = "$PKG"
check "package version $deb_version is the workspace version $workspace_version" \
  test "$deb_version" = "$workspace_version"
check "package has a homepage" test -n "$(dpkg-deb -f "$DEB" Homepage)"
check "package has a maintainer" test -n "$(dpkg-deb -f "$DEB" Maintainer)"
check "package description is not empty" test "$(dpkg-deb -f "$DEB" Description | wc -l)" -gt 1
check "package depends on WebKitGTK 4.1 and GTK 3" \
  bash -c 'd=$(dpkg-deb -f "$1" Depends); grep -q libwebkit2gtk-4.1 <<<"$d" && grep -q libgtk-3 <<<"$d"' _ "$DEB"
# Files (not directories) in the package, as absolute paths.
deb_files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {sub(/^\.?\/?/, "/", $6); print $6}' | sort)
check "package ships no developer tool (only tessera-desktop in /usr/bin)" \
  test "$(grep '^/usr/bin/' <<<"$deb_files" | tr '\n' ' ')" = "/usr/bin/tessera-desktop "

# --- install ---------------------------------------------------------------------
check "dpkg -i installs the package" dpkg -i "$DEB"
check "dpkg reports it installed" test "$(dpkg-query -W -f='${Status}' "$PKG")" = "install ok installed"
check "binary /usr/bin/tessera-desktop is executable" test -x /usr/bin/tessera-desktop

check "desktop entry $DESKTOP installed" test -f "$DESKTOP"
validate_out=$(desktop-file-validate "$DESKTOP" 2>&1) && validate_rc=0 || validate_rc=$?
[ -z "$validate_out" ] || printf '%s\n' "$validate_out"
check "desktop-file-validate accepts the entry" test "$validate_rc" -eq 0
entry() { sed -n "s/^$1=//p" "$DESKTOP"; }
check "entry Name=Tessera" test "$(entry Name)" = "Tessera"
check "entry Exec runs the installed binary" test "$(entry Exec)" = "tessera-desktop"
check "entry Type=Application, Terminal=false" \
  test "$(entry Type) $(entry Terminal)" = "Application false"
check "entry has an English comment" test -n "$(entry Comment)"
check "entry has a French comment (Comment[fr])" test -n "$(entry 'Comment\[fr\]')"
check "entry has French keywords (Keywords[fr])" test -n "$(entry 'Keywords\[fr\]')"
check "entry has categories" test -n "$(entry Categories)"
icon=$(entry Icon)
check "entry Icon=$icon names an installed hicolor icon" \
  bash -c 'ls "$1"/*/apps/"$2".png >/dev/null 2>&1' _ "$HICOLOR" "$icon"

METAINFO=/usr/share/metainfo/org.tessera.desktop.metainfo.xml
check "AppStream metadata $METAINFO installed" test -f "$METAINFO"
as_out=$(appstreamcli validate --no-net "$METAINFO" 2>&1) && as_rc=0 || as_rc=$?
[ "$as_rc" -eq 0 ] || printf '%s\n' "$as_out"
check "appstreamcli validate accepts it" test "$as_rc" -eq 0
check "AppStream metadata launches the installed desktop entry" \
  grep -qF "<launchable type=\"desktop-id\">$(basename "$DESKTOP")</launchable>" "$METAINFO"
check "AppStream metadata has a French summary and description" \
  bash -c 'grep -q "<summary xml:lang=\"fr\">" "$1" && grep -q "<p xml:lang=\"fr\">" "$1"' _ "$METAINFO"
newest_release=$(sed -n 's/.*<release version="\([^"]*\)".*/\1/p' "$METAINFO" | head -n1)
check "AppStream newest release ($newest_release) is the package version" test "$newest_release" = "$deb_version"

# Each icon's pixel size matches its hicolor directory (WxH or WxH@2 = 2x).
png_size() { python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); sys.exit(1) if d[:8]!=b"\x89PNG\r\n\x1a\n" else print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1"; }
for dir in 32x32 64x64 128x128 512x512; do
  file="$HICOLOR/$dir/apps/$icon.png"
  size=${dir%@2}
  if [ "$dir" != "$size" ]; then size="$(( ${size%x*} * 2 ))x$(( ${size#*x} * 2 ))"; fi
  check "icon $dir is a ${size} PNG" test "$(png_size "$file" 2>/dev/null)" = "$size"
done

# --- the installed binary, without a display ----------------------------------------
version_out=$(env -u DISPLAY -u WAYLAND_DISPLAY timeout 20 /usr/bin/tessera-desktop --version 2>&1) && version_rc=0 || version_rc=$?
check "tessera-desktop --version exits 0 without a display (rc $version_rc)" test "$version_rc" -eq 0
check "tessera-desktop --version prints its version ($version_out)" \
  test "$version_out" = "tessera-desktop $deb_version"
short_out=$(env -u DISPLAY -u WAYLAND_DISPLAY timeout 20 /usr/bin/tessera-desktop -V 2>&1 || true)
check "tessera-desktop -V prints the same" test "$short_out" = "$version_out"

# The installed app, with the installed libraries and its embedded front end,
# opens its main window (title and size from tauri.conf.json) on a virtual
# display, in a private D-Bus session and a throw-away HOME.
mkdir -p "$work/home" "$work/config" "$work/run" && chmod 700 "$work/run"
window=$(env HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_RUNTIME_DIR="$work/run" \
  BROWSER=true WEBKIT_DISABLE_COMPOSITING_MODE=1 PROBE_LOG="$work/app.log" \
  timeout 180 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  bash "$ROOT/tests/packaging/window-probe.sh" /usr/bin/tessera-desktop 2>/dev/null | grep '"Tessera": ' || true)
echo "window:${window:- none}"
check "the installed app opens its 960x680 \"Tessera\" window under Xvfb" \
  grep -q '"Tessera": ("tessera-desktop" .*960x680' <<<"$window"

# --- remove, then purge ----------------------------------------------------------------
mapfile -t files < <(dpkg-query -L "$PKG" | while read -r f; do [ -f "$f" ] && echo "$f"; done)
check "dpkg lists the installed files (${#files[@]})" test "${#files[@]}" -ge 7
check "dpkg -r removes the package" dpkg -r "$PKG"
left=$(for f in "${files[@]}"; do [ -e "$f" ] && echo "$f"; done || true)
check "after remove: none of its files is left${left:+ (left: $left)}" test -z "$left"
check "dpkg --purge purges the package" bash -c "dpkg --purge $PKG 2>&1 | grep -v \"isn.t installed\" || true; ! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q 'config-files'"
if installed; then fail "after purge: dpkg knows nothing of it"; else pass "after purge: dpkg knows nothing of it"; fi

# --- the rpm built alongside (read from its header: no rpm tools needed) -----------------------
RPM=$(ls -t "$BUNDLE"/rpm/*.rpm 2>/dev/null | head -n1 || true)
if [ -n "$RPM" ] && python3 "$ROOT/tests/packaging/rpm_header.py" "$RPM" >"$work/rpm.txt"; then
  pass "rpm ${RPM##*/} has a readable header"
  rpm_field() { sed -n "s/^$1\t//p" "$work/rpm.txt"; }
  check "rpm is $PKG $deb_version, release 1" \
    test "$(rpm_field name) $(rpm_field version) $(rpm_field release)" = "$PKG $deb_version 1"
  check "rpm requires WebKitGTK 4.1 and GTK 3" \
    bash -c 'grep -q "^libwebkit2gtk-4.1" <<<"$1" && grep -q "^libgtk-3" <<<"$1"' _ "$(rpm_field requires)"
  # The same payload as the .deb, file for file.
  check "rpm installs the same files as the .deb" test "$(rpm_field file | sort)" = "$deb_files"
else
  fail "an .rpm with a readable header was built beside the .deb"
fi

summary
