# The steps of scripts/up and scripts/down, in their order: the whole system in one state folder. Sourced by scripts/lib.sh.
# They read the settings scripts/up sets (run, port, tls_port, stats_port, prometheus_port, pg_port, redis_port, the
# arrays users_ports, messages_ports, users_management_ports and messages_management_ports, monitoring; scripts/down
# sets only run); start_instances sets the arrays users and messages (name@address) and users_management and
# messages_management (name@management address) for the steps after it.
# shellcheck shell=bash disable=SC2154 # the settings are set by scripts/up and scripts/down

# Whether an earlier scripts/up still runs here (its HAProxy is alive).
stack_is_running() {
  [ -f "$run/pids/haproxy.pid" ] && kill -0 "$(cat "$run/pids/haproxy.pid")" 2>/dev/null
}

need_stack_packages() {
  local packages=(postgresql redis-server haproxy curl openssl)
  if $monitoring; then packages+=(prometheus); fi
  need_packages "${packages[@]}"
  need_dotnet
}

need_stack_ports() {
  local ports=("$port" "$tls_port" "$stats_port" "$pg_port" "$redis_port" "${users_ports[@]}" "${messages_ports[@]}"
    "${users_management_ports[@]}" "${messages_management_ports[@]}") p
  if $monitoring; then ports+=("$prometheus_port"); fi
  for p in "${ports[@]}"; do
    if port_in_use "$p"; then say "port $p on 127.0.0.1 is taken by another program; move it (see the top of scripts/up)"; return 1; fi
  done
}

make_run_folder() {
  mkdir -p "$run/pids" "$run/logs" "$run/keys" "$run/secrets" "$run/home"
  chmod 700 "$run/secrets" "$run/keys" "$run/home"
  chmod 755 "$run"
  rm -f "$run/stack.env"
}

