# The steps of scripts/cluster: Sealpost on several simulated hosts (Linux network namespaces on one bridge) on this
# one machine. Sourced by scripts/lib.sh. The layout is fixed (docs/operations.md, "On several hosts"):
#   svc1..3  10.77.0.11-13  etcd, Patroni members, two Redis Cluster nodes (7001, 7002), users :5101, messages :5201
#   edge1..2 10.77.0.21-22  HAProxy (deploy/haproxy.cfg) on *:8080 and keepalived sharing 10.77.0.100
#   mon      10.77.0.30     Prometheus :9090 and prometheus-redis-exporter :9121
# The root namespace is 10.77.0.1 on the bridge sp-br0: the operator's (and the tests') machine. No namespace has a
# default route: traffic stays on 10.77.0.0/24 and loopback.
# Every step reads `state` (the state folder; `run`, which secret and build_services read, is the same folder).
# shellcheck shell=bash disable=SC2154 # state is set by scripts/cluster

cluster_bridge=sp-br0
cluster_prefix=10.77.0
cluster_vip=$cluster_prefix.100
cluster_hosts=(svc1 svc2 svc3 edge1 edge2 mon)
cluster_svc=(svc1 svc2 svc3)
cluster_edges=(edge1 edge2)
declare -A cluster_address=([svc1]=11 [svc2]=12 [svc3]=13 [edge1]=21 [edge2]=22 [mon]=30)
# Patroni scopes: members (two hosts each, so each service host carries two), PostgreSQL port, REST port, database, role.
cluster_scopes=(users mbox1 mbox2)
declare -A scope_hosts=([users]="svc1 svc2" [mbox1]="svc2 svc3" [mbox2]="svc3 svc1")
declare -A scope_pg_port=([users]=5432 [mbox1]=5433 [mbox2]=5434)
declare -A scope_rest_port=([users]=8008 [mbox1]=8009 [mbox2]=8010)
declare -A scope_database=([users]=sealpost_users [mbox1]=sealpost_messages [mbox2]=sealpost_messages)
# Patroni's etcd API. etcd3 is what Patroni recommends, but Debian 12's Patroni 3.0.2 writes the leader key
# unconditionally when its lease changed (patroni/dcs/etcd3.py, _update_leader): an old primary back from isolation,
# whose cached view still names itself, takes the lock back from the member promoted meanwhile and the two histories
# diverge (seen here: `isolate` then `heal` of the leader's host). The v2 API (etcd 3.4 with --enable-v2) updates the
# key with compare-and-swap on its value, which refuses that. SEALPOST_PATRONI_DCS=etcd3 chooses etcd3 (on a new state
# folder: the two keep separate key spaces).
cluster_patroni_dcs=${SEALPOST_PATRONI_DCS:-etcd}
cluster_redis_ports=(7001 7002)
cluster_users_port=5101
cluster_messages_port=5201
cluster_stats_port=58404
cluster_prometheus_port=9090
cluster_exporter_port=9121

addr() { echo "$cluster_prefix.${cluster_address[$1]}"; }   # HOST: its address
ns() { echo "sp-$1"; }                                       # HOST: its network namespace (and the root side of its veth)
host_dir() { echo "$state/hosts/$1"; }

# The processes a host runs, by name (each has a pid file HOST/pids/NAME.pid), in the order they start.
host_processes() {
  local host=$1 scope
  case $host in
    svc*)
      printf '%s ' etcd
      for scope in "${cluster_scopes[@]}"; do
        [[ " ${scope_hosts[$scope]} " == *" $host "* ]] && printf '%s ' "patroni-$scope"
      done
      printf '%s\n' redis-7001 redis-7002 users messages ;;
    edge*) echo haproxy keepalived ;;
    mon) echo prometheus redis-exporter ;;
  esac
}

# The multi-host connection string of a scope's members (the services find the primary themselves).
scope_hosts_string() {
  local scope=$1 host list=()
  for host in ${scope_hosts[$scope]}; do list+=("$(addr "$host"):${scope_pg_port[$scope]}"); done
  (IFS=,; echo "${list[*]}")
}

redis_nodes() { local h p; for p in "${cluster_redis_ports[@]}"; do for h in "${cluster_svc[@]}"; do printf '%s:%s ' "$(addr "$h")" "$p"; done; done | sed 's/ $//'; }

need_cluster_packages() {
  need_packages postgresql redis-server redis-tools haproxy curl openssl prometheus patroni etcd-server etcd-client \
    keepalived python3-psycopg2 prometheus-redis-exporter iproute2 jq
  need_dotnet
}

# The state folder, reachable (not writable) by the service account and postgres; secrets stay private.
make_cluster_folder() {
  local host
  # keys/ and home/ are use_service_user's (shared with scripts/up); each host has its own below hosts/.
  mkdir -p "$state/secrets" "$state/logs" "$state/hosts" "$state/keys" "$state/home"
  chmod 755 "$state" "$state/hosts"
  chmod 700 "$state/secrets"
  for host in "${cluster_hosts[@]}"; do
    mkdir -p "$(host_dir "$host")/pids" "$(host_dir "$host")/logs"
    chmod 755 "$(host_dir "$host")"
  done
  rm -f "$state/cluster.env"
}

# --- the network ------------------------------------------------------------------------------------------------

# The bridge in the root namespace (10.77.0.1) and, per host, a namespace with lo up and a veth on the bridge.
network_up() {
  local host
  if ! ip link show "$cluster_bridge" >/dev/null 2>&1; then
    ip link add "$cluster_bridge" type bridge
    ip addr add "$cluster_prefix.1/24" dev "$cluster_bridge"
  fi
  ip link set "$cluster_bridge" up
  for host in "${cluster_hosts[@]}"; do host_network_up "$host"; done
}

