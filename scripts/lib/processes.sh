# Processes by pid file: stopping one, or every one below a folder; waiting until a URL answers. Sourced by scripts/lib.sh.
# shellcheck shell=bash

# Stops the process in a pid file, politely first.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# stop_all_below DIR: stops whatever left a pid file below DIR (PostgreSQL clusters by pg_ctl, the rest politely
# first), the pid files' own processes and nothing else. Used by scripts/test for its scratch folder.
stop_all_below() {
  local dir=$1 pidfile
  while IFS= read -r pidfile; do
    case $pidfile in
      # PostgreSQL by pg_ctl below; owner.pid is scripts/test's own mark (the run that owns the folder), not a process to stop.
      */postmaster.pid | */owner.pid) ;;
      *) stop_pidfile "$pidfile" & ;;
    esac
  done < <(find "$dir" -name '*.pid' 2>/dev/null)
  wait
  while IFS= read -r pidfile; do stop_postgres "$(dirname "$pidfile")"; done < <(find "$dir" -name postmaster.pid 2>/dev/null)
}

# wait_http URL SECONDS: until the URL answers 2xx.
wait_http() {
  local url=$1 seconds=${2:-60}
  for _ in $(seq $((seconds * 10))); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
