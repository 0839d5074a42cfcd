#!/usr/bin/env bash
# Shows keyveil end to end with only Go installed: builds keyveil, starts a
# small demo API on loopback that requires a random key, and drives keyveil
# with the go-sdk MCP client so you see a call succeed, the key echoed back
# as [REDACTED:MCP_API_KEY], and a write refused. Exits non-zero if anything
# is off, above all if the key shows up anywhere.
#
#   scripts/demo.sh
set -eu
cd "$(dirname "$0")/.."
go build -o keyveil .
go run ./scripts/demo -bin ./keyveil
