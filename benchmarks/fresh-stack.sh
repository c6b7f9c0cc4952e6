# Sourced by the A/B scripts here: brings up the checkout in $1 (default: this one) on a fresh state folder on ports
# 29xxx, so it does not meet a running system, with the per-address and per-user limits lifted for one benchmark
# client; builds its sealpost-bench and sets $B to run it against that stack. On exit the stack is stopped and its
# state folder removed, so nothing is left behind.
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"
export SEALPOST_RUN=$(mktemp -d /tmp/sealpost-ab.XXXX); chmod 755 "$SEALPOST_RUN"
trap 'scripts/down > /dev/null 2>&1; rm -rf "$SEALPOST_RUN"' EXIT
export SEALPOST_PORT=29080 SEALPOST_TLS_PORT=29443 SEALPOST_STATS_PORT=29404 SEALPOST_PG_PORT=29432 SEALPOST_REDIS_PORT=29379
export SEALPOST_USERS_PORTS="29101 29102" SEALPOST_MESSAGES_PORTS="29201 29202" SEALPOST_SOCKETS_PER_ADDRESS=5000
export SEALPOST_LOGINS_PER_MINUTE=1000000 SEALPOST_REGISTRATIONS_PER_HOUR=1000000 SEALPOST_DIRECTORY_READS_PER_MINUTE=1000000
export Sockets__FramesPerSecond=1000 Mailboxes__StoredPerSenderPerDay=1000000000
scripts/up -d --no-monitoring > "$SEALPOST_RUN/up.log" 2>&1 || { tail "$SEALPOST_RUN/up.log"; exit 1; }
# The bench keeps its accounts per address; a fresh database has none of them.
rm -f ~/.cache/sealpost-bench/pool-127.0.0.1-29080.json
dotnet build src/Sealpost.Bench -c Release -nologo -v quiet > "$SEALPOST_RUN/bench-build.log" 2>&1 || { tail "$SEALPOST_RUN/bench-build.log"; exit 1; }
B="src/Sealpost.Bench/bin/Release/net10.0/sealpost-bench --run-dir $SEALPOST_RUN --url http://127.0.0.1:29080 --user-fps 0"
echo "== $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes) ${AB_LABEL:-} $(date -u +%H:%M:%S)"
