# Messages, and the unprivileged account the services run as when scripts/up runs as root. Sourced by scripts/lib.sh.
# shellcheck shell=bash

say() { printf '%s\n' "$*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

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