host_network_up() {
  local host=$1 n
  n=$(ns "$host")
  ip netns list | grep -qw "^$n" || ip netns add "$n"
  if ! ip link show "$n" >/dev/null 2>&1; then
    ip link add "$n" type veth peer name eth0 netns "$n"
    ip -n "$n" addr add "$(addr "$host")/24" dev eth0
  fi
  ip link set "$n" master "$cluster_bridge"
  ip link set "$n" up
  ip -n "$n" link set lo up
  ip -n "$n" link set eth0 up
}

# Every sp-* namespace's processes killed, the namespaces, their veths and the bridge removed.
network_down() {
  local n
  for n in $(ip netns list | awk '{print $1}' | grep '^sp-'); do
    ip netns pids "$n" | xargs -r kill -KILL 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  for n in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^sp-'); do ip link del "$n" 2>/dev/null; done
  true
}

link_state() { ip -br link show "$(ns "$1")" 2>/dev/null | awk '{print $2}' | grep -q '^UP' && echo up || echo down; }

# --- processes ------------------------------------------------------------------------------------------------

# in_host HOST ACCOUNT LOG NAME CMD…: CMD in HOST's namespace, as ACCOUNT (root: as is), in the background in a session
# of its own, its output appended to HOST/logs/LOG; its pid (the command's own: setsid and setpriv exec) in HOST/pids/NAME.pid.
in_host() {
  local host=$1 account=$2 log=$3 name=$4
  shift 4
  local drop=()
  [ "$account" = root ] || drop=(setpriv --reuid="$account" --regid="$(id -g "$account")" --init-groups --)
  setsid ip netns exec "$(ns "$host")" "${drop[@]}" "$@" >>"$(host_dir "$host")/logs/$log.log" 2>&1 </dev/null &
  echo $! >"$(host_dir "$host")/pids/$name.pid"
}

is_running() { # HOST NAME
  local pidfile pid
  pidfile="$(host_dir "$1")/pids/$2.pid"
  # A killed process has left its namespace before its parent (init, here) reaps it: a zombie is not running.
  [ -f "$pidfile" ] && pid=$(cat "$pidfile") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]
}

# Starts whatever of HOST is not running (after a kill, an isolation or a first start).
start_host() {
  local host=$1 name
  for name in $(host_processes "$host"); do
    is_running "$host" "$name" && continue
    rm -f "$(host_dir "$host")/pids/$name.pid"
    case $name in
      etcd) start_etcd "$host" ;;
      patroni-*) start_patroni "$host" "${name#patroni-}" ;;
      redis-exporter) start_redis_exporter ;;
      redis-*) start_redis_node "$host" "${name#redis-}" ;;
      users) start_cluster_users "$host" ;;
      messages) start_cluster_messages "$host" ;;
      haproxy) start_edge_haproxy "$host" ;;
      keepalived) start_keepalived "$host" ;;
      prometheus) start_cluster_prometheus ;;
    esac
  done
}

# kill -9 every process in HOST's namespace, and wait until they are gone. A dead machine answers for no address,
# so the virtual address keepalived (killed, it cannot clean up) left on an edge goes too.
kill_host() {
  local host=$1
  for _ in $(seq 50); do
    [ -n "$(ip netns pids "$(ns "$host")" 2>/dev/null)" ] || break
    ip netns pids "$(ns "$host")" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    sleep 0.1
  done
  drop_vip "$host"
}

drop_vip() { ip -n "$(ns "$1")" addr del "$cluster_vip/24" dev eth0 2>/dev/null || true; }

