#!/usr/bin/env bash
# Checks that every committed platform icon is what `tauri icon` generates from
# icons/source.png today, and that source.png is what icons/make_source.py
# draws. Regenerate with:
#   python3 icons/make_source.py && (cd ui && npx tauri icon ../icons/source.png -o ../icons)
#   rm -rf icons/android icons/ios        (mobile icons are not used)
# Needs ui/node_modules (the pinned @tauri-apps/cli).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require "the Tauri CLI is installed in ui/node_modules" test -x "$ROOT/ui/node_modules/.bin/tauri"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# make_source.py writes source.png next to itself: run a copy.
cp "$ROOT/icons/make_source.py" "$work/"
python3 "$work/make_source.py"
check "icons/source.png is what icons/make_source.py draws" cmp -s "$work/source.png" "$ROOT/icons/source.png"

if ! (cd "$ROOT/ui" && npx --no-install tauri icon "$ROOT/icons/source.png" -o "$work/generated") >"$work/tauri-icon.log" 2>&1; then
  cat "$work/tauri-icon.log"
  fail "npx tauri icon runs"
fi

# An .icns file is a list of (type, image) elements written in no fixed order:
# compare them as a set.
same_icns() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
def elements(path):
    data = open(path, "rb").read()
    if data[:4] != b"icns":
        sys.exit(1)
    out, i = [], 8
    while i < len(data):
        kind, size = data[i:i + 4], struct.unpack(">I", data[i + 4:i + 8])[0]
        if size < 8:
            sys.exit(1)
        out.append((kind, data[i + 8:i + size]))
        i += size
    return sorted(out)
sys.exit(0 if elements(sys.argv[1]) == elements(sys.argv[2]) else 1)
PY
}

checked=0
for generated in "$work/generated"/*; do
  [ -f "$generated" ] || continue # android/, ios/: not shipped
  name=$(basename "$generated")
  committed="$ROOT/icons/$name"
  if [ ! -f "$committed" ]; then
    fail "icons/$name is committed"
  elif [ "${name##*.}" = icns ]; then
    check "icons/$name is up to date" same_icns "$generated" "$committed"
  else
    check "icons/$name is up to date" cmp -s "$generated" "$committed"
  fi
  checked=$((checked + 1))
done
check "tauri icon generated the expected set ($checked files)" test "$checked" -ge 17

# Every icon the bundle config lists exists.
missing=$(cd "$ROOT/src-tauri" && python3 -c '
import json, os
conf = json.load(open("tauri.conf.json"))
print(" ".join(p for p in conf["bundle"]["icon"] if not os.path.isfile(p)))')
check "every icon in tauri.conf.json bundle.icon exists${missing:+ (missing: $missing)}" test -z "$missing"

summary
