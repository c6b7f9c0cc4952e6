#!/usr/bin/env bash
# Drain and closed-loop relay on a fresh state folder, for the checkout in $1 (default: this one), on ports 29xxx so
# it does not meet a running system. Run it for two checkouts back to back to compare them (docs/benchmarks.md,
# "Linked devices"). Leaves nothing behind: the stack is stopped and its state folder removed.
set -u
cd "${1:-$(dirname "$0")/..}"
export SEALPOST_RUN=$(mktemp -d /tmp/sealpost-ab.XXXX); chmod 755 "$SEALPOST_RUN"
trap 'scripts/down > /dev/null 2>&1; rm -rf "$SEALPOST_RUN"' EXIT
export SEALPOST_PORT=29080 SEALPOST_TLS_PORT=29443 SEALPOST_STATS_PORT=29404 SEALPOST_PG_PORT=29432 SEALPOST_REDIS_PORT=29379
export SEALPOST_USERS_PORTS="29101 29102" SEALPOST_MESSAGES_PORTS="29201 29202" SEALPOST_SOCKETS_PER_ADDRESS=5000
export SEALPOST_LOGINS_PER_MINUTE=1000000 SEALPOST_REGISTRATIONS_PER_HOUR=1000000
export Sockets__FramesPerSecond=1000 Mailboxes__StoredPerSenderPerDay=1000000000
scripts/up -d --no-monitoring > "$SEALPOST_RUN/up.log" 2>&1 || { tail "$SEALPOST_RUN/up.log"; exit 1; }
# The bench keeps its accounts per address; a fresh database has none of them.
rm -f ~/.cache/sealpost-bench/pool-127.0.0.1-29080.json
B="src/Sealpost.Bench/bin/Release/net10.0/sealpost-bench --run-dir $SEALPOST_RUN --url http://127.0.0.1:29080 --user-fps 0"
echo "== $(git rev-parse --short HEAD) $(date -u +%H:%M:%S)"
$B relay --pairs 50 --inflight 8 --duration 5 --warmup 3 > /dev/null 2>&1
for first in 140 180; do $B drain --first-user $first --recipients 20 --senders 10 --messages 20000; done
for i in 1 2; do $B relay --pairs 50 --inflight 8 --duration 10 --warmup 3; done
