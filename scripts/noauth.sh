#!/usr/bin/env bash
# Checks what real MCP clients show a person who connects to keyveil serve
# --http without a key: mcp-remote and the MCP Inspector CLI, both pinned,
# must print keyveil's own explanation rather than an OAuth error.
#
#   scripts/noauth.sh                  checks ./keyveil (built if missing)
#   KEYVEIL_BIN=/path/to/keyveil scripts/noauth.sh
set -eu
cd "$(dirname "$0")/.."
root=$PWD
bin=${KEYVEIL_BIN:-$root/keyveil}
[ -x "$bin" ] || go build -o keyveil .
# The Inspector (and, on old Node, the Node it runs on) is pinned in e2e/inspector.
(cd e2e/inspector && npm ci --no-audit --no-fund --loglevel=error)
(cd e2e/noauth && npm ci --no-audit --no-fund --loglevel=error && KEYVEIL_BIN="$bin" npm test)
