#!/usr/bin/env bash
# Installs the provider's Debian package on this machine with dpkg, checks what
# it installed (binary, hardened systemd unit, configuration, system user),
# runs the installed binary as the service would (the unit's command line and
# environment, as user tessera, against a real redis-server), then removes and
# purges it and checks that nothing is left.
#
# Needs root, and the package built first:
#   bash scripts/package-provider && bash tests/packaging/provider-deb.sh [path/to.deb]
# redis-server comes from $TESSERA_REDIS_SERVER (default /usr/bin/redis-server);
# a missing redis-server or systemd-analyze fails the test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=tessera-provider
UNIT=/lib/systemd/system/tessera-provider.service
CONFIG=/etc/tessera/provider.toml
REDIS_SERVER=${TESSERA_REDIS_SERVER:-/usr/bin/redis-server}

require "running as root (dpkg -i)" test "$(id -u)" -eq 0
DEB=${1:-$(ls -t "$ROOT"/target/debian/${PKG}_*.deb 2>/dev/null | head -n1 || true)}
require "a built package (run: bash scripts/package-provider)" test -f "${DEB:-/nonexistent}"
require "redis-server at $REDIS_SERVER" test -x "$REDIS_SERVER"
require "redis-cli on PATH" bash -c "command -v redis-cli >/dev/null"
require "systemd-analyze on PATH" bash -c "command -v systemd-analyze >/dev/null"
echo "package: ${DEB#"$ROOT"/}"

work=$(mktemp -d)
chmod 0755 "$work" # the provider runs as tessera and reads its files here
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  # Never leave the package behind, whatever failed.
  if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
    dpkg --purge "$PKG" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# A leftover from an interrupted run would hide what this package does.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
  dpkg --purge "$PKG" >/dev/null
fi

deb_version=$(dpkg-deb -f "$DEB" Version)
etc_tessera_existed=no
[ -e /etc/tessera ] && etc_tessera_existed=yes
upstream_version=${deb_version%-*}

# --- install --------------------------------------------------------------
check "dpkg -i installs the package" dpkg -i "$DEB"
check "dpkg reports it installed" test "$(dpkg-query -W -f='${Status}' "$PKG")" = "install ok installed"

check "binary /usr/bin/tessera-provider is executable" test -x /usr/bin/tessera-provider
check "systemd unit installed at $UNIT" test -f "$UNIT"
check "configuration $CONFIG installed" test -f "$CONFIG"
check "$CONFIG is a conffile (kept on upgrade and remove)" \
  bash -c "dpkg-query -W -f='\${Conffiles}' $PKG | grep -q ' $CONFIG '"
check "copyright file installed" test -f /usr/share/doc/$PKG/copyright
check "package depends on the shared libraries it links (dpkg-shlibdeps)" \
  bash -c "dpkg-query -W -f='\${Depends}' $PKG | grep -q 'libc6'"

# --- the system user --------------------------------------------------------
check "system user tessera exists" bash -c "getent passwd tessera >/dev/null"
tessera_uid=$(id -u tessera 2>/dev/null || echo 65534)
check "tessera is a system user (uid $tessera_uid < 1000)" test "$tessera_uid" -lt 1000
check "tessera has no login shell" \
  bash -c "getent passwd tessera | cut -d: -f7 | grep -Eq '^(/usr/sbin/nologin|/sbin/nologin|/bin/false)$'"
check "$CONFIG is root:tessera 0640 (it may hold secret_key)" \
  test "$(stat -c '%U:%G %a' "$CONFIG")" = "root:tessera 640"
check "user tessera can read $CONFIG" runuser -u tessera -- test -r "$CONFIG"
check "other users cannot read $CONFIG" runuser -u nobody -- test ! -r "$CONFIG"

