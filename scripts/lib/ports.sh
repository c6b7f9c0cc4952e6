# Loopback ports: the one free-port rule (the tests call it too) and whether one is taken. Sourced by scripts/lib.sh.
# shellcheck shell=bash

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
