# Prometheus with a generated configuration and the rules of deploy/prometheus/. Sourced by scripts/lib.sh.
# shellcheck shell=bash

# start_prometheus DIR PORT PIDFILE JOB=NAME@HOST:PORT[,NAME@HOST:PORT…]…: Prometheus from Debian's package on
# 127.0.0.1:PORT, its configuration and data in DIR, scraping each job's targets (labelled instance=NAME) every
# SEALPOST_SCRAPE_INTERVAL (5s) with the alerting and recording rules of deploy/prometheus/.
start_prometheus() {
  local dir=$1 port=$2 pidfile=$3 spec job target
  shift 3
  mkdir -p "$dir/data"
  # The rules are copied next to the configuration: Prometheus may run as an account that cannot read the clone.
  cp "$SEALPOST_ROOT/deploy/prometheus/alerts.yml" "$SEALPOST_ROOT/deploy/prometheus/records.yml" "$dir/"
  {
    printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\n' "${SEALPOST_SCRAPE_INTERVAL:-5s}" "${SEALPOST_SCRAPE_INTERVAL:-5s}"
    printf 'rule_files:\n  - %s/alerts.yml\n  - %s/records.yml\n' "$dir" "$dir"
    printf 'scrape_configs:\n'
    for spec in "$@"; do
      job=${spec%%=*}
      printf '  - job_name: %s\n    static_configs:\n' "$job"
      for target in ${spec#*=}; do
        [ "${target//,/}" = "$target" ] || { say "start_prometheus: one target per word"; return 1; }
        printf '      - targets: ["%s"]\n        labels: { instance: "%s" }\n' "${target#*@}" "${target%%@*}"
      done
    done
  } >"$dir/prometheus.yml"
  give_to_service "$dir"
  (service_exec setsid prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=15d >>"$dir/prometheus.log" 2>&1 </dev/null) &
  echo $! >"$pidfile"
  wait_http "http://127.0.0.1:$port/-/ready" 30 || { say "Prometheus did not start:"; tail -n 20 "$dir/prometheus.log" >&2; return 1; }
}