# --- the unit -----------------------------------------------------------------
verify_out=$(systemd-analyze verify "$UNIT" 2>&1) && verify_rc=0 || verify_rc=$?
[ -z "$verify_out" ] || printf '%s\n' "$verify_out"
check "systemd-analyze verify accepts the unit" test "$verify_rc" -eq 0
check "systemd-analyze verify prints no warning" test -z "$verify_out"
exposure=$(systemd-analyze security --offline=true "$UNIT" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: ${exposure:-unknown}"
check "systemd-analyze security rates the unit OK (exposure ${exposure:-?} < 2.0)" \
  python3 -c "import sys; sys.exit(0 if '$exposure' and float('$exposure') < 2.0 else 1)"
for directive in 'User=tessera' 'Group=tessera' 'StateDirectory=tessera' 'UMask=0077' \
  'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
  'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' \
  'ProtectKernelLogs=yes' 'ProtectControlGroups=yes' 'RestrictNamespaces=yes' \
  'LockPersonality=yes' 'MemoryDenyWriteExecute=yes' 'CapabilityBoundingSet=' \
  'SystemCallFilter=@system-service' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  'Environment=NO_COLOR=1'; do
  check "unit sets $directive" grep -qxF "$directive" "$UNIT"
done
# Runs as the service would: the unit's own ExecStart and Environment.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$UNIT")
check "ExecStart reads $CONFIG" grep -q -- "--config $CONFIG" <<<"$exec_start"

# --- the installed binary -------------------------------------------------------
version_out=$(/usr/bin/tessera-provider --version 2>&1 || true)
check "tessera-provider --version prints the package's version ($version_out)" \
  test "$version_out" = "tessera-provider $upstream_version"
help_out=$(/usr/bin/tessera-provider --help 2>&1 || true)
check "tessera-provider --help lists the serve, user and client commands" \
  bash -c 'grep -q "serve" <<<"$1" && grep -q "user" <<<"$1" && grep -q "client" <<<"$1"' _ "$help_out"

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$REDIS_SERVER" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
require "redis-server answers on port $redis_port" bash -c "redis-cli -p $redis_port ping | grep -qx PONG"

# Starts the installed provider the way the unit does, as user tessera, with
# the given configuration file; the data directory, a free port and any extra
# NAME=value given come from TESSERA_PROVIDER_* variables (they override the
# file). Sets $provider_address (host:port), or fails.
start_provider() {
  local config=$1 name=$2 data="$work/data-$2"
  shift 2
  mkdir -m 0700 "$data" && chown tessera:tessera "$data"
  local cmd=${exec_start/--config $CONFIG/--config $config}
  # shellcheck disable=SC2086 # the unit's command line, split as systemd does
  (umask 0077 && exec runuser -u tessera -- env -i PATH=/usr/bin:/bin "${unit_env[@]}" \
    TESSERA_PROVIDER_DATA_DIR="$data" TESSERA_PROVIDER_PORT=0 "$@" \
    $cmd) >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  provider_address=
  for _ in $(seq 600); do
    provider_address=$(sed -n 's/^Tessera provider listening on \(.*\)$/\1/p' "$work/$name.out")
    [ -n "$provider_address" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$provider_address" ]; then
    cat "$work/$name.out" "$work/$name.err"
    return 1
  fi
}

if start_provider "$CONFIG" shipped TESSERA_PROVIDER_REDIS_URL="redis://127.0.0.1:$redis_port/0"; then
  pass "the service's command line starts with the shipped configuration (store: redis)"
  check "it says it uses the Redis store" grep -qx 'store: redis' "$work/shipped.out"
  discovery=$(curl -fsS "http://$provider_address/.well-known/openid-configuration" || true)
  check "discovery answers on http://$provider_address" \
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["issuer"] and d["token_endpoint"] else 1)' "$discovery"
  check "state went to Redis under the tessera: prefix" \
    bash -c "redis-cli -p $redis_port --scan --pattern 'tessera:*' | grep -q ."
  check "secret.key generated in the data directory, owner tessera, mode 0600" \
    test "$(stat -c '%U %a' "$work/data-shipped/secret.key" 2>/dev/null)" = "tessera 600"
  check "log lines reach stderr (journald): the 'listening' event" grep -q 'listening' "$work/shipped.err"
  check "log lines carry no ANSI escape (NO_COLOR from the unit)" bash -c "! grep -q $'\x1b' '$work/shipped.err'"
  # Key rotation the way an operator runs it: the command line as user
  # tessera, beside the running service on the same Redis.
  kids() {
    curl -fsS "http://$provider_address/jwks" |
      python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'
  }
  kid_before=$(kids || true)
  check "/jwks publishes one signing key ($kid_before)" test "$(wc -w <<<"$kid_before")" -eq 1
  rotated=$(runuser -u tessera -- env -i PATH=/usr/bin:/bin "${unit_env[@]}" \
    TESSERA_PROVIDER_DATA_DIR="$work/data-shipped" \
    TESSERA_PROVIDER_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    /usr/bin/tessera-provider --config "$CONFIG" key rotate 2>&1 || true)
  kid_new=$(sed -n 's/^signing key //p' <<<"$rotated")
  check "key rotate beside the running service retires its key ($rotated)" \
    bash -c 'test -n "$1" && grep -qx "retired key $2 (still verifies until the next rotation)" <<<"$3"' _ "$kid_new" "$kid_before" "$rotated"
  check "the running service publishes the new key, then the retired one, at once" \
    test "$(kids || true)" = "$kid_new $kid_before"
else
  fail "the service's command line starts with the shipped configuration (store: redis)"
fi

# Every commented setting in the example is a real key with a valid value:
# uncomment them all ("#key = ..." and "#[table]" lines) and start again. The
# example's placeholders are then pointed at real parts through environment
# variables (which override the file): a Redis Sentinel monitoring our
# redis-server, and a self-signed certificate for the HTTPS listener.
sed -E 's/^#([A-Za-z_\[])/\1/' "$CONFIG" >"$work/uncommented.toml"
chown root:tessera "$work/uncommented.toml" && chmod 0640 "$work/uncommented.toml"
check "the example has commented settings to try" test "$(grep -cE '^#[A-Za-z_\[]' "$CONFIG")" -gt 30
check "the uncommented example sets Sentinel and TLS keys" \
  bash -c 'grep -q "^redis_sentinels = " "$1" && grep -q "^tls_cert = " "$1"' _ "$work/uncommented.toml"

sentinel_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
service=$(sed -n 's/^redis_sentinel_service = "\(.*\)"$/\1/p' "$work/uncommented.toml")
printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %s 1\n' \
  "$sentinel_port" "$work" "${service:-tessera}" "$redis_port" >"$work/sentinel.conf"
"$REDIS_SERVER" "$work/sentinel.conf" --sentinel >"$work/sentinel.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  redis-cli -p "$sentinel_port" sentinel get-master-addr-by-name "${service:-tessera}" 2>/dev/null | grep -qx "$redis_port" && break
  sleep 0.1
done
require "a Redis Sentinel monitors the test redis-server as '${service:-tessera}'" \
  bash -c 'redis-cli -p "$1" sentinel get-master-addr-by-name "$2" | grep -qx "$3"' _ "$sentinel_port" "${service:-tessera}" "$redis_port"

require "openssl makes a test certificate" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
chown root:tessera "$work/tls.key" "$work/tls.crt" && chmod 0640 "$work/tls.key" "$work/tls.crt"

redis-cli -p "$redis_port" flushall >/dev/null
if start_provider "$work/uncommented.toml" uncommented \
  TESSERA_PROVIDER_REDIS_SENTINELS="redis://127.0.0.1:$sentinel_port/" \
  TESSERA_PROVIDER_TLS_CERT="$work/tls.crt" TESSERA_PROVIDER_TLS_KEY="$work/tls.key"; then
  pass "every documented setting of the example is accepted (all uncommented)"
  discovery=$(curl -fsS --cacert "$work/tls.crt" "https://$provider_address/.well-known/openid-configuration" || true)
  check "with them, discovery answers over HTTPS with the example's issuer and acr levels" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d["issuer"] == "https://id.example.org" and "eidas1-mfa" in d["acr_values_supported"] else 1)' "$discovery"
  check "state reached the Redis primary through the Sentinel" \
    bash -c "redis-cli -p $redis_port --scan --pattern 'tessera:*' | grep -q ."
