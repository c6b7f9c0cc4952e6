# A private PostgreSQL cluster: started, stopped, and a database with a role of its own. Sourced by scripts/lib.sh.
# shellcheck shell=bash

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root, so as root its commands run as the postgres user.
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

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
# earlier version made as the superuser to the role. SEALPOST_PG_HOST (127.0.0.1) and SEALPOST_PG_ADMIN (sealpost) name
# another server and superuser (scripts/cluster: a Patroni leader, as postgres).
provision_database() {
  local port=$1 admin_password=$2 database=$3 role=$4 role_password=$5
  # The passwords travel on standard input, never on a command line.
  PGPASSWORD=$admin_password "$(pg_bindir)/psql" -h "${SEALPOST_PG_HOST:-127.0.0.1}" -p "$port" -U "${SEALPOST_PG_ADMIN:-sealpost}" -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
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
