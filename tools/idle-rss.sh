#!/usr/bin/env bash
# Prints the idle resident memory (RSS) of each Herald service: starts the fleet with
# `heraldctl up`, waits until every service is ready, lets it settle, reads VmRSS of each
# service process, then stops the fleet. No thresholds: it reports figures.
set -euo pipefail
cd "$(dirname "$0")/.."
settle="${SETTLE_SECS:-10}"
cargo build --quiet --bins
log=$(mktemp)
./target/debug/heraldctl up >"$log" 2>&1 &
up=$!
trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 180); do
  grep -q "curl" "$log" && break
  kill -0 $up 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
sleep "$settle"
printf '%-12s %10s\n' service rss_kib
for svc in gateway auth publisher renderer insights billing notifier; do
  pid=$(pgrep -f "/herald-${svc}$" | head -1 || true)
  if [ -z "$pid" ]; then printf '%-12s %10s\n' "$svc" "not running"; continue; fi
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  printf '%-12s %10s\n' "$svc" "$rss"
done
