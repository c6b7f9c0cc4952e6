# HAProxy with deploy/haproxy.cfg, for scripts/up and the test stack alike. Sourced by scripts/lib.sh.
# shellcheck shell=bash

# start_haproxy PIDFILE LOGFILE BIND STATS_BIND USERS_1 USERS_2 MESSAGES_1 MESSAGES_2: deploy/haproxy.cfg (the one
# configuration, for scripts/up and the test stack alike) in the foreground of its own session (-db, not -D, so its
# warnings, server DOWN/UP included, reach LOGFILE). Per-address limits, and the TLS bind (SEALPOST_TLS_BIND with
# SEALPOST_TLS_CERT, from make_certificate or a real one), come from the caller's environment. HAProxy drops root
# itself (to SEALPOST_SERVICE_USER) once it has read its files and bound its ports.
start_haproxy() {
  local pidfile=$1 log=$2 bind=$3 stats=$4
  SEALPOST_DEPLOY="$SEALPOST_ROOT/deploy" SEALPOST_BIND=$bind SEALPOST_STATS_BIND=$stats \
  SEALPOST_USERS_1=$5 SEALPOST_USERS_2=$6 SEALPOST_MESSAGES_1=$7 SEALPOST_MESSAGES_2=$8 \
    setsid haproxy -db -f "$SEALPOST_ROOT/deploy/haproxy.cfg" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_http "http://$stats/metrics" 15 || { say "HAProxy did not start:"; tail -n 20 "$log" >&2; return 1; }
}
