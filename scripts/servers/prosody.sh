#!/usr/bin/env bash
# Starts/stops a throwaway prosody 0.12 XMPP server for wirecheck, loopback only, everything in DIR.
#   scripts/servers/prosody.sh start DIR   # http (WebSocket) + c2s on 127.0.0.1, free ports, no s2s
#   scripts/servers/prosody.sh stop DIR    # kills DIR/pid; safe to call twice
# VirtualHost "localhost" with the account pool wc1..wc16, all with the password from
# WIRECHECK_XMPP_PASSWORD (a random one is generated when it is unset).
# start writes DIR/env (KEY=VALUE lines, sourceable) with
#   WIRECHECK_PROSODY_URL=ws://127.0.0.1:PORT/xmpp-websocket   (clients must offer subprotocol "xmpp")
#   WIRECHECK_XMPP_PASSWORD=...
# With WIRECHECK_TLS_CERT and WIRECHECK_TLS_KEY set (PEM files: server certificate chain, key),
# an HTTPS port is added and DIR/env also has
#   WIRECHECK_PROSODY_WSS_URL=wss://127.0.0.1:PORT/xmpp-websocket
# and DIR/pid. Exit codes: 0 ok, 1 failure, 2 usage, 69 prosody not installed.
set -euo pipefail

PROG=prosody.sh
READY_TIMEOUT_MS=10000
STOP_TIMEOUT_MS=10000
DOMAIN=localhost
ACCOUNTS=(wc1 wc2 wc3 wc4 wc5 wc6 wc7 wc8 wc9 wc10 wc11 wc12 wc13 wc14 wc15 wc16)

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage

