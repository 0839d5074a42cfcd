#!/usr/bin/env bash
# Shows the way to run keyveil with its key in 1Password: `op run` reads an
# env file of op:// references, resolves them, and starts keyveil with the
# values in its environment, so the key is on no disk and in no host config.
# This runs `keyveil check` that way, then prints the server entry for an MCP
# host (Claude Desktop, Cursor) that does the same at every start.
#
#   scripts/op-run-example.sh                        scripts/op-run-example.env
#   scripts/op-run-example.sh ~/.config/keyveil/crm.env
#   KEYVEIL_BIN=./keyveil scripts/op-run-example.sh  a keyveil not on PATH
#
# It never prints a resolved value (keyveil check shows only a key's length
# and fingerprint, and op run masks secrets in what its command prints).
# Needs the 1Password CLI, signed in: https://developer.1password.com/docs/cli/get-started/
set -eu

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
env_file=${1:-$here/op-run-example.env}
keyveil=${KEYVEIL_BIN:-keyveil}

die() { printf 'op-run-example: %s\n' "$*" >&2; exit 1; }

op=$(command -v op) ||
  die "the 1Password CLI (op) is not installed; install it (https://developer.1password.com/docs/cli/get-started/), sign in with \`op signin\`, and run this again"
keyveil=$(command -v "$keyveil") ||
  die "keyveil not found; \`go install github.com/keyveil/keyveil@latest\`, or build it (go build -o keyveil .) and set KEYVEIL_BIN=./keyveil"
[ -r "$env_file" ] || die "cannot read $env_file; copy scripts/op-run-example.env and edit its references"
case $env_file in /*) ;; *) env_file=$PWD/$env_file ;; esac
case $keyveil in /*) ;; *) keyveil=$PWD/$keyveil ;; esac

printf '==> op run --env-file=%s -- %s check\n' "$env_file" "$keyveil"
"$op" run --env-file="$env_file" -- "$keyveil" check

# The host must start keyveil the same way. Absolute paths: a host does not
# start servers from this directory, nor with your shell's PATH.
printf '\n==> the server entry for your MCP host ("mcpServers" in claude_desktop_config.json):\n'
printf '"keyveil-1password": {\n  "command": "%s",\n  "args": ["run", "--env-file=%s", "--", "%s"]\n}\n' \
  "$op" "$env_file" "$keyveil"
