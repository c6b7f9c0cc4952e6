#!/usr/bin/env bash
# Drain and closed-loop relay on a fresh state folder, for the checkout in $1 (default: this one), on ports 29xxx so
# it does not meet a running system. Run it for two checkouts back to back to compare them (docs/benchmarks.md,
# "Linked devices"). Leaves nothing behind: the stack is stopped and its state folder removed.
set -u
source "$(dirname "$0")/fresh-stack.sh" "${1:-}"
$B relay --pairs 50 --inflight 8 --duration 5 --warmup 3 > /dev/null 2>&1
for first in 140 180; do $B drain --first-user $first --recipients 20 --senders 10 --messages 20000; done
for i in 1 2; do $B relay --pairs 50 --inflight 8 --duration 10 --warmup 3; done
