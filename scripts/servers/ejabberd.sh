#!/usr/bin/env bash
# Starts/stops a throwaway ejabberd 23.01 (Debian) for wirecheck, loopback only, everything in DIR:
# XMPP over WebSocket (RFC 7395) and mod_mqtt, over TCP and over WebSocket.
#   scripts/servers/ejabberd.sh start DIR   # free ports on 127.0.0.1; no epmd, no TLS, no s2s
#   scripts/servers/ejabberd.sh stop DIR    # SIGTERM to the beam pid (EJABBERD_PID_PATH); safe twice
#   scripts/servers/ejabberd.sh env DIR     # prints DIR/env (sourceable KEY=VALUE lines)
# Host "localhost" with the XMPP account pool wc1..wc16 and the MQTT account wcmqtt (mod_mqtt logs
# clients in against the XMPP accounts: user name "wcmqtt" means wcmqtt@localhost), all with the
# password from WIRECHECK_EJABBERD_PASSWORD (a random one is generated when it is unset).
# start writes DIR/env with
#   WIRECHECK_EJABBERD_URL=ws://127.0.0.1:PORT/ws            (XMPP; subprotocol "xmpp" optional)
#   WIRECHECK_EJABBERD_MQTT_URL=mqtt://127.0.0.1:PORT        (mod_mqtt, needs credentials)
#   WIRECHECK_EJABBERD_MQTT_WS_URL=ws://127.0.0.1:PORT/mqtt  (mod_mqtt on the HTTP listener)
#   WIRECHECK_EJABBERD_MQTT_USER=wcmqtt
#   WIRECHECK_EJABBERD_PASSWORD=...
# and DIR/pid (the beam.smp pid). ejabberd runs as user `ejabberd` (ejabberdctl does `su` when
# started as root), so its files live in DIR/run, owned by ejabberd; when user ejabberd cannot
# reach DIR (e.g. a parent made by `mktemp -d`, mode 700), they live in a private dir under /tmp
# instead, named in DIR/rundir and removed by stop. Logs: DIR/ejabberd.out (the foreground
# script) and RUN/logs/ejabberd.log (linked as DIR/ejabberd.log).
# Exit codes: 0 ok, 1 failure, 2 usage, 69 ejabberd not installed.
set -euo pipefail

PROG=ejabberd.sh
READY_TIMEOUT_MS=60000
STOP_TIMEOUT_MS=15000
DOMAIN=localhost
ACCOUNTS=(wc1 wc2 wc3 wc4 wc5 wc6 wc7 wc8 wc9 wc10 wc11 wc12 wc13 wc14 wc15 wc16)
MQTT_USER=wcmqtt
INSTALLUSER=ejabberd

usage() { echo "usage: $0 start|stop|env DIR" >&2; exit 2; }
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
# running, and its command line mentions the run dir (so a recycled pid is never killed).
alive() {
  running "$1" && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_up() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null --max-time 1 "$1"
  else
    python3 -c 'import sys,urllib.request,urllib.error
try: urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError: pass' "$1" 2>/dev/null
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

# The dir that holds ejabberd's own files (config, spool, logs, pid file).
run_dir() {
  if [ -f "$dir/rundir" ]; then cat "$dir/rundir"; else echo "$dir/run"; fi
}

# ejabberdctl with our own files only (never /etc/ejabberd/*, never epmd).
ectl() {
  local e
  e=$(run_dir)
  ejabberdctl --config-dir "$e" --config "$e/ejabberd.yml" --ctl-config "$e/ejabberdctl.cfg" \
    --spool "$e/db" --logs "$e/logs" "$@"
}

log_tail() {
  local e
  e=$(run_dir)
  echo "---- last lines of $dir/ejabberd.out and $e/logs/ejabberd.log ----" >&2
  tail -n 15 "$dir/ejabberd.out" >&2 || true
  tail -n 25 "$e/logs/ejabberd.log" >&2 || true
  echo "----" >&2
}

# Kills beam (by the pid file ejabberd wrote) and the foreground wrapper; waits for both.
kill_all() {
  local pid=$1 e=$2 wrapper=${3:-} deadline
  if [ -n "$pid" ] && alive "$pid" "$e"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + STOP_TIMEOUT_MS ))
    while alive "$pid" "$e" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
    if alive "$pid" "$e"; then
      echo "$PROG: pid $pid ignored SIGTERM for $((STOP_TIMEOUT_MS / 1000)) s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      alive "$pid" "$e" && die "pid $pid survived SIGKILL"
    fi
  fi
  if [ -n "$wrapper" ] && running "$wrapper"; then
    kill -TERM "$wrapper" 2>/dev/null || true
    wait "$wrapper" 2>/dev/null || true
  fi
}

