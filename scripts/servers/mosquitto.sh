#!/usr/bin/env bash
# Starts/stops a throwaway mosquitto broker for wirecheck, loopback only, everything inside DIR.
#   scripts/servers/mosquitto.sh start DIR   # TCP on 127.0.0.1 + WebSocket on interface lo, free ports
#   scripts/servers/mosquitto.sh stop DIR    # kills DIR/pid; safe to call twice
# start writes DIR/env (KEY=VALUE lines, sourceable) with
#   WIRECHECK_MOSQUITTO_URL=mqtt://127.0.0.1:PORT
#   WIRECHECK_MOSQUITTO_WS_URL=ws://127.0.0.1:PORT/mqtt   (clients must offer subprotocol "mqtt")
#   WIRECHECK_MOSQUITTO_AUTH_URL=mqtt://127.0.0.1:PORT    (requires WIRECHECK_MQTT_USER / WIRECHECK_MQTT_PASSWORD)
# With WIRECHECK_TLS_CERT and WIRECHECK_TLS_KEY set (PEM files: server certificate chain, key),
# two TLS listeners are added and DIR/env also has
#   WIRECHECK_MOSQUITTO_TLS_URL=mqtts://127.0.0.1:PORT
#   WIRECHECK_MOSQUITTO_WSS_URL=wss://127.0.0.1:PORT/mqtt
# and DIR/pid. Exit codes: 0 ok, 1 failure, 2 usage, 69 mosquitto not installed.
set -euo pipefail

PROG=mosquitto.sh
AUTH_USER=wcuser
READY_TIMEOUT_MS=10000
STOP_TIMEOUT_MS=10000

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

log_tail() { echo "---- last lines of $dir/mosquitto.log ----" >&2; tail -n 30 "$dir/mosquitto.log" >&2 || true; echo "----" >&2; }

start() {
  if ! command -v mosquitto >/dev/null 2>&1; then
    echo "$PROG: mosquitto is not installed (not found in PATH=$PATH); run scripts/servers/install.sh" >&2
    exit 69
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required to pick free ports"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")"; then
    die "already running in $dir (pid $(cat "$dir/pid")); run: $0 stop $dir"
  fi
  rm -f "$dir/env" "$dir/pid"

  local attempt tcp ws auth tls wss pid deadline auth_password tls_conf=""
  local cert=${WIRECHECK_TLS_CERT:-} key=${WIRECHECK_TLS_KEY:-}
  if [ -n "$cert" ] || [ -n "$key" ]; then
    [ -n "$cert" ] && [ -n "$key" ] || die "WIRECHECK_TLS_CERT and WIRECHECK_TLS_KEY go together (PEM certificate chain and key)"
    [ -r "$cert" ] || die "WIRECHECK_TLS_CERT=$cert is not a readable file"
    [ -r "$key" ] || die "WIRECHECK_TLS_KEY=$key is not a readable file"
    cp "$cert" "$dir/tls-cert.pem"; cp "$key" "$dir/tls-key.pem"; chmod 600 "$dir/tls-key.pem"
  fi
  auth_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  for attempt in 1 2 3; do
    read -r tcp ws auth tls wss < <(free_ports 5)
    if [ -n "$cert" ]; then
      tls_conf="
listener $tls 127.0.0.1
protocol mqtt
allow_anonymous true
certfile $dir/tls-cert.pem
keyfile $dir/tls-key.pem

listener $wss lo
protocol websockets
allow_anonymous true
certfile $dir/tls-cert.pem
keyfile $dir/tls-key.pem
"
    fi
    # A third listener requires a user name and password (for the credential tests).
    rm -f "$dir/passwd"
    mosquitto_passwd -b -c "$dir/passwd" "$AUTH_USER" "$auth_password" >/dev/null 2>&1 \
      || die "mosquitto_passwd could not write $dir/passwd"
    chmod 600 "$dir/passwd"
    # Stay the user that started the script: a broker that drops to user `mosquitto` could not
    # read the password file in a private temp dir (mktemp -d makes it mode 700).
    cat > "$dir/mosquitto.conf" <<CONF
user $(id -un)
per_listener_settings true
persistence false
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true

listener $tcp 127.0.0.1
protocol mqtt
allow_anonymous true

listener $ws lo
protocol websockets
allow_anonymous true

listener $auth 127.0.0.1
protocol mqtt
allow_anonymous false
password_file $dir/passwd
$tls_conf
CONF
    mosquitto -c "$dir/mosquitto.conf" < /dev/null > "$dir/mosquitto.log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/pid"
    deadline=$(( $(now_ms) + READY_TIMEOUT_MS ))
    while running "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
      # "running" is logged after every listener is open, so the ports are mosquitto's own
      if grep -q "mosquitto version .* running" "$dir/mosquitto.log" \
        && port_open "$tcp" && port_open "$ws" && port_open "$auth" && running "$pid" \
        && { [ -z "$cert" ] || { port_open "$tls" && port_open "$wss"; }; }; then
        {
          echo "WIRECHECK_MOSQUITTO_URL=mqtt://127.0.0.1:$tcp"
          echo "WIRECHECK_MOSQUITTO_WS_URL=ws://127.0.0.1:$ws/mqtt"
          echo "WIRECHECK_MOSQUITTO_AUTH_URL=mqtt://127.0.0.1:$auth"
          echo "WIRECHECK_MQTT_USER=$AUTH_USER"
          echo "WIRECHECK_MQTT_PASSWORD=$auth_password"
          if [ -n "$cert" ]; then
            echo "WIRECHECK_MOSQUITTO_TLS_URL=mqtts://127.0.0.1:$tls"
            echo "WIRECHECK_MOSQUITTO_WSS_URL=wss://127.0.0.1:$wss/mqtt"
          fi
        } > "$dir/env.tmp"
        mv "$dir/env.tmp" "$dir/env"
        echo "$PROG: mosquitto $(mosquitto -h 2>/dev/null | awk 'NR==1 { print $3 }') ready in $(took): pid $pid, mqtt 127.0.0.1:$tcp, ws 127.0.0.1:$ws, mqtt with password 127.0.0.1:$auth (dir $dir)"
        grep -v PASSWORD "$dir/env"
        return 0
      fi
      sleep 0.05
    done
    if running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      rm -f "$dir/pid"
      log_tail
      die "mosquitto (pid $pid) not ready on 127.0.0.1:$tcp / $ws / $auth after $((READY_TIMEOUT_MS / 1000)) s"
    fi
    rm -f "$dir/pid"
    if grep -qiE 'address already in use|unable to create websockets listener' "$dir/mosquitto.log" && [ "$attempt" -lt 3 ]; then
      echo "$PROG: port race lost (attempt $attempt), retrying with new ports" >&2
      continue
    fi
    log_tail
    die "mosquitto exited during startup (see $dir/mosquitto.log)"
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
