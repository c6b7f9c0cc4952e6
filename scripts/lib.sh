# Shared by scripts/up, scripts/down and scripts/test, and by the tests (tests/Sealpost.Testing/ScriptLib.cs calls its
# functions by name). Sourced, not run: the one entry point; the functions live in scripts/lib/, one file per concern.
# shellcheck shell=bash

SEALPOST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=scripts/lib/common.sh
source "$SEALPOST_ROOT/scripts/lib/common.sh"      # say, is_root, the service account: ensure_service_user, service_exec, give_to_service
# shellcheck source=scripts/lib/packages.sh
source "$SEALPOST_ROOT/scripts/lib/packages.sh"    # need_packages, need_dotnet
# shellcheck source=scripts/lib/ports.sh
source "$SEALPOST_ROOT/scripts/lib/ports.sh"       # free_port, port_in_use
# shellcheck source=scripts/lib/processes.sh
source "$SEALPOST_ROOT/scripts/lib/processes.sh"   # stop_pidfile, stop_all_below, wait_http
# shellcheck source=scripts/lib/postgres.sh
source "$SEALPOST_ROOT/scripts/lib/postgres.sh"    # pg_bindir, as_postgres, start_postgres, stop_postgres, provision_database
# shellcheck source=scripts/lib/redis.sh
source "$SEALPOST_ROOT/scripts/lib/redis.sh"       # start_redis
# shellcheck source=scripts/lib/tls.sh
source "$SEALPOST_ROOT/scripts/lib/tls.sh"         # make_certificate, certificate_fingerprint
# shellcheck source=scripts/lib/haproxy.sh
source "$SEALPOST_ROOT/scripts/lib/haproxy.sh"     # start_haproxy
# shellcheck source=scripts/lib/prometheus.sh
source "$SEALPOST_ROOT/scripts/lib/prometheus.sh"  # start_prometheus
# shellcheck source=scripts/lib/web.sh
source "$SEALPOST_ROOT/scripts/lib/web.sh"         # build_web_page
# shellcheck source=scripts/lib/stack.sh
source "$SEALPOST_ROOT/scripts/lib/stack.sh"       # the steps of scripts/up and scripts/down
# shellcheck source=scripts/lib/cluster.sh
source "$SEALPOST_ROOT/scripts/lib/cluster.sh"     # the steps of scripts/cluster (several simulated hosts)
# shellcheck source=scripts/lib/test-run.sh
source "$SEALPOST_ROOT/scripts/lib/test-run.sh"    # the steps of scripts/test