# Stops HOST's processes politely (last started first), then whatever is left in its namespace.
stop_host() {
  local host=$1 names name
  read -r -a names <<<"$(host_processes "$host")"
  for ((i = ${#names[@]} - 1; i >= 0; i--)); do
    name=${names[$i]}
    case $name in
      patroni-*) stop_pidfile_slowly "$(host_dir "$host")/pids/$name.pid" 40 ;;
      *) stop_pidfile "$(host_dir "$host")/pids/$name.pid" ;;
    esac
  done
  kill_host "$host"
}

# stop_pidfile_slowly FILE SECONDS: as stop_pidfile, with longer to finish (Patroni stops PostgreSQL first).
stop_pidfile_slowly() {
  local file=$1 seconds=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# --- etcd -------------------------------------------------------------------------------------------------------

# One member of the three-member etcd cluster (Patroni's DCS); its data stays in HOST/etcd, so it rejoins by itself.
# --pre-vote: a member that was cut off rejoins without forcing an election (which would cost every Patroni its lock).
start_etcd() {
  local host=$1 a initial=() h
  a=$(addr "$host")
  for h in "${cluster_svc[@]}"; do initial+=("$h=http://$(addr "$h"):2380"); done
  mkdir -p "$(host_dir "$host")/etcd"
  chmod 700 "$(host_dir "$host")/etcd"
  give_to_service "$(host_dir "$host")/etcd"
  in_host "$host" "$SEALPOST_SERVICE_USER" etcd etcd etcd --name "$host" --data-dir "$(host_dir "$host")/etcd" \
    --listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
    --listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
    --initial-cluster "$(IFS=,; echo "${initial[*]}")" --initial-cluster-state new --initial-cluster-token sealpost \
    --heartbeat-interval 100 --election-timeout 1000 --pre-vote --enable-v2
}

etcd_endpoints() { local h; for h in "${cluster_svc[@]}"; do printf 'http://%s:2379,' "$(addr "$h")"; done | sed 's/,$//'; }

wait_etcd() {
  for _ in $(seq 300); do
    ETCDCTL_API=3 etcdctl --endpoints "$(etcd_endpoints)" --dial-timeout 1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  say "etcd did not come up:"; tail -n 20 "$(host_dir svc1)/logs/etcd.log" >&2; return 1
}

# --- PostgreSQL under Patroni -----------------------------------------------------------------------------------

# Patroni's configuration for SCOPE's member on HOST (0600, postgres's): etcd3, synchronous mode, fast failover
# (loop_wait + 2 × retry_timeout <= ttl), pg_rewind so a cut-off old primary rejoins as a replica by itself, and
# scram-sha-256 from 10.77.0.0/24 only.
write_patroni_config() {
  local host=$1 scope=$2 a dir
  a=$(addr "$host")
  dir=$(host_dir "$host")/pg
  mkdir -p "$dir/$scope" "$dir/run-$scope"
  chown postgres:postgres "$dir" "$dir/$scope" "$dir/run-$scope"
  chmod 700 "$dir/$scope"
  chmod 755 "$dir"
  (umask 077; cat >"$dir/patroni-$scope.yml" <<YAML
scope: $scope
namespace: /sealpost/
name: $scope-$host
restapi:
  listen: $a:${scope_rest_port[$scope]}
  connect_address: $a:${scope_rest_port[$scope]}
$cluster_patroni_dcs:
  hosts: $(for h in "${cluster_svc[@]}"; do printf '%s:2379,' "$(addr "$h")"; done | sed 's/,$//')
watchdog:
  mode: off
bootstrap:
  dcs:
    ttl: 12
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        max_wal_senders: 5
        max_replication_slots: 5
        wal_level: replica
        wal_log_hints: "on"
        hot_standby: "on"
        wal_keep_size: 128MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: $a:${scope_pg_port[$scope]}
  connect_address: $a:${scope_pg_port[$scope]}
  data_dir: $dir/$scope
  bin_dir: $(pg_bindir)
  pgpass: $dir/run-$scope/pgpass
  use_unix_socket: true
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  authentication:
    superuser:
      username: postgres
      password: $(secret pg-superuser-password)
    replication:
      username: replicator
      password: $(secret pg-replication-password)
    rewind:
      username: rewinder
      password: $(secret pg-rewind-password)
  parameters:
    unix_socket_directories: $dir/run-$scope
    shared_buffers: 32MB
    password_encryption: scram-sha-256
    # A primary cut off from its standby must still stop quickly when Patroni demotes it: a shutdown waits for each
    # walsender to have its WAL confirmed, for as long as this (60 s by default), and the old postmaster would hold
    # the port and data directory while Patroni tries to rewind it.
    wal_sender_timeout: 5s
    wal_receiver_timeout: 5s
  pg_hba:
    - local all postgres peer
    - local all all scram-sha-256
    - host replication replicator $cluster_prefix.0/24 scram-sha-256
    - host all all $cluster_prefix.0/24 scram-sha-256
YAML
  )
  chown postgres:postgres "$dir/patroni-$scope.yml"
}

start_patroni() {
  local host=$1 scope=$2
  write_patroni_config "$host" "$scope"
  in_host "$host" postgres "patroni-$scope" "patroni-$scope" patroni "$(host_dir "$host")/pg/patroni-$scope.yml"
}

# scope_leader SCOPE: the address:pgport of the member that is primary now (Patroni's REST /primary says 200), or nothing.
scope_leader() {
  local scope=$1 h
  for h in ${scope_hosts[$scope]}; do
    if curl -fsS -o /dev/null --max-time 1 "http://$(addr "$h"):${scope_rest_port[$scope]}/primary" 2>/dev/null; then
      echo "$(addr "$h"):${scope_pg_port[$scope]}"; return 0
    fi
  done
  return 1
}

wait_scope_leader() { # SCOPE SECONDS
  local leader
  for _ in $(seq $(($2 * 2))); do leader=$(scope_leader "$1") && { echo "$leader"; return 0; }; sleep 0.5; done
  say "no leader for $1:"; tail -n 20 "$(host_dir "${scope_hosts[$1]%% *}")/logs/patroni-$1.log" >&2; return 1
}

# The database and role of each scope, on its leader (provision_database's SQL, reached over the bridge as postgres).
provision_scopes() {
  local scope leader
  for scope in "${cluster_scopes[@]}"; do
    leader=$(wait_scope_leader "$scope" 180) || return 1
    SEALPOST_PG_HOST=${leader%:*} SEALPOST_PG_ADMIN=postgres \
      provision_database "${leader#*:}" "$(secret pg-superuser-password)" "${scope_database[$scope]}" "${scope_database[$scope]}" \
      "$(secret "pg-${scope_database[$scope]#sealpost_}-password")" || { say "could not provision $scope on $leader"; return 1; }
  done
}

# Until every scope's other member streams as a replica (say so after SECONDS, do not fail: the primary works alone).
wait_scope_replicas() {
  local scope h ok
  for scope in "${cluster_scopes[@]}"; do
    ok=false
    for _ in $(seq $(($1 * 2))); do
      for h in ${scope_hosts[$scope]}; do
        curl -fsS -o /dev/null --max-time 1 "http://$(addr "$h"):${scope_rest_port[$scope]}/replica" 2>/dev/null && ok=true
      done
      $ok && break
      sleep 0.5
    done
    $ok || say "warning: $scope has no replica yet (see the hosts' logs/patroni-$scope.log)"
  done
}

# --- Redis Cluster ----------------------------------------------------------------------------------------------

# One Redis Cluster node: password in a 0600 configuration file, nodes.conf kept in the state folder so a restarted
# node rejoins; nothing else persisted (Redis carries wake-ups only).
start_redis_node() {
  local host=$1 port=$2 dir password
  dir=$(host_dir "$host")/redis-$port
  password=$(secret redis-password)
  mkdir -p "$dir"
  (umask 077; cat >"$dir/redis.conf" <<CONF
port $port
bind $(addr "$host")
protected-mode no
daemonize no
cluster-enabled yes
cluster-config-file $dir/nodes.conf
cluster-node-timeout 2000
cluster-replica-validity-factor 0
requirepass $password
masterauth $password
save ""
appendonly no
dir $dir
CONF
  )
  give_to_service "$dir"
  in_host "$host" "$SEALPOST_SERVICE_USER" "redis-$port" "redis-$port" redis-server "$dir/redis.conf"
}

rcli() { REDISCLI_AUTH=$(secret redis-password) redis-cli --no-auth-warning "$@"; }   # redis-cli with the password from the environment

wait_redis_nodes() {
  local node
  for node in $(redis_nodes); do
    for _ in $(seq 100); do rcli -h "${node%:*}" -p "${node#*:}" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  done
}

# Creates the cluster once (masters on each host's 7001, replicas on 7002), then makes sure no master's replica lives
# on the master's own host (redis-cli usually gets it right; CLUSTER REPLICATE fixes it when not).
make_redis_cluster() {
  local known
  known=$(rcli -h "$(addr svc1)" -p 7001 cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
  if [ "${known:-1}" -lt 6 ]; then
    say "creating the Redis cluster…"
    # shellcheck disable=SC2046
    rcli --cluster create $(redis_nodes) --cluster-replicas 1 --cluster-yes >"$state/logs/redis-cluster-create.log" 2>&1 \
      || { cat "$state/logs/redis-cluster-create.log" >&2; return 1; }
    sleep 2
  fi
  fix_redis_placement
  wait_redis_cluster_ok 60
  rebalance_redis_masters
}

# Each replica whose master runs on the same host is moved to a master on the next host that has no replica elsewhere.
fix_redis_placement() {
  local line id addr role master hostof masters
  declare -A host_of=() master_of=()
  local nodes
  nodes=$(rcli -h "$(addr svc1)" -p 7001 cluster nodes 2>/dev/null | tr -d '\r')
  while read -r id addr role master _; do
    [ -n "$id" ] || continue
    host_of[$id]=${addr%%:*}
    case $role in *slave*) master_of[$id]=$master ;; esac
  done <<<"$nodes"
  for id in "${!master_of[@]}"; do
    master=${master_of[$id]}
    [ "${host_of[$id]}" = "${host_of[$master]:-}" ] || continue
    # A master on another host: the one whose host differs and has the fewest replicas off its host.
    masters=$(awk '/master/ && !/fail/ {print $1, $2}' <<<"$nodes")
    while read -r line hostof; do
      hostof=${hostof%%:*}
      [ "$hostof" != "${host_of[$id]}" ] || continue
      local taken=false r
      for r in "${!master_of[@]}"; do [ "${master_of[$r]}" = "$line" ] && [ "${host_of[$r]}" != "$hostof" ] && taken=true; done
      $taken && continue
      say "moving Redis replica ${host_of[$id]} off its master's host"
      local port
      port=$(awk -v id="$id" '$1 == id {print $2}' <<<"$nodes" | cut -d@ -f1 | cut -d: -f2)
      rcli -h "${host_of[$id]}" -p "$port" cluster replicate "$line" >/dev/null
      master_of[$id]=$line
      break
    done <<<"$masters"
  done
}

# One master per service host again after a failover moved a second one onto a host (losing that host would then
# take a majority of the masters, and the cluster with it): a replica on a host without a master takes over
# (CLUSTER FAILOVER, coordinated with its master) from a master on a host that has two.
rebalance_redis_masters() {
  local nodes id a flags master rest h
  declare -A host_of=() masters_on=() master_of=() port_of=()
  for h in "${cluster_svc[@]}"; do
    nodes=$(rcli -h "$(addr "$h")" -p 7001 cluster nodes 2>/dev/null | tr -d '\r') && [ -n "$nodes" ] && break
  done
  [ -n "${nodes:-}" ] || return 0
  while read -r id a flags master rest; do
    [ -n "$id" ] || continue
    [[ $flags == *fail* ]] && continue
    host_of[$id]=${a%%:*}
    a=${a%%@*}; port_of[$id]=${a##*:}
    if [[ $flags == *master* ]]; then masters_on[${host_of[$id]}]=$((${masters_on[${host_of[$id]}]:-0} + 1)); else master_of[$id]=$master; fi
  done <<<"$nodes"
  for id in "${!master_of[@]}"; do
    master=${master_of[$id]}
    [ "${masters_on[${host_of[$id]}]:-0}" = 0 ] && [ "${masters_on[${host_of[$master]:-none}]:-0}" -ge 2 ] || continue
    say "Redis: ${host_of[$id]}:${port_of[$id]} takes over as master (its master's host had two)"
    rcli -h "${host_of[$id]}" -p "${port_of[$id]}" cluster failover >/dev/null 2>&1 || continue
    masters_on[${host_of[$id]}]=1
    masters_on[${host_of[$master]}]=$((${masters_on[${host_of[$master]}]} - 1))
  done
}

wait_redis_cluster_ok() {
  for _ in $(seq $(($1 * 5))); do
    rcli -h "$(addr svc1)" -p 7001 cluster info 2>/dev/null | grep -q 'cluster_state:ok' && return 0
    sleep 0.2
  done
  say "the Redis cluster is not ok:"; rcli -h "$(addr svc1)" -p 7001 cluster info >&2; return 1
}

# --- the services -------------------------------------------------------------------------------------------------

# One env file per instance (HOST/users.env, HOST/messages.env, 0600): KEY=VALUE lines, read at each start, so a
# restart uses the current settings and a later step (a new mailbox cluster) can rewrite them.
# The users instances here see the edge's address, not the client's (they trust X-Forwarded-For from loopback only), so
# their own per-address registration limit would be one limit for every client of an edge: it stays lifted unless
# SEALPOST_REGISTRATIONS_PER_HOUR says otherwise, and the edges' HAProxy limits each client.
write_env_files() {
  local host redis users_cs mbox1_cs mbox2_cs dir
  redis="$(redis_nodes | tr ' ' ','),password=$(secret redis-password)"
  users_cs="Host=$(scope_hosts_string users);Target Session Attributes=primary;Host Recheck Seconds=2;Timeout=3;Username=sealpost_users;Password=$(secret pg-users-password);Database=sealpost_users"
  mbox1_cs="Host=$(scope_hosts_string mbox1);Target Session Attributes=primary;Host Recheck Seconds=2;Timeout=3;Username=sealpost_messages;Password=$(secret pg-messages-password);Database=sealpost_messages"
  mbox2_cs="Host=$(scope_hosts_string mbox2);Target Session Attributes=primary;Host Recheck Seconds=2;Timeout=3;Username=sealpost_messages;Password=$(secret pg-messages-password);Database=sealpost_messages"
  for host in "${cluster_svc[@]}"; do
    dir=$(host_dir "$host")
    mkdir -p "$dir/keys" "$dir/home"
    chmod 700 "$dir/keys" "$dir/home"
    give_to_service "$dir/keys" "$dir/home"
    (umask 077
     cat >"$dir/users.env.tmp" <<ENV
Database__ConnectionString=$users_cs
Database__CreateIfMissing=false
Redis__Configuration=$redis
Tokens__SigningKeyPath=$dir/keys/token-signing.pem
WebPage__Root=$state/app/web
Registrations__PerAddressPerHour=${SEALPOST_REGISTRATIONS_PER_HOUR:-1000000}
ENV
     cat >"$dir/messages.env.tmp" <<ENV
Database__ConnectionString=$mbox1_cs
Database__CreateIfMissing=false
Mailboxes__Clusters__0__Name=mbox1
Mailboxes__Clusters__0__ConnectionString=$mbox1_cs
Mailboxes__Clusters__0__Shards=0-31
Mailboxes__Clusters__1__Name=mbox2
Mailboxes__Clusters__1__ConnectionString=$mbox2_cs
Mailboxes__Clusters__1__Shards=32-63
Redis__Configuration=$redis
Users__BaseUrl=http://$cluster_vip:8080/
Sockets__AllowedOrigins__0=http://$cluster_vip:8080
Sockets__AllowedOrigins__1=https://$cluster_vip:8443
Sockets__DegradedPollInterval=00:00:01
ENV
    )
    mv "$dir/users.env.tmp" "$dir/users.env"
    mv "$dir/messages.env.tmp" "$dir/messages.env"
  done
}

# start_instance_on HOST NAME PROJECT PORT: the service from $state/app, as the service account, its settings from
# HOST/NAME.env (read here, as root: the file stays 0600).
start_instance_on() {
  local host=$1 name=$2 project=$3 port=$4 dir
  dir=$(host_dir "$host")
  (
    cd "$state/app/$project" || exit 1
    while IFS= read -r line; do [ -n "$line" ] && export "${line?}"; done <"$dir/$name.env"
    export HOME=$dir/home DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
    in_host "$host" "$SEALPOST_SERVICE_USER" "$name" "$name" dotnet "$project.dll" --urls "http://$(addr "$host"):$port"
  )
}

# One signing key for all: the first users instance makes it; the others get a copy in their own host's folder.
share_signing_key() {
  local host source=""
  for host in "${cluster_svc[@]}"; do
    [ -s "$(host_dir "$host")/keys/token-signing.pem" ] && { source=$(host_dir "$host")/keys/token-signing.pem; break; }
  done
  [ -n "$source" ] || return 1
  for host in "${cluster_svc[@]}"; do
    [ -s "$(host_dir "$host")/keys/token-signing.pem" ] && continue
    cp -p "$source" "$(host_dir "$host")/keys/token-signing.pem"
  done
}

start_cluster_users() {
  local host=$1
  if ! share_signing_key && [ "$host" != svc1 ]; then
    say "no signing key yet: svc1's users instance makes it"; return 1
  fi
  rm -f "$(host_dir "$host")/pids/users.pid"
  start_instance_on "$host" users Sealpost.Users "$cluster_users_port"
}

start_cluster_messages() {
  start_instance_on "$1" messages Sealpost.Messages "$cluster_messages_port"
}

# svc1's users instance first (it makes the signing key when there is none), then the rest side by side.
start_services() {
  local host
  if ! share_signing_key; then
    is_running svc1 users || start_cluster_users svc1
    wait_http "http://$(addr svc1):$cluster_users_port/readyz" 120 || { say "users on svc1 did not start:"; tail -n 30 "$(host_dir svc1)/logs/users.log" >&2; return 1; }
    share_signing_key
  fi
  for host in "${cluster_svc[@]}"; do start_host "$host"; done
  for host in "${cluster_svc[@]}"; do
    wait_http "http://$(addr "$host"):$cluster_users_port/readyz" 120 || { say "users on $host did not start:"; tail -n 30 "$(host_dir "$host")/logs/users.log" >&2; return 1; }
    wait_http "http://$(addr "$host"):$cluster_messages_port/readyz" 120 || { say "messages on $host did not start:"; tail -n 30 "$(host_dir "$host")/logs/messages.log" >&2; return 1; }
  done
}

# --- the edges --------------------------------------------------------------------------------------------------

# deploy/haproxy.cfg on *:8080 and HTTPS on *:8443 (so the backup edge serves the moment the address arrives; one
# certificate for 10.77.0.100, $state/tls/cert.pem, on both edges), its metrics on the edge's own address, with all three
# users and messages instances. HAProxy drops root itself.
start_edge_haproxy() {
  local host=$1
  make_certificate "$state/tls" "IP:$cluster_vip"
  SEALPOST_TLS_BIND=":8443" SEALPOST_TLS_CERT="$state/tls/haproxy.pem" \
  SEALPOST_DEPLOY="$SEALPOST_ROOT/deploy" SEALPOST_BIND=":8080" SEALPOST_STATS_BIND="$(addr "$host"):$cluster_stats_port" \
  SEALPOST_USERS_1="$(addr svc1):$cluster_users_port" SEALPOST_USERS_2="$(addr svc2):$cluster_users_port" SEALPOST_USERS_3="$(addr svc3):$cluster_users_port" \
  SEALPOST_MESSAGES_1="$(addr svc1):$cluster_messages_port" SEALPOST_MESSAGES_2="$(addr svc2):$cluster_messages_port" SEALPOST_MESSAGES_3="$(addr svc3):$cluster_messages_port" \
  SEALPOST_SERVICE_SOURCES="$(addr svc1) $(addr svc2) $(addr svc3)" \
    in_host "$host" root haproxy haproxy haproxy -db -f "$SEALPOST_ROOT/deploy/haproxy.cfg"
  wait_http "http://$(addr "$host"):$cluster_stats_port/metrics" 15 || { say "HAProxy on $host did not start:"; tail -n 20 "$(host_dir "$host")/logs/haproxy.log" >&2; return 1; }
}

# keepalived on each edge: VRRP (unicast between the two edges, advert_int 1) for 10.77.0.100; edge1 is preferred,
# neither takes the address back from the other (nopreempt); an edge whose HAProxy does not answer gives it up.
start_keepalived() {
  local host=$1 dir peer priority=100
  dir=$(host_dir "$host")/keepalived
  mkdir -p "$dir"
  [ "$host" = edge1 ] && priority=150
  for peer in "${cluster_edges[@]}"; do [ "$peer" != "$host" ] && break; done
  cat >"$dir/keepalived.conf" <<CONF
global_defs {
    router_id sealpost-$host
    enable_script_security
    script_user root
}
vrrp_script haproxy_answers {
    script "/usr/bin/curl -fsS -o /dev/null --max-time 1 http://$(addr "$host"):$cluster_stats_port/metrics"
    interval 1
    fall 2
    rise 2
}
vrrp_instance sealpost {
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id 77
    priority $priority
    advert_int 1
    unicast_src_ip $(addr "$host")
    unicast_peer {
        $(addr "$peer")
    }
    virtual_ipaddress {
        $cluster_vip/24 dev eth0
    }
    track_script {
        haproxy_answers
    }
}
CONF
  drop_vip "$host"   # left by a keepalived that was killed
  in_host "$host" root keepalived keepalived keepalived --dont-fork --log-console --log-detail --vrrp \
    --use-file "$dir/keepalived.conf" --pid "$dir/keepalived.pid" --vrrp_pid "$dir/vrrp.pid" --checkers_pid "$dir/checkers.pid"
}

vip_holder() {
  local host
  for host in "${cluster_edges[@]}"; do
    ip -n "$(ns "$host")" -br addr show dev eth0 2>/dev/null | grep -qw "$cluster_vip" && { echo "$host"; return 0; }
  done
  return 1
}

wait_vip() {
  for _ in $(seq $(($1 * 10))); do
    curl -fsS -o /dev/null --max-time 2 "http://$cluster_vip:8080/.well-known/jwks.json" 2>/dev/null && return 0
    sleep 0.1
  done
  say "nothing answers on http://$cluster_vip:8080/"; return 1
}

# --- monitoring -------------------------------------------------------------------------------------------------

# prometheus-redis-exporter in multi-target mode (Prometheus passes each node as ?target=); the password from its environment.
start_redis_exporter() {
  REDIS_PASSWORD=$(secret redis-password) in_host mon "$SEALPOST_SERVICE_USER" redis-exporter redis-exporter \
    prometheus-redis-exporter -web.listen-address "$(addr mon):$cluster_exporter_port"
}

# Prometheus on mon, scraping every host, with deploy/prometheus/'s rules and cluster.yml (which member leads each scope).
start_cluster_prometheus() {
  local dir h scope
  dir=$(host_dir mon)/prometheus
  mkdir -p "$dir/data"
  cp "$SEALPOST_ROOT/deploy/prometheus/alerts.yml" "$SEALPOST_ROOT/deploy/prometheus/records.yml" "$SEALPOST_ROOT/deploy/prometheus/cluster.yml" "$dir/"
  target() { printf '      - targets: ["%s"]\n        labels: { instance: "%s"%s }\n' "$1" "$2" "${3:-}"; }
  {
    printf 'global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n'
    printf 'rule_files:\n  - %s/alerts.yml\n  - %s/records.yml\n  - %s/cluster.yml\n' "$dir" "$dir" "$dir"
    printf 'scrape_configs:\n'
    printf '  - job_name: users\n    static_configs:\n'
    for h in "${cluster_svc[@]}"; do target "$(addr "$h"):$cluster_users_port" "users-$h" ", host: \"$h\""; done
    printf '  - job_name: messages\n    static_configs:\n'
    for h in "${cluster_svc[@]}"; do target "$(addr "$h"):$cluster_messages_port" "messages-$h" ", host: \"$h\""; done
    printf '  - job_name: haproxy\n    static_configs:\n'
    for h in "${cluster_edges[@]}"; do target "$(addr "$h"):$cluster_stats_port" "haproxy-$h" ", host: \"$h\""; done
    printf '  - job_name: patroni\n    static_configs:\n'
    for scope in "${cluster_scopes[@]}"; do
      for h in ${scope_hosts[$scope]}; do target "$(addr "$h"):${scope_rest_port[$scope]}" "$scope-$h" ", host: \"$h\", cluster: \"$scope\""; done
    done
    printf '  - job_name: etcd\n    static_configs:\n'
    for h in "${cluster_svc[@]}"; do target "$(addr "$h"):2379" "etcd-$h" ", host: \"$h\""; done
    printf '  - job_name: redis\n    metrics_path: /scrape\n    static_configs:\n'
    for h in "${cluster_svc[@]}"; do for p in "${cluster_redis_ports[@]}"; do target "redis://$(addr "$h"):$p" "redis-$h-$p" ", host: \"$h\""; done; done
    printf '    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n'
    printf '      - target_label: __address__\n        replacement: %s:%s\n' "$(addr mon)" "$cluster_exporter_port"
    printf '  - job_name: redis_exporter\n    static_configs:\n'
    target "$(addr mon):$cluster_exporter_port" redis-exporter
    printf '  - job_name: prometheus\n    static_configs:\n'
    target "$(addr mon):$cluster_prometheus_port" prometheus
  } >"$dir/prometheus.yml"
  give_to_service "$dir"
  in_host mon "$SEALPOST_SERVICE_USER" prometheus prometheus prometheus --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/data" --web.listen-address="$(addr mon):$cluster_prometheus_port" --storage.tsdb.retention.time=15d
  wait_http "http://$(addr mon):$cluster_prometheus_port/-/ready" 30 || { say "Prometheus did not start:"; tail -n 20 "$(host_dir mon)/logs/prometheus.log" >&2; return 1; }
}

leader_query_url() { echo "http://$(addr mon):$cluster_prometheus_port/graph?g0.expr=sealpost%3Apatroni_leader&g0.tab=1"; }

# --- the whole ----------------------------------------------------------------------------------------------------

# Whether everything of an earlier `up` still answers (then `up` leaves it alone).
cluster_is_healthy() {
  local host name scope
  [ -f "$state/cluster.env" ] || return 1
  for host in "${cluster_hosts[@]}"; do
    [ "$(link_state "$host")" = up ] || return 1
    for name in $(host_processes "$host"); do is_running "$host" "$name" || return 1; done
  done
  for scope in "${cluster_scopes[@]}"; do scope_leader "$scope" >/dev/null || return 1; done
  curl -fsS -o /dev/null --max-time 2 "http://$cluster_vip:8080/.well-known/jwks.json"
}

# cluster_wait [SECONDS]: waits until everything answers again (after a start or a heal): what `up` checks, every
# instance ready, every database with a synchronous standby, the Redis cluster ok.
cluster_wait() {
  local deadline=$((SECONDS + ${1:-120}))
  until cluster_is_healthy 2>/dev/null && instances_ready && scopes_synchronous; do
    [ $SECONDS -lt "$deadline" ] || { say "the cluster is not healthy after ${1:-120} s:"; cluster_status >&2; return 1; }
    sleep 1
  done
  wait_scope_replicas $((deadline - SECONDS > 5 ? deadline - SECONDS : 5)) && wait_redis_cluster_ok $((deadline - SECONDS > 5 ? deadline - SECONDS : 5))
}

# Every database has a synchronous standby again (Patroni's /sync answers 200 on one member): until then, losing its
# primary's host would leave it without a leader, since Patroni promotes only a synchronous standby.
scopes_synchronous() {
  local scope h ok
  for scope in "${cluster_scopes[@]}"; do
    ok=false
    for h in ${scope_hosts[$scope]}; do
      curl -fsS -o /dev/null --max-time 1 "http://$(addr "$h"):${scope_rest_port[$scope]}/sync" 2>/dev/null && ok=true
    done
    $ok || return 1
  done
}

instances_ready() {
  local host
  for host in "${cluster_svc[@]}"; do
    curl -fsS -o /dev/null --max-time 2 "http://$(addr "$host"):5101/readyz" || return 1
    curl -fsS -o /dev/null --max-time 2 "http://$(addr "$host"):5201/readyz" || return 1
  done
}

# move_shards SHARDS [SCOPE]: moves mailbox shards (e.g. 0-7) from the mailbox cluster that holds them to SCOPE (by
# default the other one), with scripts/move-shards on the two primaries.
move_shards() {
  local list=$1 to=${2:-} scope leader from="" first=${1%%[-,]*}
  local -A conninfo=()
  PGPASSWORD=$(secret pg-messages-password)
  export PGPASSWORD
  for scope in "${cluster_scopes[@]}"; do
    [[ $scope == mbox* ]] || continue
    leader=$(wait_scope_leader "$scope" 30) || return 1
    conninfo[$scope]="host=${leader%:*} port=${leader#*:} dbname=sealpost_messages user=sealpost_messages"
    if [ "$(psql "${conninfo[$scope]}" -X -At -c "SELECT count(*) FROM mailbox_shards WHERE shard = $first AND state IN ('owned', 'moving')")" = 1 ]; then
      from=$scope
    fi
  done
  [ -n "$from" ] || { say "no mailbox cluster holds shard $first"; return 1; }
  if [ -z "$to" ]; then for scope in "${!conninfo[@]}"; do [ "$scope" = "$from" ] || to=$scope; done; fi
  [ -n "${conninfo[$to]:-}" ] && [ "$to" != "$from" ] || { say "move to which mailbox cluster? (one of ${!conninfo[*]}, not $from)"; return 1; }
  say "moving shards $list from $from to $to…"
  "$SEALPOST_ROOT/scripts/move-shards" "${conninfo[$from]}" "${conninfo[$to]}" "$list"
}

# Stops everything (edges and monitoring, then the services, then the stores), removes the namespaces and the
# bridge; the data stays. Also what `up` runs first, for whatever a killed run left behind.
cluster_teardown() {
  local host
  for host in "${cluster_edges[@]}" mon; do stop_host "$host" & done
  wait
  for host in "${cluster_svc[@]}"; do
    stop_pidfile "$(host_dir "$host")/pids/users.pid" & stop_pidfile "$(host_dir "$host")/pids/messages.pid" &
  done
  wait
  for host in "${cluster_svc[@]}"; do stop_host "$host" & done
  wait
  network_down
  if ip link show "$cluster_bridge" >/dev/null 2>&1; then ip link del "$cluster_bridge"; fi
  rm -f "$state"/hosts/*/pids/*.pid "$state/cluster.env"
}

# The one record of what runs where (key=value, as .run/stack.env), for the tests; written last.
write_cluster_env() {
  local host scope h list
  {
    echo "# Written by scripts/cluster up: what runs where. key=value, one a line; lists are separated by spaces."
    echo "url=http://$cluster_vip:8080/"
    echo "tls_url=https://$cluster_vip:8443/"
    echo "tls_certificate=$state/tls/cert.pem"
    echo "vip=$cluster_vip"
    echo "client_address=$cluster_prefix.1"
    echo "prometheus=http://$(addr mon):$cluster_prometheus_port/"
    echo "prometheus_leaders=$(leader_query_url)"
    echo "hosts=${cluster_hosts[*]}"
    for host in "${cluster_hosts[@]}"; do
      echo "host_$host=$(addr "$host")"
      echo "namespace_$host=$(ns "$host")"
      echo "processes_$host=$(host_processes "$host")"
      echo "pids_$host=$(host_dir "$host")/pids"
      echo "logs_$host=$(host_dir "$host")/logs"
    done
    echo "users=$(for h in "${cluster_svc[@]}"; do printf 'users-%s@%s:%s ' "$h" "$(addr "$h")" "$cluster_users_port"; done | sed 's/ $//')"
    echo "messages=$(for h in "${cluster_svc[@]}"; do printf 'messages-%s@%s:%s ' "$h" "$(addr "$h")" "$cluster_messages_port"; done | sed 's/ $//')"
    echo "haproxy_stats=$(for h in "${cluster_edges[@]}"; do printf '%s:%s ' "$(addr "$h")" "$cluster_stats_port"; done | sed 's/ $//')"
    echo "etcd=$(etcd_endpoints)"
    echo "redis_nodes=$(redis_nodes)"
    echo "redis_password_file=$state/secrets/redis-password"
    echo "pg_scopes=${cluster_scopes[*]}"
    for scope in "${cluster_scopes[@]}"; do
      list=()
      for h in ${scope_hosts[$scope]}; do list+=("$scope-$h@$(addr "$h"):${scope_pg_port[$scope]}"); done
      echo "pg_$scope=${list[*]}"
      list=()
      for h in ${scope_hosts[$scope]}; do list+=("$(addr "$h"):${scope_rest_port[$scope]}"); done
      echo "patroni_$scope=${list[*]}"
      echo "pg_${scope}_database=${scope_database[$scope]}"
    done
    echo "pg_superuser=postgres"
    echo "pg_superuser_password_file=$state/secrets/pg-superuser-password"
    echo "pg_users_password_file=$state/secrets/pg-users-password"
    echo "pg_messages_password_file=$state/secrets/pg-messages-password"
    echo "logs=$state/hosts/HOST/logs"
  } >"$state/cluster.env.tmp"
  mv "$state/cluster.env.tmp" "$state/cluster.env"
}

print_cluster_addresses() {
  cat <<MSG
Sealpost runs on six simulated hosts. Clients: http://$cluster_vip:8080/, and https://$cluster_vip:8443/ with the
certificate $state/tls/cert.pem (the CLI wants TLS off this machine's loopback:
  sealpost --server https://$cluster_vip:8443 --server-certificate $state/tls/cert.pem …)
  prometheus  http://$(addr mon):$cluster_prometheus_port/graph   targets: /targets
  leaders     $(leader_query_url)
  status      scripts/cluster status      what runs where: $state/cluster.env
MSG
}

# Per host: link, processes; then Patroni's leader per scope, the Redis masters, and who holds the virtual address.
cluster_status() {
  local host name line scope h
  for host in "${cluster_hosts[@]}"; do
    line="$host $(addr "$host") link $(link_state "$host"):"
    for name in $(host_processes "$host"); do
      if is_running "$host" "$name"; then line+=" $name"; else line+=" $name(DOWN)"; fi
    done
    echo "$line"
  done
  for scope in "${cluster_scopes[@]}"; do
    line="patroni $scope:"
    for h in ${scope_hosts[$scope]}; do
      local role
      role=$(curl -fsS --max-time 1 "http://$(addr "$h"):${scope_rest_port[$scope]}/patroni" 2>/dev/null | jq -r '.role + "/" + .state' 2>/dev/null || true)
      line+=" $scope-$h=${role:-unreachable}"
    done
    echo "$line"
  done
  line="redis masters:"
  for h in $(redis_nodes); do
    if rcli -h "${h%:*}" -p "${h#*:}" cluster nodes 2>/dev/null | tr -d '\r' | grep -q 'myself,master'; then line+=" $h"; fi
  done
  echo "$line"
  echo "redis state (svc1:7001's view): $(rcli -h "$(addr svc1)" -p 7001 cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')"
  echo "virtual address $cluster_vip: $(vip_holder || echo nobody)"
}
