# A private Redis on loopback. Sourced by scripts/lib.sh.
# shellcheck shell=bash

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