secret() { # NAME: the secret kept in $run/secrets/NAME, made on first use
  [ -f "$run/secrets/$1" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$run/secrets/$1")
  cat "$run/secrets/$1"
}

# As root, everything but PostgreSQL runs as SEALPOST_SERVICE_USER (sealpost unless set), which must reach $run.
use_service_user() {
  is_root || return 0
  export SEALPOST_SERVICE_USER=${SEALPOST_SERVICE_USER:-sealpost}
  ensure_service_user "$SEALPOST_SERVICE_USER"
  setpriv --reuid="$SEALPOST_SERVICE_USER" --regid="$(id -g "$SEALPOST_SERVICE_USER")" --init-groups -- test -x "$run" || {
    say "the account $SEALPOST_SERVICE_USER cannot reach $run (a folder above it is private): set SEALPOST_RUN to a folder it can reach, e.g. /var/tmp/sealpost"
    return 1
  }
  give_to_service "$run/keys" "$run/home"
}

# Both services in Release, unless SEALPOST_NO_BUILD=1 (the tests, which have built already).
build_services() {
  local project
  [ "${SEALPOST_NO_BUILD:-}" != 1 ] || return 0
  say "building…"
  for project in Sealpost.Users Sealpost.Messages; do
    dotnet build "$SEALPOST_ROOT/src/$project" -c Release -nologo -v quiet >"$run/logs/build.log" 2>&1 \
      || { tail -n 30 "$run/logs/build.log" >&2; return 1; }
  done
}

# Each service its own role and database: the users service cannot read mailboxes, nor the messages service accounts.
start_stack_postgres() {
  local pg_password users_db_password messages_db_password
  pg_password=$(secret pg-password)
  start_postgres "$run/pg" "$pg_port" "$pg_password"
  users_db_password=$(secret pg-users-password)
  messages_db_password=$(secret pg-messages-password)
  provision_database "$pg_port" "$pg_password" sealpost_users sealpost_users "$users_db_password"
  provision_database "$pg_port" "$pg_password" sealpost_messages sealpost_messages "$messages_db_password"
}

start_stack_redis() {
  local redis_password
  redis_password=$(secret redis-password)
  start_redis "$run/redis" "$redis_port" "$redis_password"
}

# The services run from a copy of their build in $run/app: readable by the service account wherever the clone is, and
# a rebuild while they run does not change their files under them.
copy_services_to_run() {
  local project
  rm -rf "$run/app"
  mkdir -p "$run/app"
  for project in Sealpost.Users Sealpost.Messages; do cp -a "$SEALPOST_ROOT/src/$project/bin/Release/net10.0" "$run/app/$project"; done
  cp -a "$SEALPOST_ROOT/src/Sealpost.Web/dist" "$run/app/web"
}

# NAME PROJECT PORT MANAGEMENT_PORT, configured by the caller's environment: the service on PORT (behind HAProxy),
# /metrics and /readyz on MANAGEMENT_PORT only (Management:Url).
start_instance() {
  local name=$1 project=$2 service_port=$3 management_port=$4
  (
    cd "$run/app/$project" || exit
    HOME=$run/home Management__Url="http://127.0.0.1:$management_port" service_exec dotnet "$project.dll" --urls "http://127.0.0.1:$service_port"
  ) >>"$run/logs/$name.log" 2>&1 &
  echo $! >"$run/pids/$name.pid"
}

# All four at once: migrations run under an advisory lock and the signing key is created atomically, so instances
# that race are safe (the tests start them together on purpose).
start_instances() {
  local redis users_db_password messages_db_password i
  users_db_password=$(secret pg-users-password)
  messages_db_password=$(secret pg-messages-password)
  redis="127.0.0.1:$redis_port,password=$(secret redis-password)"
  users=() messages=() users_management=() messages_management=()
  for i in "${!users_ports[@]}"; do
    Database__ConnectionString="Host=127.0.0.1;Port=$pg_port;Username=sealpost_users;Password=$users_db_password;Database=sealpost_users" \
    Tokens__SigningKeyPath="$run/keys/token-signing.pem" Redis__Configuration="$redis" WebPage__Root="$run/app/web" \
    Registrations__PerAddressPerHour="${SEALPOST_REGISTRATIONS_PER_HOUR:-20}" \
      start_instance "users$((i + 1))" Sealpost.Users "${users_ports[$i]}" "${users_management_ports[$i]}"
    users+=("users$((i + 1))@127.0.0.1:${users_ports[$i]}")
    users_management+=("users$((i + 1))@127.0.0.1:${users_management_ports[$i]}")
  done
  for i in "${!messages_ports[@]}"; do
    # Users__BaseUrl through HAProxy, so a users instance going down does not take lookups and JWKS with it.
    # The web page's origin may open sockets.
    Database__ConnectionString="Host=127.0.0.1;Port=$pg_port;Username=sealpost_messages;Password=$messages_db_password;Database=sealpost_messages" \
    Redis__Configuration="$redis" \
    Users__BaseUrl="http://127.0.0.1:$port/" \
    Sockets__AllowedOrigins__0="http://127.0.0.1:$port" Sockets__AllowedOrigins__1="http://localhost:$port" \
    Sockets__AllowedOrigins__2="https://127.0.0.1:$tls_port" Sockets__AllowedOrigins__3="https://localhost:$tls_port" \
      start_instance "messages$((i + 1))" Sealpost.Messages "${messages_ports[$i]}" "${messages_management_ports[$i]}"
    messages+=("messages$((i + 1))@127.0.0.1:${messages_ports[$i]}")
    messages_management+=("messages$((i + 1))@127.0.0.1:${messages_management_ports[$i]}")
  done
}

wait_for_instances() {
  local instance
  for instance in "${users_management[@]}" "${messages_management[@]}"; do
    wait_http "http://${instance#*@}/readyz" 90 || { say "${instance%@*} did not start:"; tail -n 30 "$run/logs/${instance%@*}.log" >&2; return 1; }
  done
}

# HAProxy on $port, and HTTPS on $tls_port with a certificate of its own making in $run/tls.
start_stack_haproxy() {
  make_certificate "$run/tls"
  export SEALPOST_TLS_BIND="127.0.0.1:$tls_port" SEALPOST_TLS_CERT="$run/tls/haproxy.pem"
  start_haproxy "$run/pids/haproxy.pid" "$run/logs/haproxy.log" "127.0.0.1:$port" "127.0.0.1:$stats_port" \
    "127.0.0.1:${users_ports[0]}" "127.0.0.1:${users_ports[1]}" "127.0.0.1:${messages_ports[0]}" "127.0.0.1:${messages_ports[1]}"
  wait_http "http://127.0.0.1:$port/.well-known/jwks.json" 30 || { say "HAProxy does not answer on $port"; return 1; }
}

start_stack_prometheus() {
  start_prometheus "$run/prometheus" "$prometheus_port" "$run/pids/prometheus.pid" \
    "users=${users_management[*]}" "messages=${messages_management[*]}" "haproxy=haproxy@127.0.0.1:$stats_port" "prometheus=prometheus@127.0.0.1:$prometheus_port"
}

# The one record of what runs where; written last, so a reader that finds it finds everything answering.
write_stack_env() {
  {
    echo "# Written by scripts/up: what it started. key=value, one a line; lists are separated by spaces, instances are name@address."
    echo "url=http://127.0.0.1:$port/"
    echo "tls_url=https://127.0.0.1:$tls_port/"
    echo "tls_certificate=$run/tls/cert.pem"
    echo "users=${users[*]}"
    echo "messages=${messages[*]}"
    echo "users_management=${users_management[*]}"
    echo "messages_management=${messages_management[*]}"
    echo "haproxy_stats=127.0.0.1:$stats_port"
    if $monitoring; then echo "prometheus=http://127.0.0.1:$prometheus_port/"; fi
    echo "postgres=127.0.0.1:$pg_port"
    echo "postgres_user=sealpost"
    echo "postgres_password_file=$run/secrets/pg-password"
    echo "redis=127.0.0.1:$redis_port"
    echo "redis_password_file=$run/secrets/redis-password"
    echo "logs=$run/logs"
    echo "pids_haproxy=$run/pids/haproxy.pid"
    echo "pids_users=$(for i in "${!users[@]}"; do printf '%s ' "$run/pids/users$((i + 1)).pid"; done | sed 's/ $//')"
    echo "pids_messages=$(for i in "${!messages[@]}"; do printf '%s ' "$run/pids/messages$((i + 1)).pid"; done | sed 's/ $//')"
    echo "pids_postgres=$run/pg/postmaster.pid"
    echo "pids_redis=$run/redis/redis.pid"
    if $monitoring; then echo "pids_prometheus=$run/pids/prometheus.pid"; fi
  } >"$run/stack.env.tmp"
  mv "$run/stack.env.tmp" "$run/stack.env"
}

# What runs where, and what to do next (on standard output).
print_addresses() {
  cat <<MSG
Sealpost is up. Open http://127.0.0.1:$port/ in a browser to create an account and send a first message.
  http://127.0.0.1:$port          HAProxy: REST /v1/accounts, /v1/sessions; WebSocket /v1/ws
  https://127.0.0.1:$tls_port         the same over TLS; certificate $run/tls/cert.pem
                                  SHA-256 $(certificate_fingerprint "$run/tls/cert.pem")
                                  (sealpost --server https://127.0.0.1:$tls_port --server-certificate $run/tls/cert.pem …)
  users     127.0.0.1:${users_ports[0]}, 127.0.0.1:${users_ports[1]}      (management: 127.0.0.1:${users_management_ports[0]}, 127.0.0.1:${users_management_ports[1]})
  messages  127.0.0.1:${messages_ports[0]}, 127.0.0.1:${messages_ports[1]}      (management: 127.0.0.1:${messages_management_ports[0]}, 127.0.0.1:${messages_management_ports[1]})
            /metrics and /readyz answer on the management addresses only; /healthz on both
  haproxy   http://127.0.0.1:$stats_port/stats  (metrics: /metrics)
  postgres  127.0.0.1:$pg_port (superuser sealpost, password in $run/secrets/pg-password; the services log in as
            sealpost_users and sealpost_messages, each to its own database)
  redis     127.0.0.1:$redis_port (password in $run/secrets/redis-password)
  logs      $run/logs/     state: $run/stack.env
MSG
  if $monitoring; then
    echo "  prometheus http://127.0.0.1:$prometheus_port/graph   alerts: /alerts, targets: /targets (docs/operations.md, \"What to watch\")"
  fi
  cat <<MSG

Next: build the sealpost command and follow "Using it" in README.md:
  dotnet build src/Sealpost.Cli -c Release
  alias sealpost="dotnet $SEALPOST_ROOT/src/Sealpost.Cli/bin/Release/net10.0/sealpost.dll"
  sealpost register alice
MSG
  if [ "$port" != 8080 ]; then
    echo "  (this system is on port $port: add --server http://127.0.0.1:$port or export SEALPOST_SERVER=http://127.0.0.1:$port)"
  fi
}

# Until HAProxy ends; Ctrl-C stops everything.
stay_in_foreground() {
  say "Ctrl-C stops everything."
  trap 'SEALPOST_RUN=$run "$SEALPOST_ROOT/scripts/down"; exit 0' INT TERM
  while kill -0 "$(cat "$run/pids/haproxy.pid")" 2>/dev/null; do sleep 1; done
}

# HAProxy first, so no new request reaches an instance on its way out; then the instances and Prometheus side by side,
# not one after another (each stop waits for its process to end: in parallel that takes as long as the slowest); then
# the stores, once no instance is left to flush into them.
stop_stack() {
  local f
  stop_pidfile "$run/pids/haproxy.pid"
  for f in "$run"/pids/*.pid; do
    [ -e "$f" ] && stop_pidfile "$f" &
  done
  wait
  stop_pidfile "$run/redis/redis.pid" &
  [ -d "$run/pg" ] && stop_postgres "$run/pg" &
  wait
  rm -f "$run/stack.env"
}