write_config() {
  local e=$1 c2s=$2 http=$3 mqtt=$4 dist=$5
  cat > "$e/ejabberd.yml" <<CONF
# written by scripts/servers/ejabberd.sh for wirecheck; loopback only, no TLS, no s2s
hosts:
  - $DOMAIN
loglevel: info
log_rotate_count: 0
# every registration comes from 127.0.0.1: no per-IP pause between them (default 600 s)
registration_timeout: infinity
auth_method: internal
auth_password_format: plain
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
    starttls: false
    starttls_required: false
  -
    port: $http
    ip: "127.0.0.1"
    module: ejabberd_http
    tls: false
    request_handlers:
      /ws: ejabberd_http_ws
      /mqtt: mod_mqtt
  -
    port: $mqtt
    ip: "127.0.0.1"
    module: mod_mqtt
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    deny: blocked
    allow: all
  register:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper:
  normal:
    rate: 3000
    burst_size: 20000
shaper_rules:
  max_user_sessions: 100
  c2s_shaper:
    normal: all
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_caps: {}
  mod_mqtt: {}
  # stream management with resumption (XEP-0198) for cases/xmpp/sm
  mod_stream_mgmt:
    resume_timeout: 60
  # in-band registration (XEP-0077) for cases/xmpp/register, on loopback only
  mod_register:
    access: register
    ip_access: all
  # MUC basics (XEP-0045) for cases/xmpp/muc: rooms are created on join (not persistent).
  mod_muc:
    hosts: ["conference.@HOST@"]
    access_create: all
CONF
  # Our own ctl config: the packaged one (/etc/default/ejabberd) would point at /etc/ejabberd.
  # ERL_DIST_PORT means no epmd at all; distribution (and ctl) on 127.0.0.1:$dist only.
  cat > "$e/ejabberdctl.cfg" <<CONF
# written by scripts/servers/ejabberd.sh for wirecheck
ERLANG_NODE=ejabberd@localhost
INET_DIST_INTERFACE=127.0.0.1
ERL_DIST_PORT=$dist
ERL_EPMD_ADDRESS=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_BYPASS_WARNINGS=true
EJABBERD_PID_PATH=$e/ejabberd.pid
CONF
}

