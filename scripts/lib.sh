# Shared by scripts/up, scripts/down and scripts/test. Sourced, not run.
# shellcheck shell=bash

SEALPOST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

# Installs the Debian packages that are missing (as root), or says what to install.
need_packages() {
  local missing=() p
  # Installed, not merely known: a package removed without --purge keeps its status entry (and dpkg -s says yes).
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if is_root; then
    say "installing ${missing[*]}"
    # An install killed earlier leaves dpkg half done (dpkg --audit names what), and apt-get refuses until that is
    # finished (a package killed mid-unpack apt-get installs again itself); one still running holds the lock, which
    # dpkg does not wait for (apt-get then says what is wrong) and apt-get does.
    [ -z "$(dpkg --audit 2>/dev/null)" ] || DEBIAN_FRONTEND=noninteractive dpkg --configure -a >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    return 1
  fi
}

need_dotnet() {
  command -v dotnet >/dev/null || { say "the .NET 10 SDK is required (dotnet on PATH)"; return 1; }
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# The unprivileged account the services, Redis, HAProxy and Prometheus run as when scripts/up runs as root
# (SEALPOST_SERVICE_USER, set by scripts/up; unset, everything runs as whoever started it). Made once, a system account
# with no home and no shell.
ensure_service_user() {
  local user=$1
  id -u "$user" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$user"
}

# service_exec CMD…: becomes CMD, as SEALPOST_SERVICE_USER when that is set (exec: the pid stays the caller's, so a
# pid file taken with $! names the service itself). Called in a subshell.
service_exec() {
  if [ -n "${SEALPOST_SERVICE_USER:-}" ]; then
    exec setpriv --reuid="$SEALPOST_SERVICE_USER" --regid="$(id -g "$SEALPOST_SERVICE_USER")" --init-groups -- "$@"
  fi
  exec "$@"
}

# give_to_service PATH…: hands files and folders to SEALPOST_SERVICE_USER (when set), e.g. the folder a service writes to.
give_to_service() {
  [ -z "${SEALPOST_SERVICE_USER:-}" ] || chown -R "$SEALPOST_SERVICE_USER:$(id -g "$SEALPOST_SERVICE_USER")" "$@"
}

# PostgreSQL refuses to run as root, so as root its commands run as the postgres user.
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The one free-port rule, used by the scripts and by tests/Sealpost.Testing (Ports.cs calls this function): a TCP
# port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range so that no outgoing
# connection takes it between now and its use.
# Within a test run (SEALPOST_TEST_WORKDIR set) a port is also reserved for the whole run, by an atomic mkdir that
# every test process shares: one process may pick a port another has chosen and not yet bound, and HAProxy would
# then share it (SO_REUSEPORT) and split one stack's connections with another's.
free_port() {
  local port low reserved=${SEALPOST_TEST_WORKDIR:+$SEALPOST_TEST_WORKDIR/ports}
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ -z "$reserved" ] || mkdir -p "$reserved"
  for _ in $(seq 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    port_in_use "$port" && continue
    if [ -z "$reserved" ] || mkdir "$reserved/$port" 2>/dev/null; then echo "$port"; return 0; fi
  done
  say "no free port found"; return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_postgres DATA_DIR PORT PASSWORD [extra postgres options]: initialises the cluster once, then starts it.
start_postgres() {
  local data=$1 port=$2 password=$3 extra=${4:-} bin
  bin=$(pg_bindir)
  mkdir -p "$data"
  if is_root; then chown postgres:postgres "$data"; fi
  chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    local pwfile
    pwfile=$(mktemp)
    printf '%s\n' "$password" >"$pwfile"
    if is_root; then chown postgres "$pwfile"; fi
    as_postgres "$bin/initdb" -D "$data" -U sealpost --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 \
      || { rm -f "$pwfile"; cat "$data.initdb.log" >&2; return 1; }
    rm -f "$pwfile"
  fi
  as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $data -c max_connections=400 $extra" start >/dev/null \
    || { tail -n 20 "$data/server.log" >&2; return 1; }
}

stop_postgres() {
  local data=$1
  [ -f "$data/postmaster.pid" ] || return 0
  as_postgres "$(pg_bindir)/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || as_postgres "$(pg_bindir)/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
}

# provision_database PORT ADMIN_PASSWORD DATABASE ROLE ROLE_PASSWORD: a database owned by a role of its own, as the
# superuser (sealpost) of the cluster start_postgres made. The role can log in and nothing more (no superuser, no
# CREATEDB, no CREATEROLE); no other role may connect to the database. Safe to run again: it also hands the tables an
# earlier version made as the superuser to the role.
provision_database() {
  local port=$1 admin_password=$2 database=$3 role=$4 role_password=$5
  # The passwords travel on standard input, never on a command line.
  PGPASSWORD=$admin_password "$(pg_bindir)/psql" -h 127.0.0.1 -p "$port" -U sealpost -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
\\set role '$role'
\\set database '$database'
\\set password '$role_password'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \\gexec
ALTER DATABASE :"database" OWNER TO :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
\\connect :"database"
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role') FROM pg_tables
  WHERE schemaname = 'public' AND tableowner <> :'role' \\gexec
SQL
}

# start_redis DIR PORT [PASSWORD]: a private Redis on loopback, no persistence (it only carries wake-ups). With a
# password, every client must AUTH first (the password sits in DIR/redis.conf, 0600, never on a command line).
start_redis() {
  local dir=$1 port=$2 password=${3:-}
  mkdir -p "$dir"
  (umask 077; if [ -n "$password" ]; then printf 'requirepass %s\n' "$password"; fi >"$dir/redis.conf")
  give_to_service "$dir"
  (service_exec redis-server "$dir/redis.conf" --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" --save "" --appendonly no --protected-mode yes >/dev/null)
  for _ in $(seq 50); do port_in_use "$port" && return 0; sleep 0.1; done
  say "redis did not start"; tail -n 20 "$dir/redis.log" >&2; return 1
}

# Stops the process in a pid file, politely first.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# wait_http URL SECONDS: until the URL answers 2xx.
wait_http() {
  local url=$1 seconds=${2:-60}
  for _ in $(seq $((seconds * 10))); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Builds the web client into src/Sealpost.Web/dist with the pinned toolchain of its package-lock.json. `npm ci` runs
# only when the lock file changed since the last install (install scripts off: esbuild needs none), so a rebuild is fast.
build_web_page() {
  local web="$SEALPOST_ROOT/src/Sealpost.Web"
  command -v npm >/dev/null || need_packages nodejs npm
  if ! cmp -s "$web/package-lock.json" "$web/node_modules/.sealpost-installed-lock" 2>/dev/null; then
    (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) || return 1
    cp "$web/package-lock.json" "$web/node_modules/.sealpost-installed-lock"
  fi
  (cd "$web" && npx --no-install tsc --noEmit -p . >&2 && node build.mjs >&2)
}

# make_certificate DIR: a self-signed TLS certificate for localhost and 127.0.0.1 (P-256, about two years), made once:
# DIR/cert.pem (what clients trust: sealpost --server-certificate) and DIR/haproxy.pem (certificate and key, 0600).
make_certificate() {
  local dir=$1
  [ -s "$dir/haproxy.pem" ] && [ -s "$dir/cert.pem" ] && return 0
  mkdir -p "$dir"
  chmod 700 "$dir"
  (umask 077
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=Sealpost on this machine" \
     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.pem.tmp" 2>/dev/null \
     && cat "$dir/cert.pem.tmp" "$dir/key.pem" >"$dir/haproxy.pem" && rm -f "$dir/key.pem") || { say "openssl could not make a certificate"; return 1; }
  chmod 644 "$dir/cert.pem.tmp"
  mv "$dir/cert.pem.tmp" "$dir/cert.pem"
}

# certificate_fingerprint FILE: its SHA-256 fingerprint, as people compare them.
certificate_fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

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

# start_prometheus DIR PORT PIDFILE JOB=NAME@HOST:PORT[,NAME@HOST:PORT…]…: Prometheus from Debian's package on
# 127.0.0.1:PORT, its configuration and data in DIR, scraping each job's targets (labelled instance=NAME) every
# SEALPOST_SCRAPE_INTERVAL (5s) with the alerting and recording rules of deploy/prometheus/.
start_prometheus() {
  local dir=$1 port=$2 pidfile=$3 spec job target
  shift 3
  mkdir -p "$dir/data"
  # The rules are copied next to the configuration: Prometheus may run as an account that cannot read the clone.
  cp "$SEALPOST_ROOT/deploy/prometheus/alerts.yml" "$SEALPOST_ROOT/deploy/prometheus/records.yml" "$dir/"
  {
    printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\n' "${SEALPOST_SCRAPE_INTERVAL:-5s}" "${SEALPOST_SCRAPE_INTERVAL:-5s}"
    printf 'rule_files:\n  - %s/alerts.yml\n  - %s/records.yml\n' "$dir" "$dir"
    printf 'scrape_configs:\n'
    for spec in "$@"; do
      job=${spec%%=*}
      printf '  - job_name: %s\n    static_configs:\n' "$job"
      for target in ${spec#*=}; do
        [ "${target//,/}" = "$target" ] || { say "start_prometheus: one target per word"; return 1; }
        printf '      - targets: ["%s"]\n        labels: { instance: "%s" }\n' "${target#*@}" "${target%%@*}"
      done
    done
  } >"$dir/prometheus.yml"
  give_to_service "$dir"
  (service_exec setsid prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=15d >>"$dir/prometheus.log" 2>&1 </dev/null) &
  echo $! >"$pidfile"
  wait_http "http://127.0.0.1:$port/-/ready" 30 || { say "Prometheus did not start:"; tail -n 20 "$dir/prometheus.log" >&2; return 1; }
}

# stop_all_below DIR: stops whatever left a pid file below DIR (PostgreSQL clusters by pg_ctl, the rest politely
# first), the pid files' own processes and nothing else. Used by scripts/test for its scratch folder.
stop_all_below() {
  local dir=$1 pidfile
  while IFS= read -r pidfile; do
    case $pidfile in
      # PostgreSQL by pg_ctl below; owner.pid is scripts/test's own mark (the run that owns the folder), not a process to stop.
      */postmaster.pid | */owner.pid) ;;
      *) stop_pidfile "$pidfile" & ;;
    esac
  done < <(find "$dir" -name '*.pid' 2>/dev/null)
  wait
  while IFS= read -r pidfile; do stop_postgres "$(dirname "$pidfile")"; done < <(find "$dir" -name postmaster.pid 2>/dev/null)
}
