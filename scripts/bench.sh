#!/usr/bin/env bash
# Cold start (spawn -> initialize and -> tools/list, zero-config), the
# latency call_api adds over a direct Go HTTP call to the same loopback
# server, and resident memory, through the built binary (scripts/bench);
# then the in-process benchmarks of the same paths (main_bench_test.go).
# Prints a Markdown table for the README's Performance section, with the
# machine's load average: on a shared machine, run it when the load is low.
#
#   scripts/bench.sh
#   RUNS=50 CALLS=5000 scripts/bench.sh
set -eu
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
CALLS=${CALLS:-2000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/keyveil" .
go build -o "$dir/floor" ./scripts/bench/floor

printf 'load average: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
go run ./scripts/bench -bin "$dir/keyveil" -floor "$dir/floor" -runs "$RUNS" -calls "$CALLS"
printf '\n==> in process\n'
go test -run '^$' -bench 'CallAPI|ColdStart' -benchtime 2s .
