#!/usr/bin/env bash
# Benchmarks for keyveil serve --http (remote/ and keys/), sized to finish
# in under a minute on a laptop. Compare the sub-benchmarks side by side
# (bare vs auth vs chain; auth=true vs auth=false): the ratios travel
# between machines, the absolute numbers do not.
#
#   scripts/bench-http.sh            all of it
#   COUNT=5 scripts/bench-http.sh    repeat each for benchstat
set -eu
cd "$(dirname "$0")/.."

COUNT=${COUNT:-1}

step() { printf '\n==> %s\n' "$*"; }

step "authentication: Registry.Authenticate alone, and middleware vs none (target: chain - bare <= 5us)"
go test -run '^$' -bench '^(BenchmarkAuthenticate|BenchmarkMiddleware)$' -benchmem \
  -benchtime=200000x -count="$COUNT" ./remote/

step "throughput: tools/list and tools/call, 1/8/64 clients, loopback, auth on and off"
go test -run '^$' -bench '^BenchmarkToolsList$' -benchtime=2000x -count="$COUNT" ./remote/

step "memory: 1,000 open sessions"
go test -run '^$' -bench '^BenchmarkSessions1000$' -benchtime=1x -count="$COUNT" ./remote/
