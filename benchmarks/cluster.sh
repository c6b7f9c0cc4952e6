#!/usr/bin/env bash
# Relay and drain through the cluster's virtual address (scripts/cluster up first), with the CPU each simulated host
# spent per delivered message: every process in the host's network namespace (PostgreSQL backends, Patroni, etcd,
# Redis, the instances, HAProxy, keepalived), read from /proc before and after each run. docs/scaling.md quotes it.
#   benchmarks/cluster.sh            the runs docs/scaling.md quotes
# The state folder is SEALPOST_CLUSTER_RUN (.cluster), as for scripts/cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${SEALPOST_CLUSTER_RUN:-.cluster}
[ -f "$state/cluster.env" ] || { echo "no cluster in $state: scripts/cluster up first" >&2; exit 1; }
url=$(sed -n 's/^url=//p' "$state/cluster.env")
read -r -a hosts <<<"$(sed -n 's/^hosts=//p' "$state/cluster.env")"
dotnet build src/Sealpost.Bench -c Release -nologo -v quiet >/dev/null
rm -f ~/.cache/sealpost-bench/pool-10.77.0.100-8080.json   # accounts of an earlier cluster do not exist in this one
bench=(src/Sealpost.Bench/bin/Release/net10.0/sealpost-bench --url "${url%/}" --user-fps 0 --run-dir "$state")
hz=$(getconf CLK_TCK)

ticks() { # HOST: CPU ticks (user + system) of every process in its namespace now
  local pid total=0 stat
  for pid in $(ip netns pids "sp-$1"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }                       # after the command name, which may hold spaces
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))         # utime, stime
  done
  echo "$total"
}

figure() { # KEY: the figure KEY of the bench's JSON report on stdin (the first found), or "-"
  python3 -c '
import json, sys
def find(node, key):
    if isinstance(node, dict):
        if key in node:
            v = node[key]
            return v.get("value") if isinstance(v, dict) else v
        for child in node.values():
            found = find(child, key)
            if found is not None: return found
    return None
v = find(json.load(sys.stdin), sys.argv[1])
print("-" if v is None else (int(v) if float(v).is_integer() else round(float(v))))' "$1"
}

run() { # LABEL BENCH-ARGS…: one run, then µs of CPU per delivered message for each host
  local label=$1 host json delivered line=""
  shift
  local -A before=()
  for host in "${hosts[@]}"; do before[$host]=$(ticks "$host"); done
  json=$("${bench[@]}" "$@" --json --quiet)
  delivered=$(figure delivered <<<"$json")
  for host in "${hosts[@]}"; do
    line+=" $host $(( ( $(ticks "$host") - before[$host] ) * 1000000 / hz / (delivered > 0 ? delivered : 1) ))"
  done
  echo "$label: delivered $delivered ($(figure delivered_per_s <<<"$json") msgs/s relayed, $(figure drain_msgs_per_s <<<"$json") msgs/s drained);" \
    "µs of CPU per delivered message by host:$line"
}

run "relay warm-up" relay --pairs 50 --inflight 8 --duration 5 --warmup 3 >/dev/null
run "relay 1" relay --pairs 50 --inflight 8 --duration 10 --warmup 3
run "relay 2" relay --pairs 50 --inflight 8 --duration 10 --warmup 3
run "drain 1" drain --first-user 140 --recipients 20 --senders 10 --messages 20000
run "drain 2" drain --first-user 180 --recipients 20 --senders 10 --messages 20000