now_ms() { date +%s%3N; }
t0=$(now_ms)
took() { awk -v ms="$(( $(now_ms) - t0 ))" 'BEGIN { printf "%.2f s", ms / 1000 }'; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

# N distinct free TCP ports on 127.0.0.1 (all held open together, so they differ).
free_ports() {
  python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

# true while PID is a live process (zombies count as dead: PID 1 may be slow to reap orphans).
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
# running, and its command line mentions DIR (so a recycled pid is never killed).
alive() {
  running "$1" && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf -o /dev/null --max-time 1 "$1"
  else
    python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null
  fi
}

# KEY=VALUE, single-quoted (shell style) only when VALUE has characters a shell would interpret.
env_line() {
  if [[ "$2" =~ ^[A-Za-z0-9._~:/@+=%,-]*$ ]]; then
    printf '%s=%s\n' "$1" "$2"
  else
    printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
  fi
}

log_tail() { echo "---- last lines of $dir/prosody.log ----" >&2; tail -n 30 "$dir/prosody.log" >&2 || true; echo "----" >&2; }

start() {
  if ! command -v prosody >/dev/null 2>&1 || ! command -v prosodyctl >/dev/null 2>&1; then
    echo "$PROG: prosody is not installed (prosody/prosodyctl not found in PATH=$PATH); run scripts/servers/install.sh" >&2
    exit 69
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required to pick free ports"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")"; then
    die "already running in $dir (pid $(cat "$dir/pid")); run: $0 stop $dir"
  fi
  rm -f "$dir/env" "$dir/pid"
  case "$dir" in *'"'*|*\\*) die "DIR must not contain quotes or backslashes: $dir" ;; esac

  local password=${WIRECHECK_XMPP_PASSWORD:-}
  if [ -z "$password" ]; then
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    echo "$PROG: WIRECHECK_XMPP_PASSWORD unset; generated a random password (in $dir/env)"
  fi

  local attempt c2s http https pid deadline url cfg=$dir/prosody.cfg.lua u https_conf
  local cert=${WIRECHECK_TLS_CERT:-} key=${WIRECHECK_TLS_KEY:-}
  mkdir -p "$dir/data" "$dir/certs"
  if [ -n "$cert" ] || [ -n "$key" ]; then
    [ -n "$cert" ] && [ -n "$key" ] || die "WIRECHECK_TLS_CERT and WIRECHECK_TLS_KEY go together (PEM certificate chain and key)"
    [ -r "$cert" ] || die "WIRECHECK_TLS_CERT=$cert is not a readable file"
    [ -r "$key" ] || die "WIRECHECK_TLS_KEY=$key is not a readable file"
    cp "$cert" "$dir/tls-cert.pem"; cp "$key" "$dir/tls-key.pem"; chmod 600 "$dir/tls-key.pem"
  fi
  for attempt in 1 2 3; do
    read -r c2s http https < <(free_ports 3)
    if [ -n "$cert" ]; then
      https_conf="https_ports = { $https }
https_interfaces = { \"127.0.0.1\" }
https_ssl = { certificate = \"$dir/tls-cert.pem\", key = \"$dir/tls-key.pem\" }"
    else
      https_conf="https_ports = { }
https_interfaces = { }"
    fi
    cat > "$cfg" <<CONF
-- written by scripts/servers/prosody.sh for wirecheck; loopback only, no s2s, TLS only on the https port of WIRECHECK_TLS_CERT
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs" -- an existing (empty) dir silences certmanager errors
run_as_root = true -- else prosodyctl switches to user prosody when run as root
log = { { levels = { min = "info" }, to = "console" } }
admins = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "posix"; "websocket"; "smacks"; "register" }
-- in-band registration (XEP-0077) for cases/xmpp/register; loopback is exempt from throttling
allow_registration = true
-- stream management (XEP-0198) for cases/xmpp/sm: a dropped session stays resumable this long
smacks_hibernation_time = 60
modules_disabled = { "s2s" }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { $http }
http_interfaces = { "127.0.0.1" }
$https_conf
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true
authentication = "internal_hashed"
storage = "internal"

VirtualHost "$DOMAIN"

-- MUC basics (XEP-0045) for cases/xmpp/muc: rooms are created on join and stay locked
-- until the owner accepts the instant-room configuration (XEP-0045 10.1.2).
Component "conference.$DOMAIN" "muc"
    restrict_room_creation = false
CONF
    if [ "$attempt" = 1 ]; then
      for u in "${ACCOUNTS[@]}"; do
        prosodyctl --config "$cfg" register "$u" "$DOMAIN" "$password" >> "$dir/prosodyctl.log" 2>&1 \
          || { tail -n 20 "$dir/prosodyctl.log" >&2; die "prosodyctl register $u@$DOMAIN failed"; }
        [ -f "$dir/data/$DOMAIN/accounts/$u.dat" ] \
          || { tail -n 20 "$dir/prosodyctl.log" >&2; die "prosodyctl register $u@$DOMAIN wrote no account file"; }
      done
    fi
    prosody -F --config "$cfg" < /dev/null > "$dir/prosody.log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/pid"
    url="http://127.0.0.1:$http/xmpp-websocket"
    deadline=$(( $(now_ms) + READY_TIMEOUT_MS ))
    while running "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
      # prosody keeps running when a port is taken, so look for that in the log
      if grep -qE 'Failed to open server port|Not listening on any ports' "$dir/prosody.log"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true   # our own child: reaps it, and bash prints no "Killed"
        break
      fi
      # the log lines prove that prosody itself (not some other process) holds both ports
      if grep -qF "Activated service 'c2s' on [127.0.0.1]:$c2s" "$dir/prosody.log" \
        && { grep -qF "Serving 'websocket' at http://127.0.0.1:$http/xmpp-websocket" "$dir/prosody.log" \
             || { [ -n "$cert" ] && grep -qF "Serving 'websocket' at https://127.0.0.1:$https/xmpp-websocket" "$dir/prosody.log"; }; } \
        && http_ok "$url" && port_open "$c2s" && running "$pid" \
        && { [ -z "$cert" ] || port_open "$https"; }; then
        {
          env_line WIRECHECK_PROSODY_URL "ws://127.0.0.1:$http/xmpp-websocket"
          env_line WIRECHECK_XMPP_PASSWORD "$password"
          if [ -n "$cert" ]; then env_line WIRECHECK_PROSODY_WSS_URL "wss://127.0.0.1:$https/xmpp-websocket"; fi
        } > "$dir/env.tmp"
        chmod 600 "$dir/env.tmp"
        mv "$dir/env.tmp" "$dir/env"
        echo "$PROG: prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null || echo '?') ready in $(took): pid $pid, http 127.0.0.1:$http, c2s 127.0.0.1:$c2s, accounts ${ACCOUNTS[0]}..${ACCOUNTS[-1]}@$DOMAIN (dir $dir)"
        echo "WIRECHECK_PROSODY_URL=ws://127.0.0.1:$http/xmpp-websocket"
        return 0
      fi
      sleep 0.05
    done
    if running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      rm -f "$dir/pid"
      log_tail
      die "prosody (pid $pid) not ready at $url / c2s $c2s after $((READY_TIMEOUT_MS / 1000)) s"
    fi
    rm -f "$dir/pid"
    if grep -qiE 'address already in use|failed to open server port|not listening on any ports' "$dir/prosody.log" && [ "$attempt" -lt 3 ]; then
      echo "$PROG: port race lost (attempt $attempt), retrying with new ports" >&2
      continue
    fi
    log_tail
    die "prosody exited during startup (see $dir/prosody.log)"
  done
}

stop() {
  if [ ! -f "$dir/pid" ]; then
    echo "$PROG: not running (no $dir/pid)"
    return 0
  fi
  local pid deadline
  pid=$(cat "$dir/pid")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + STOP_TIMEOUT_MS ))
    while alive "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
    if alive "$pid"; then
      echo "$PROG: pid $pid ignored SIGTERM for $((STOP_TIMEOUT_MS / 1000)) s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      alive "$pid" && die "pid $pid survived SIGKILL"
    fi
    echo "$PROG: stopped pid $pid in $(took)"
  else
    echo "$PROG: pid $pid was not running"
  fi
  rm -f "$dir/pid"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