start() {
  if ! command -v ejabberdctl >/dev/null 2>&1; then
    echo "$PROG: ejabberd is not installed (ejabberdctl not found in PATH=$PATH); run scripts/servers/install.sh" >&2
    exit 69
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required to pick free ports"
  local me
  me=$(id -un)
  if [ "$(id -u)" -ne 0 ] && [ "$me" != "$INSTALLUSER" ]; then
    die "ejabberdctl runs only as root or as user $INSTALLUSER (this is $me)"
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case "$dir" in *'"'*|*\\*|*\'*|*' '*) die "DIR must not contain quotes, backslashes or spaces: $dir" ;; esac
  if [ -f "$dir/pid" ] && alive "$(cat "$dir/pid")" "$(run_dir)"; then
    die "already running in $dir (pid $(cat "$dir/pid")); run: $0 stop $dir"
  fi
  # A previous run's private dir under /tmp is removed before a new one is made.
  if [ -f "$dir/rundir" ]; then rm -rf "$(cat "$dir/rundir")"; fi
  rm -rf "$dir/env" "$dir/pid" "$dir/rundir" "$dir/run" "$dir/ejabberd.log"

  local password=${WIRECHECK_EJABBERD_PASSWORD:-}
  if [ -z "$password" ]; then
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
    echo "$PROG: WIRECHECK_EJABBERD_PASSWORD unset; generated a random password (in $dir/env)"
  fi

  # Where ejabberd's files go: DIR/run when user ejabberd can reach it, else a private /tmp dir.
  local e=$dir/run
  mkdir -p "$e"
  if [ "$me" != "$INSTALLUSER" ]; then
    chown "$INSTALLUSER:" "$e"
    if ! su -s /bin/sh -c 'test -w "$0"' "$INSTALLUSER" -- "$e" 2>/dev/null; then
      rm -rf "$e"
      e=$(mktemp -d "${TMPDIR:-/tmp}/wirecheck-ejabberd.XXXXXX")
      chown "$INSTALLUSER:" "$e"
      echo "$e" > "$dir/rundir"
      echo "$PROG: user $INSTALLUSER cannot write in $dir; ejabberd's files are in $e (removed by stop)"
    fi
  fi
  mkdir -p "$e/db" "$e/logs"
  cp /etc/ejabberd/inetrc "$e/inetrc" 2>/dev/null || echo '{lookup,["file","native"]}.' > "$e/inetrc"
  ln -sfn "$e/logs/ejabberd.log" "$dir/ejabberd.log"

  local attempt c2s http mqtt dist wrapper pid deadline ws_url u rc
  for attempt in 1 2 3; do
    read -r c2s http mqtt dist < <(free_ports 4)
    write_config "$e" "$c2s" "$http" "$mqtt" "$dist"
    [ "$me" = "$INSTALLUSER" ] || chown -R "$INSTALLUSER:" "$e"
    rm -f "$e/ejabberd.pid"
    ectl foreground < /dev/null > "$dir/ejabberd.out" 2>&1 &
    wrapper=$!
    ws_url="http://127.0.0.1:$http/ws"
    pid=""
    deadline=$(( $(now_ms) + READY_TIMEOUT_MS ))
    while running "$wrapper" && [ "$(now_ms)" -lt "$deadline" ]; do
      if [ -z "$pid" ] && [ -s "$e/ejabberd.pid" ]; then
        pid=$(cat "$e/ejabberd.pid")
        echo "$pid" > "$dir/pid"
      fi
      # the pid file is written by beam itself, so the ports below are ejabberd's own
      if [ -n "$pid" ] && port_open "$c2s" && port_open "$mqtt" && http_up "$ws_url"; then
        break
      fi
      sleep 0.05
    done
    if [ -n "$pid" ] && running "$wrapper" && port_open "$mqtt" && http_up "$ws_url"; then
      echo "$PROG: listeners up after $(took); registering ${#ACCOUNTS[@]} XMPP accounts and $MQTT_USER"
      # All registrations at once: each ctl call is a short-lived Erlang node (~0.5 s).
      local pids=()
      for u in "${ACCOUNTS[@]}" "$MQTT_USER"; do
        ectl register "$u" "$DOMAIN" "$password" > "$e/register-$u.log" 2>&1 &
        pids+=($!)
      done
      rc=0
      for u in "${pids[@]}"; do wait "$u" || rc=1; done
      if [ "$rc" -ne 0 ]; then
        cat "$e"/register-*.log >&2
        kill_all "$pid" "$e" "$wrapper"
        rm -f "$dir/pid"
        die "ejabberdctl register failed"
      fi
      {
        env_line WIRECHECK_EJABBERD_URL "ws://127.0.0.1:$http/ws"
        env_line WIRECHECK_EJABBERD_MQTT_URL "mqtt://127.0.0.1:$mqtt"
        env_line WIRECHECK_EJABBERD_MQTT_WS_URL "ws://127.0.0.1:$http/mqtt"
        env_line WIRECHECK_EJABBERD_MQTT_USER "$MQTT_USER"
        env_line WIRECHECK_EJABBERD_PASSWORD "$password"
      } > "$dir/env.tmp"
      chmod 600 "$dir/env.tmp"
      mv "$dir/env.tmp" "$dir/env"
      echo "$PROG: ejabberd $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null || echo '?') ready in $(took): pid $pid, http 127.0.0.1:$http (/ws, /mqtt), mqtt 127.0.0.1:$mqtt, c2s 127.0.0.1:$c2s, dist 127.0.0.1:$dist, accounts ${ACCOUNTS[0]}..${ACCOUNTS[-1]}@$DOMAIN + $MQTT_USER (dir $dir)"
      grep -v PASSWORD "$dir/env"
      return 0
    fi
    kill_all "$pid" "$e" "$wrapper"
    rm -f "$dir/pid"
    if grep -qiE 'eaddrinuse|address already in use' "$dir/ejabberd.out" "$e/logs/ejabberd.log" 2>/dev/null && [ "$attempt" -lt 3 ]; then
      echo "$PROG: port race lost (attempt $attempt), retrying with new ports" >&2
      continue
    fi
    log_tail
    die "ejabberd not ready (http $http, mqtt $mqtt, c2s $c2s) after $(took)"
  done
}

stop() {
  if [ ! -f "$dir/pid" ]; then
    echo "$PROG: not running (no $dir/pid)"
  else
    local pid e
    pid=$(cat "$dir/pid")
    e=$(run_dir)
    if alive "$pid" "$e"; then
      kill_all "$pid" "$e"
      echo "$PROG: stopped pid $pid in $(took)"
    else
      echo "$PROG: pid $pid was not running"
    fi
    rm -f "$dir/pid"
  fi
  if [ -f "$dir/rundir" ]; then
    # keep the log next to DIR before the private dir goes away
    cp "$(cat "$dir/rundir")/logs/ejabberd.log" "$dir/ejabberd.log.last" 2>/dev/null || true
    rm -f "$dir/ejabberd.log"
    rm -rf "$(cat "$dir/rundir")"
    rm -f "$dir/rundir"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  env)
    [ -f "$dir/env" ] || die "no $dir/env (is ejabberd started? run: $0 start $dir)"
    cat "$dir/env"
    ;;
  *) usage ;;
esac
