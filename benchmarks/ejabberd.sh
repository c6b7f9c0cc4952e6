#!/usr/bin/env bash
# ejabberd (Debian's package, 23.01) under the load of our relay benchmark, on this machine, so docs/benchmarks.md can
# set both systems side by side measured the same day: `sealpost-bench xmpp-relay` (XMPP over WebSocket, RFC 7395;
# XEP-0198 acks from every recipient) against a private ejabberd started from a fresh folder on loopback ports 29xxx,
# with its own node name and cookie so it cannot meet another Erlang node. On exit it is stopped and its folder removed.
#
#   benchmarks/ejabberd.sh                        # closed loop (50 pairs x 8 in flight) twice, then 1,000 msgs/s once
#   benchmarks/ejabberd.sh --haproxy              # the same through a private HAProxy in front (its CPU counted too)
#   benchmarks/ejabberd.sh [--haproxy] "--pairs 50 --inflight 8 --duration 10 --warmup 3" "--rate 1000 --duration 15"
#
# Each quoted argument is one xmpp-relay run. EJABBERD_ERL_OPTIONS adds Erlang VM flags (e.g. "+sbwt none +sbwtdcpu none
# +sbwtdio none" to stop idle schedulers spinning); by default the VM runs with the package's settings.
set -euo pipefail
cd "$(dirname "$0")/.."

