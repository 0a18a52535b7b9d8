#!/usr/bin/env bash
# MQTT interop matrix (by hand, not part of CI): installs what is missing, starts six brokers on
# loopback (free ports on 127.0.0.1), runs wirecheck's MQTT suite against each broker x transport
# (TCP, WebSocket) x MQTT version listed in scripts/interop/interop-mqtt.matrix, writes one JSON
# report per run to reports/interop/, and generates reports/interop-mqtt.md from them with
# scripts/interop/report.py (explanations of non-passes: reports/interop-mqtt-notes.yaml, kept by
# hand). Every broker is stopped at the end, also on error or Ctrl-C.
#
#   scripts/interop-mqtt.sh                  # everything
#   scripts/interop-mqtt.sh aedes rumqttd    # only these brokers (the report then has only them)
#   scripts/interop-mqtt.sh --report-only    # regenerate reports/interop-mqtt.md from reports/interop/
#   scripts/interop-mqtt.sh --serve amqtt    # only start these brokers, write their environment
#                                            # (WIRECHECK_*_URL) to $RUN/env, wait until Ctrl-C
#
# Brokers and where they come from:
#   mosquitto 2.0 (apt)          scripts/servers/mosquitto.sh
#   ejabberd 23.01 (apt)         scripts/servers/ejabberd.sh (mod_mqtt; logs in as XMPP account wcmqtt)
#   rabbitmq-server 3.10 (apt)   rabbitmq_mqtt + rabbitmq_web_mqtt (WS path /ws), own HOME and
#                                RABBITMQ_* dirs, own epmd on 127.0.0.1 (ERL_EPMD_ADDRESS, free port)
#   rumqttd 0.20 (cargo install) v4 + v5 TCP listeners and a WebSocket listener (3.1.1 only)
#   amqtt 0.12 (PyPI)            in a venv in the cache dir
#   aedes 1.2 + ws 8 (npm)       in the cache dir; server: scripts/interop/aedes-broker.mjs
# apt installs need root (or sudo). Installing rumqttd builds it from source (~3 min, 2 cores).
#
# Environment: WIRECHECK_INTEROP_CACHE (default ~/.cache/wirecheck-interop) holds the rumqttd
# binary, the amqtt venv and aedes' node_modules; WIRECHECK_INTEROP_KEEP=1 keeps the run dir
# (configs and broker logs) instead of deleting it. Exit code: 0 when every run produced a report
# (non-passes are expected and explained in the notes), 1 otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
MATRIX=$ROOT/scripts/interop/interop-mqtt.matrix
OUT=$ROOT/reports/interop
REPORT=$ROOT/reports/interop-mqtt.md
NOTES=$ROOT/reports/interop-mqtt-notes.yaml
CACHE=${WIRECHECK_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wirecheck-interop}
ALL_BROKERS=(mosquitto ejabberd rabbitmq rumqttd amqtt aedes)

say() { echo "interop-mqtt: $*"; }
die() { echo "interop-mqtt: error: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

report_only=0
serve=0
brokers=()
for a in "$@"; do
  case "$a" in
    --report-only) report_only=1 ;;
    --serve) serve=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $a (see --help)" ;;
    *) [[ " ${ALL_BROKERS[*]} " == *" $a "* ]] || die "unknown broker $a (known: ${ALL_BROKERS[*]})"; brokers+=("$a") ;;
  esac
