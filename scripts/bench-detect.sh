#!/usr/bin/env bash
# Measures keyveil's secret detector (detect/) beside gitleaks' Go detector
# (github.com/zricethezav/gitleaks/v8, default config) on the same input,
# in one `go test -bench` run: about 1 MiB of GitHub-style issue JSON
# (detect/testdata/issues-30.json repeated), clean and with 75 planted
# fake secrets. The benchmark lives in its own module, scripts/bench-detect,
# so that keyveil's go.mod never depends on gitleaks.
#
# Each line gives wall-clock MB/s and cpu-MB/s (bytes per second of process
# CPU time, which a busy shared machine skews less), and the findings.
#
#   scripts/bench-detect.sh
#   BENCHTIME=20x scripts/bench-detect.sh
set -eu
cd "$(dirname "$0")/bench-detect"
BENCHTIME=${BENCHTIME:-5x}
uptime
go test -run='^$' -bench='^BenchmarkDetect$' -cpu 1 -benchtime="$BENCHTIME" .
uptime