HAPROXY=0
if [[ "${1:-}" == --haproxy ]]; then HAPROXY=1; shift; fi
RUNS=("$@")
if [[ ${#RUNS[@]} -eq 0 ]]; then
  RUNS=("--pairs 50 --inflight 8 --duration 10 --warmup 3" "--pairs 50 --inflight 8 --duration 10 --warmup 3"
        "--pairs 50 --rate 1000 --duration 15 --warmup 3")
fi
WS_PORT=29580 C2S_PORT=29522 PROXY_PORT=29581 DOMAIN=bench.local PASSWORD=bench-password USERS=100

if ! command -v ejabberdctl > /dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ejabberd) > /tmp/ejabberd-install.log 2>&1 \
    || { tail /tmp/ejabberd-install.log; exit 1; }
  # The package may start its own node (ports 5222, 5280, …); ours runs apart from it.
  service ejabberd stop > /dev/null 2>&1 || true
fi

# One run at a time. A run killed before its trap could run (SIGKILL) left its folder, and maybe its ejabberd and
# HAProxy: those are stopped by the pids in their pid files (when the pid is still that folder's process).
exec 9> /tmp/ejabberd-bench.lock
flock -n 9 || { echo "another benchmarks/ejabberd.sh is running"; exit 1; }
for old in /tmp/ejabberd-bench.*/; do
  [[ -d "$old" ]] || continue
  for pid in $(cat "$old/haproxy.pid" "$old/ejabberd.pid" 2> /dev/null); do
    if grep -qF "$old" "/proc/$pid/cmdline" 2> /dev/null; then kill -9 "$pid"; fi
  done
  rm -rf "$old"
done

EJ=$(mktemp -d /tmp/ejabberd-bench.XXXX)
NODE="ejabberd-bench-${EJ##*.}@localhost"
COOKIE=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
ctl() { ejabberdctl --config-dir "$EJ" --logs "$EJ/log" --spool "$EJ/spool" --node "$NODE" "$@"; }
stop_all() {
  local pid
  for pid in $(cat "$EJ/haproxy.pid" "$EJ/ejabberd.pid" 2> /dev/null); do
    kill "$pid" 2> /dev/null || continue   # the Erlang VM stops its applications on SIGTERM
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2> /dev/null || true
  done
  rm -rf "$EJ"
}
trap stop_all EXIT
mkdir -p "$EJ/log" "$EJ/spool" "$EJ/modules.d"
cp /etc/ejabberd/inetrc "$EJ/inetrc"

# ejabberdctl reads this: our node's name and cookie, the pid file, loopback-only distribution. The VM's own settings
# (schedulers, busy waiting) stay the package's unless EJABBERD_ERL_OPTIONS says otherwise.
cat > "$EJ/ejabberdctl.cfg" << EOF
ERL_OPTIONS="-setcookie $COOKIE -env ERL_CRASH_DUMP_BYTES 0 ${EJABBERD_ERL_OPTIONS:-}"
EJABBERD_PID_PATH=$EJ/ejabberd.pid
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
CONTRIB_MODULES_CONF_DIR=$EJ/modules.d
EJABBERD_BYPASS_WARNINGS=true
EOF

# What matters for a fair comparison: no shaper (traffic shaping would bind before the CPU does), queues far above the
# ~800 messages in flight, offline storage and stream management on as a real deployment has them, no TLS on loopback
# (our relay benchmark runs Sealpost over plain HTTP too), and no modules the benchmark does not use.
cat > "$EJ/ejabberd.yml" << EOF
loglevel: warning
hosts:
  - $DOMAIN
listen:
  -
    port: $C2S_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: false
  -
    port: $WS_PORT
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /ws: ejabberd_http_ws
auth_method: internal
disable_sasl_mechanisms: ["digest-md5", "x-oauth2"]
max_fsm_queue: 1000000
websocket_timeout: 3600
websocket_ping_interval: 60
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 1000000
  c2s_shaper: none
modules:
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_stream_mgmt:
    max_ack_queue: 100000
    resend_on_timeout: if_offline
  mod_disco: {}
  mod_roster: {}
EOF
chown -R ejabberd:ejabberd "$EJ"

dotnet build src/Sealpost.Bench -c Release -nologo -v quiet > "$EJ/bench-build.log" 2>&1 || { tail "$EJ/bench-build.log"; exit 1; }

ctl start 9>&-   # the daemons must not hold this run's lock
ctl started || { echo "ejabberd did not start:"; tail -20 "$EJ/log/"*.log; exit 1; }
BEAM=$(cat "$EJ/ejabberd.pid")

# One Erlang client registers every account (ejabberdctl register would start a VM per account).
erl -sname "register-${EJ##*.}@localhost" -hidden -noinput -setcookie "$COOKIE" -eval "
  R = [rpc:call('$NODE', ejabberd_auth, try_register, [list_to_binary(\"u\" ++ integer_to_list(I)), <<\"$DOMAIN\">>, <<\"$PASSWORD\">>])
       || I <- lists:seq(0, $USERS - 1)],
  case lists:usort(R) of [ok] -> halt(0); Other -> io:format(\"register: ~p~n\", [Other]), halt(1) end." \
  || { echo "registering the accounts failed"; exit 1; }

URL="ws://127.0.0.1:$WS_PORT/ws" MORE="" VIA="ejabberd's WebSocket, directly"
if [[ $HAPROXY == 1 ]]; then
  cat > "$EJ/haproxy.cfg" << EOF
global
    maxconn 9500
    pidfile $EJ/haproxy.pid
defaults
    mode http
    timeout connect 3s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend xmpp
    bind 127.0.0.1:$PROXY_PORT
    default_backend ejabberd
backend ejabberd
    server ejabberd 127.0.0.1:$WS_PORT
EOF
  haproxy -D -f "$EJ/haproxy.cfg" 9>&-
  URL="ws://127.0.0.1:$PROXY_PORT/ws" MORE="--haproxy-pids $(cat "$EJ/haproxy.pid")" VIA="HAProxy in front"
fi

B="src/Sealpost.Bench/bin/Release/net10.0/sealpost-bench xmpp-relay --url $URL --domain $DOMAIN --password $PASSWORD --pids $BEAM $MORE"
echo "== ejabberd $(dpkg-query -W -f '${Version}' ejabberd), $VIA, VM flags: ${EJABBERD_ERL_OPTIONS:-package defaults}, $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes) $(date -u +%H:%M:%S)"
for run in "${RUNS[@]}"; do
  # shellcheck disable=SC2086  # each run is a list of options
  flock /tmp/sealpost-suite.lock $B $run || echo "(exit $?)"
done
