#!/usr/bin/env bash
# Builds keyveil and adds (or replaces) one server entry for it in Claude
# Desktop's claude_desktop_config.json, after `keyveil check` has passed with
# exactly the settings the entry will hold. Every other server and setting in
# the file is kept; the previous file is saved as claude_desktop_config.json.bak.
#
#   export MCP_API_BASE_URL=https://crm.example.com/api/v2
#   export MCP_API_AUTH=header:X-API-Key          # optional, as are
#   export MCP_API_ALLOW='GET /**'                # MCP_API_USERNAME (basic)
#   scripts/install-claude-desktop.sh --name crm  # asks for the key, hidden
#
#   # or keep the key in 1Password; the entry then runs `op run`:
#   scripts/install-claude-desktop.sh --name crm --op-env-file ~/.config/keyveil/crm.env
#
# Options: --name NAME (default keyveil), --op-env-file FILE, --ping (pass
# --ping to keyveil check: one authenticated GET to the API).
# Environment: BIN_DIR (default ~/.local/bin), CLAUDE_CONFIG (default: Claude
# Desktop's file for this OS).
#
# The key is never an argument, to this script or to anything it runs: it
# comes from MCP_API_KEY or a hidden prompt, and travels in the environment.
# (`MCP_API_KEY=... scripts/install-claude-desktop.sh` would put it in your
# shell history; let the script ask instead.) The config file then holds the
# key, so it is written with mode 0600.
set -eu

die() { printf 'install-claude-desktop: %s\n' "$*" >&2; exit 1; }
abs() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }

name=keyveil
op_env_file=""
ping=""
while [ $# -gt 0 ]; do
  case $1 in
    --name) [ $# -ge 2 ] || die "--name needs a value"; name=$2; shift 2 ;;
    --name=*) name=${1#*=}; shift ;;
    --op-env-file) [ $# -ge 2 ] || die "--op-env-file needs a value"; op_env_file=$2; shift 2 ;;
    --op-env-file=*) op_env_file=${1#*=}; shift ;;
    --ping) ping=--ping; shift ;;
    -h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) die "unexpected argument, not shown in case it is a key: the key is never an argument; export MCP_API_KEY or answer the prompt" ;;
  esac
done

# Paths given relative to where the script was started, before the cd below.
case $(uname -s) in
  Darwin) default_config=$HOME/Library/Application\ Support/Claude/claude_desktop_config.json ;;
  *) default_config=${XDG_CONFIG_HOME:-$HOME/.config}/Claude/claude_desktop_config.json ;;
esac
config=$(abs "${CLAUDE_CONFIG:-$default_config}")
bin_dir=$(abs "${BIN_DIR:-$HOME/.local/bin}")
if [ -n "$op_env_file" ]; then
  op_env_file=$(abs "$op_env_file")
  [ -r "$op_env_file" ] || die "cannot read the env file $op_env_file (see scripts/op-run-example.env)"
fi
cd "$(dirname "$0")/.."

# Settings copied into the entry as they are: none of them is a secret.
settings="MCP_API_BASE_URL MCP_API_AUTH MCP_API_ALLOW MCP_API_USERNAME"
[ -n "${MCP_API_BASE_URL:-}" ] || [ -n "$op_env_file" ] ||
  die "MCP_API_BASE_URL is not set; export it, e.g. export MCP_API_BASE_URL=https://api.example.com/v1"

op=""
if [ -n "$op_env_file" ]; then
  op=$(command -v op) || die "the 1Password CLI (op) is not installed; the entry would run it (https://developer.1password.com/docs/cli/get-started/)"
elif [ -z "${MCP_API_KEY:-}" ]; then
  [ -t 0 ] || die "MCP_API_KEY is not set and stdin is not a terminal to ask on; export MCP_API_KEY"
  IFS= read -rsp "MCP_API_KEY for $name (input hidden): " MCP_API_KEY
  printf '\n' >&2
  [ -n "$MCP_API_KEY" ] || die "no key entered"
fi
# Exported, never passed as an argument: keyveil check and claudeconfig read
# it from their environment.
if [ -z "$op" ]; then export MCP_API_KEY; fi

printf '==> go build -o %s/keyveil .\n' "$bin_dir"
mkdir -p "$bin_dir"
go build -o "$bin_dir/keyveil" .

# keyveil_check runs keyveil check with only the settings the entry will
# hold: every other MCP_* and KEYVEIL_* variable of this shell is dropped, so
# what passes here is what Claude Desktop will start.
keyveil_check() (
  keep=" $settings "
  if [ -z "$op" ]; then keep="$keep MCP_API_KEY "; fi
  for v in $(compgen -e); do
    case $keep in *" $v "*) continue ;; esac
    case $v in MCP_*|KEYVEIL_*) unset "$v" ;; esac
  done
  if [ -n "$op" ]; then
    "$op" run --env-file="$op_env_file" -- "$bin_dir/keyveil" check ${ping:+"$ping"}
  else
    "$bin_dir/keyveil" check ${ping:+"$ping"}
  fi
)
printf '==> keyveil check %s\n' "$ping"
if ! out=$(keyveil_check 2>&1); then
  printf '%s\n' "$out" >&2
  die "keyveil check failed, so $config was not changed; fix the items above and run this again"
fi
printf '%s\n' "$out"

args=(--config "$config" --name "$name" --command "$bin_dir/keyveil")
for v in $settings; do
  if [ -n "${!v:-}" ]; then args+=(--env "$v=${!v}"); fi
done
if [ -n "$op" ]; then
  args+=(--op-env-file "$op_env_file" --op-command "$op")
else
  args+=(--env MCP_API_KEY) # the value is read from the environment, not argv
fi
printf '\n==> updating %s\n' "$config"
go run ./scripts/claudeconfig "${args[@]}"
printf '\nRestart Claude Desktop (quit it fully, then open it) to load "%s".\n' "$name"