else
  fail "every documented setting of the example is accepted (all uncommented)"
fi
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done

# --- upgrade (reinstall over itself: postinst runs with the old version) -----------
printf '# local edit %s, kept across upgrades\n' "$$" >>"$CONFIG"
chmod 0600 "$CONFIG" # a mode user tessera cannot read: postinst puts it right
check "dpkg -i over the installed package (upgrade path) succeeds" dpkg -i "$DEB"
check "after upgrade: the admin's edit of $CONFIG is kept" grep -qx "# local edit $$, kept across upgrades" "$CONFIG"
check "after upgrade: $CONFIG is root:tessera 0640 again" \
  test "$(stat -c '%U:%G %a' "$CONFIG")" = "root:tessera 640"
check "after upgrade: exactly one tessera user" test "$(getent passwd | grep -c '^tessera:')" -eq 1

# --- remove, then purge ---------------------------------------------------------
# What the service would have created, so that purge has something to delete.
install -d -o tessera -g tessera -m 0700 /var/lib/tessera
check "dpkg -r removes the package" dpkg -r "$PKG"
check "after remove: binary gone" test ! -e /usr/bin/tessera-provider
check "after remove: unit gone" test ! -e "$UNIT"
check "after remove: configuration kept (conffile)" test -f "$CONFIG"
check "after remove: dpkg keeps only the configuration" \
  test "$(dpkg-query -W -f='${Status}' "$PKG")" = "deinstall ok config-files"
check "dpkg --purge purges the package" dpkg --purge "$PKG"
check "after purge: configuration gone" test ! -e "$CONFIG"
if [ "$etc_tessera_existed" = no ]; then
  check "after purge: /etc/tessera gone (it did not exist before)" test ! -e /etc/tessera
fi
check "after purge: /var/lib/tessera gone" test ! -e /var/lib/tessera
check "after purge: dpkg knows nothing of it" \
  bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q installed"
check "after purge: no file of the package left" \
  bash -c '! ls /usr/bin/tessera-provider /lib/systemd/system/tessera-provider.service /usr/share/doc/tessera-provider 2>/dev/null | grep -q .'

summary
