#!/usr/bin/env bash
# Drain on a mailbox table whose statistics are stale, as on any system that has run for a while: autovacuum analyses
# `messages` when it happens to be empty (or holds one big mailbox), and the next burst of stored messages is planned
# on that. For the checkout in $1 (default: this one), on ports 29xxx, on a fresh state folder that it removes after.
# $2 says what ran on the emptied table: "analyze" (the default: autovacuum's ANALYZE, which, when the vacuum before it
# could not truncate the table, records thousands of pages and no rows), "vacuum" (VACUUM ANALYZE: none of either) or
# "none" (a fresh table, never analysed).
# Run it for two checkouts back to back to compare them (docs/benchmarks.md, "Mailbox statements on stale statistics").
set -u
statistics=${2:-analyze}
AB_LABEL=$statistics
source "$(dirname "$0")/fresh-stack.sh" "${1:-}"
age_statistics() {
  local sql
  case $statistics in analyze) sql="ANALYZE messages" ;; vacuum) sql="VACUUM ANALYZE messages" ;; *) return 0 ;; esac
  PGPASSWORD=$(cat "$SEALPOST_RUN/secrets/pg-password") psql -X -q -A -t -h 127.0.0.1 -p 29432 -U sealpost -d sealpost_messages \
    -c "$sql" -c "SELECT 'messages: ' || reltuples || ' rows in ' || relpages || ' pages, says pg_class' FROM pg_class WHERE relname = 'messages'"
}
$B drain --first-user 100 --recipients 20 --senders 10 --messages 20000 > /dev/null 2>&1   # warm-up; leaves the table empty
age_statistics                                                                              # what autovacuum does then
for first in 140 180; do $B drain --first-user $first --recipients 20 --senders 10 --messages 20000; done
