# The steps of scripts/test: a killed run's leftovers, the private stores, the web page's unit tests, the closing line.
# Sourced by scripts/lib.sh.
# shellcheck shell=bash

# A run killed earlier leaves its folder behind: stop what it started and remove it.
remove_killed_test_runs() {
  local old owner
  for old in /tmp/sealpost-test.*; do
    [ -d "$old" ] || continue
    owner=$(cat "$old/owner.pid" 2>/dev/null || true)
    if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
    stop_all_below "$old"
    rm -rf "$old"
  done
}

# start_test_stores WORK: PostgreSQL and Redis on free ports below WORK, and the SEALPOST_TEST_* variables the tests read.
start_test_stores() {
  local work=$1 pg_port pg_password redis_port
  pg_port=$(free_port)
  pg_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  # fsync off: the test cluster is thrown away; durability against process death does not depend on it.
  start_postgres "$work/pg" "$pg_port" "$pg_password" "-c fsync=off -c full_page_writes=off"
  redis_port=$(free_port)
  start_redis "$work/redis" "$redis_port"

  export SEALPOST_TEST_PG="Host=127.0.0.1;Port=$pg_port;Username=sealpost;Password=$pg_password"
  export SEALPOST_TEST_REDIS="127.0.0.1:$redis_port"
  export SEALPOST_TEST_WORKDIR="$work"
  export SEALPOST_TEST_PG_DATA="$work/pg"
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  say "postgres on 127.0.0.1:$pg_port, redis on 127.0.0.1:$redis_port, scratch in $work"
}

# run_web_unit_tests WORK: the web page's envelope, fingerprint and payload code against docs/envelope.md's worked
# example (node's test runner), logged to WORK/web-unit.log; fails as they do.
run_web_unit_tests() {
  local work=$1 web_status=0
  (cd "$SEALPOST_ROOT/src/Sealpost.Web" && node build.mjs --tests && node --test --test-reporter=tap dist-test/) >"$work/web-unit.log" 2>&1 || web_status=$?
  if [ "$web_status" = 0 ]; then
    say "web page unit tests: $(grep -cE '^ok ' "$work/web-unit.log") passed"
  else
    cat "$work/web-unit.log" >&2
    grep -qE '^# fail [1-9]' "$work/web-unit.log" || echo "# fail 1" >>"$work/web-unit.log"   # it did not even build
  fi
  return "$web_status"
}

# print_test_summary WORK: one closing line for the whole run, summed over the test projects and the web page's tests.
print_test_summary() {
  local work=$1
  echo "$(($(dotnet_test_count Passed "$work") + $(web_test_count pass "$work"))) passed, $(($(dotnet_test_count Failed "$work") + $(web_test_count fail "$work"))) failed, $(dotnet_test_count Skipped "$work") skipped"
}

dotnet_test_count() { grep -oE "$1: +[0-9]+" "$2/test-output.log" | awk '{ s += $2 } END { print s + 0 }'; }

web_test_count() { cat "$2/web-unit.log" 2>/dev/null | grep -oE "^# $1 [0-9]+" | awk '{ s += $3 } END { print s + 0 }'; }