done
[ ${#brokers[@]} -gt 0 ] || brokers=("${ALL_BROKERS[@]}")
want() { [[ " ${brokers[*]} " == *" $1 "* ]]; }

generate() {
  python3 "$ROOT/scripts/interop/report.py" --runs "$OUT/runs.tsv" --notes "$NOTES" --out "$REPORT" --root "$ROOT"
}
if [ "$report_only" = 1 ]; then generate; exit 0; fi

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

# ---------------------------------------------------------------- helpers
free_ports() {
  python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
# wait_ports NAME PID TIMEOUT_S PORT...: until every port is open (and PID still runs).
wait_ports() {
  local name=$1 pid=$2 deadline=$(( $(now_ms) + $3 * 1000 )) p ok t0
  t0=$(now_ms)
  shift 3
  while [ "$(now_ms)" -lt "$deadline" ]; do
    running "$pid" || { say "$name (pid $pid) exited during startup"; return 1; }
    ok=1
    for p in "$@"; do port_open "$p" || { ok=0; break; }; done
    if [ "$ok" = 1 ]; then
      say "$name ready in $(( $(now_ms) - t0 )) ms on 127.0.0.1:$*"
      return 0
    fi
    sleep 0.1
  done
  say "$name not ready after $3 s"
  return 1
}
# Stops a process we started (by pid); SIGKILL after 15 s.
stop_pid() {
  local name=$1 pid=$2 deadline
  running "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(now_ms) + 15000 ))
  while running "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.1; done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; say "$name (pid $pid) needed SIGKILL"; fi
  wait "$pid" 2>/dev/null || true
  say "stopped $name (pid $pid)"
}
apt_install() {
  say "apt-get install $*"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    die "no /usr/sbin/policy-rc.d: installing $* could start system services; install by hand first"
  fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@"
}

# ---------------------------------------------------------------- install (only what is missing)
install_missing() {
  mkdir -p "$CACHE"
  if { want mosquitto && ! command -v mosquitto >/dev/null; } || { want ejabberd && ! command -v ejabberdctl >/dev/null; }; then
    bash scripts/servers/install.sh
  fi
  if want rabbitmq && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then apt_install rabbitmq-server; fi
  if want rumqttd && [ ! -x "$CACHE/rumqttd/bin/rumqttd" ]; then
    # not --locked: the locked metrics 0.22.1 no longer builds with current rustc
    say "cargo install rumqttd (builds from source, a few minutes)"
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} CARGO_TARGET_DIR="$CACHE/rumqttd-build" \
      cargo install rumqttd --root "$CACHE/rumqttd"
    rm -rf "$CACHE/rumqttd-build"
  fi
  if want amqtt && [ ! -x "$CACHE/amqtt-venv/bin/amqtt" ]; then
    say "pip install amqtt (venv $CACHE/amqtt-venv)"
    python3 -m venv "$CACHE/amqtt-venv"
    "$CACHE/amqtt-venv/bin/pip" install -q --disable-pip-version-check amqtt
  fi
  if want aedes && [ ! -d "$CACHE/aedes/node_modules/aedes" ]; then
    say "npm install aedes ws ($CACHE/aedes)"
    mkdir -p "$CACHE/aedes"
    (cd "$CACHE/aedes" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund aedes ws)
  fi
}

# ---------------------------------------------------------------- start / stop
RUN=$(mktemp -d "${TMPDIR:-/tmp}/wirecheck-interop.XXXXXX")
PIDS=()      # "name pid" of processes we started ourselves
SCRIPTED=()  # brokers started by scripts/servers/*.sh
cleanup() {
  local rc=$? i name pid
  for s in "${SCRIPTED[@]}"; do bash "scripts/servers/$s.sh" stop "$RUN/$s" || true; done
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    read -r name pid <<< "${PIDS[$i]}"
    stop_pid "$name" "$pid"
  done
  if [ "${WIRECHECK_INTEROP_KEEP:-0}" = 1 ]; then say "run dir kept: $RUN"; else rm -rf "$RUN"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_scripted() {  # mosquitto | ejabberd
  local s=$1
  if bash "scripts/servers/$s.sh" start "$RUN/$s"; then
    SCRIPTED+=("$s")
    set -a; . "$RUN/$s/env"; set +a
  else
    say "$s did not start"; return 1
  fi
}

start_rabbitmq() {
  local R=$RUN/rabbitmq amqp mqtt web dist epmd_port pid
  mkdir -p "$R/home" "$R/mnesia" "$R/logs"
  read -r amqp mqtt web dist epmd_port < <(free_ports 5)
  : > "$R/rabbitmq-env.conf"
  cat > "$R/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp
mqtt.listeners.tcp.default = 127.0.0.1:$mqtt
mqtt.allow_anonymous = true
mqtt.default_user = guest
mqtt.default_pass = guest
mqtt.vhost = /
mqtt.exchange = amq.topic
web_mqtt.tcp.ip = 127.0.0.1
web_mqtt.tcp.port = $web
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $dist
distribution.listener.port_range.max = $dist
log.console = true
log.console.level = info
log.file = false
CONF
  echo '[].' > "$R/advanced.config"
  cat > "$R/env.sh" <<ENV
export HOME=$R/home
export RABBITMQ_CONF_ENV_FILE=$R/rabbitmq-env.conf
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_CONFIG_FILE=$R/rabbitmq.conf
export RABBITMQ_ADVANCED_CONFIG_FILE=$R/advanced.config
export RABBITMQ_ENABLED_PLUGINS_FILE=$R/enabled_plugins
export RABBITMQ_MNESIA_BASE=$R/mnesia
export RABBITMQ_LOG_BASE=$R/logs
export RABBITMQ_PID_FILE=$R/rabbit.pid
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$epmd_port
export PATH=/usr/lib/rabbitmq/bin:\$PATH
ENV
  (
    # shellcheck disable=SC1091
    . "$R/env.sh"
    rabbitmq-plugins --offline enable rabbitmq_mqtt rabbitmq_web_mqtt > "$R/plugins.log" 2>&1
  ) || { tail -n 20 "$R/plugins.log"; say "rabbitmq-plugins failed"; return 1; }
  # our own epmd in the foreground (its pid is known), loopback only, on a free port
  (. "$R/env.sh"; exec epmd -address 127.0.0.1 -port "$epmd_port") > "$R/epmd.log" 2>&1 &
  PIDS+=("epmd $!")
  (. "$R/env.sh"; exec rabbitmq-server) > "$R/server.out" 2>&1 &
  pid=$!
  PIDS+=("rabbitmq $pid")
  wait_ports rabbitmq "$pid" 90 "$mqtt" "$web" || { tail -n 30 "$R/server.out"; return 1; }
  export WIRECHECK_RABBITMQ_URL=mqtt://127.0.0.1:$mqtt WIRECHECK_RABBITMQ_WS_URL=ws://127.0.0.1:$web/ws
}

start_rumqttd() {
  local D=$RUN/rumqttd v4 v5 ws pid
  mkdir -p "$D"
  read -r v4 v5 ws < <(free_ports 3)
  # always -c: without it rumqttd runs a built-in config that listens on 0.0.0.0
  cat > "$D/rumqttd.toml" <<CONF
id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$v4"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true

[v5.1]
name = "v5-1"
listen = "127.0.0.1:$v5"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100

[ws.1]
name = "ws-1"
listen = "127.0.0.1:$ws"
next_connection_delay_ms = 1
    [ws.1.connections]
    connection_timeout_ms = 60000
    max_client_id_len = 256
    throttle_delay_ms = 0
    max_payload_size = 20480
    max_inflight_count = 500
    max_inflight_size = 1024
    dynamic_filters = true
CONF
  "$CACHE/rumqttd/bin/rumqttd" -c "$D/rumqttd.toml" -q -v > "$D/rumqttd.log" 2>&1 &
  pid=$!
  PIDS+=("rumqttd $pid")
  wait_ports rumqttd "$pid" 20 "$v4" "$v5" "$ws" || { tail -n 20 "$D/rumqttd.log"; return 1; }
  export WIRECHECK_RUMQTTD_URL=mqtt://127.0.0.1:$v4 WIRECHECK_RUMQTTD_V5_URL=mqtt://127.0.0.1:$v5 \
    WIRECHECK_RUMQTTD_WS_URL=ws://127.0.0.1:$ws/mqtt
}

start_amqtt() {
  local D=$RUN/amqtt tcp ws pid
  mkdir -p "$D"
  read -r tcp ws < <(free_ports 2)
  cat > "$D/amqtt.yaml" <<CONF
---
listeners:
  default:
    type: tcp
    bind: 127.0.0.1:$tcp
  ws-mqtt:
    type: ws
    bind: 127.0.0.1:$ws
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
CONF
  "$CACHE/amqtt-venv/bin/amqtt" -c "$D/amqtt.yaml" > "$D/amqtt.log" 2>&1 &
  pid=$!
  PIDS+=("amqtt $pid")
  wait_ports amqtt "$pid" 20 "$tcp" "$ws" || { tail -n 20 "$D/amqtt.log"; return 1; }
  export WIRECHECK_AMQTT_URL=mqtt://127.0.0.1:$tcp WIRECHECK_AMQTT_WS_URL=ws://127.0.0.1:$ws/mqtt
}

start_aedes() {
  local D=$RUN/aedes tcp ws pid
  mkdir -p "$D"
  read -r tcp ws < <(free_ports 2)
  cp scripts/interop/aedes-broker.mjs "$CACHE/aedes/broker.mjs"
  (cd "$CACHE/aedes" && exec node broker.mjs "$tcp" "$ws") > "$D/aedes.log" 2>&1 &
  pid=$!
  PIDS+=("aedes $pid")
  wait_ports aedes "$pid" 20 "$tcp" "$ws" || { tail -n 20 "$D/aedes.log"; return 1; }
  export WIRECHECK_AEDES_URL=mqtt://127.0.0.1:$tcp WIRECHECK_AEDES_WS_URL=ws://127.0.0.1:$ws/mqtt
}

# ---------------------------------------------------------------- main
t_start=$(now_ms)
install_missing
if [ "$serve" = 0 ]; then
  say "building wirecheck (release)"
  CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release -q
fi
WIRECHECK=${CARGO_TARGET_DIR:-$ROOT/target}/release/wirecheck

declare -A up=()
for b in "${brokers[@]}"; do
  case "$b" in
    mosquitto|ejabberd) start_scripted "$b" && up[$b]=1 || up[$b]=0 ;;
    *) "start_$b" && up[$b]=1 || up[$b]=0 ;;
  esac
done
say "listeners (must all be loopback):"
ss -ltnpH 2>/dev/null | awk '{ print "  " $4 "  " $6 }' | grep -E 'mosquitto|beam|rumqttd|amqtt|node|epmd|python' || true
if ss -ltnpH 2>/dev/null | grep -E 'mosquitto|beam|rumqttd|amqtt|node|epmd' | awk '{ print $4 }' | grep -vE '^(127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):'; then
  die "a broker listens on a non-loopback address (above); stopping"
fi

if [ "$serve" = 1 ]; then
  env | grep -E '^WIRECHECK_[A-Z0-9_]*=' | grep -vE 'PASSWORD' | sort > "$RUN/env.public"
  env | grep -E '^WIRECHECK_[A-Z0-9_]*=' | sort > "$RUN/env"
  say "serving; environment in $RUN/env (for targets/*.yaml):"
  sed 's/^/  /' "$RUN/env.public"
  say "Ctrl-C (or kill $$) stops them"
  while :; do sleep 3600 & wait $! || true; done
fi

rm -rf "$OUT"
mkdir -p "$OUT"
declare -A cases_dir=()
printf 'broker\ttransport\tversion\tprofile\tstatus\texit\tjson\n' > "$OUT/runs.tsv"
all_ok=1
while read -r kind a b c d; do
  case "$kind" in
    ''|'#'*) continue ;;
    cases) cases_dir[$a]=$b; continue ;;
    run) ;;
    *) die "$MATRIX: unknown line kind '$kind'" ;;
  esac
  broker=$a transport=$b version=$c profile=$d
  want "$broker" || continue
  row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$broker" "$transport" "$version" "$profile" "$1" "$2" "$3" >> "$OUT/runs.tsv"; }
  folder=${cases_dir[$version]:-}
  IFS=, read -r -a folders <<< "$folder"
  if [ -z "$folder" ] || [ ! -d "${folders[0]}" ]; then row "not run: no MQTT $version cases (${folder:-no folder}) yet" "" ""; continue; fi
  if [ ! -f "$profile" ]; then row "not run: no profile $profile yet" "" ""; continue; fi
  if [ "${up[$broker]:-0}" != 1 ]; then row "not run: $broker did not start" "" ""; all_ok=0; continue; fi
  json=$OUT/$broker-$transport-$version.json
  say "== $broker $transport MQTT $version ($profile, $folder)"
  rc=0
  timeout -k 10 900 "$WIRECHECK" run --target "$profile" --snapshots off --json "$json" "${folders[@]}" \
    > "$OUT/$broker-$transport-$version.log" 2>&1 || rc=$?
  grep -E '^[0-9]+ passed|^target ' "$OUT/$broker-$transport-$version.log" | sed 's/^/  /' || true
  if [ -s "$json" ]; then row ran "$rc" "${json#"$ROOT"/}"; else row "no report (exit $rc)" "$rc" ""; all_ok=0; tail -n 20 "$OUT/$broker-$transport-$version.log"; fi
done < "$MATRIX"

generate
say "done in $(( ($(now_ms) - t_start) / 1000 )) s"
[ "$all_ok" = 1 ]
