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
#   BEFORE="2dfbde3 098dd4d" CALLS=0 scripts/bench.sh   # beside earlier commits
#
# BEFORE names git revisions: each one's keyveil is built too and spawned
# interleaved with this one's, for a side-by-side cold-start table. CALLS=0
# measures cold start only and skips the in-process benchmarks.
#
# Binaries are built as the release ships them (scripts/mcpb.sh,
# deploy/Dockerfile): CGO_ENABLED=0, static. A plain `go build` on a
# machine with a C compiler links libc dynamically, which costs about
# 1.7 MiB more RSS and no measurable start-up time; CGO_ENABLED=1 here
# measures that build instead.
set -eu
cd "$(dirname "$0")/.."
export CGO_ENABLED=${CGO_ENABLED:-0}

RUNS=${RUNS:-30}
CALLS=${CALLS:-2000}
BEFORE=${BEFORE:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/keyveil" .
go build -o "$dir/floor" ./scripts/bench/floor
before=
for rev in $BEFORE; do
  mkdir "$dir/src-$rev"
  git archive "$rev" | tar -x -C "$dir/src-$rev"
  (cd "$dir/src-$rev" && go build -o "$dir/$rev" .)
  before="$before${before:+,}$dir/$rev"
done

printf 'load average: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
go run ./scripts/bench -bin "$dir/keyveil" -floor "$dir/floor" -before "$before" -runs "$RUNS" -calls "$CALLS"
if [ "$CALLS" -gt 0 ]; then
  printf '\n==> in process\n'
  go test -run '^$' -bench 'CallAPI|ColdStart' -benchtime 2s .
fi
