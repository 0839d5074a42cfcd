// The official MCP Inspector's strict schema check, run by scripts/inspector.sh,
// as part of the end-to-end suite so CI runs it. The first run installs the
// pinned Inspector into e2e/inspector (npm ci, about 40 s).
// KEYVEIL_SKIP_INSPECTOR=1 skips it.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

import { binary, requireBinary } from "../lib/keyveil.mjs";

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "inspector.sh");

it("MCP Inspector --cli --method tools/list --strict reports 0 errors and 0 warnings",
  { skip: process.env.KEYVEIL_SKIP_INSPECTOR === "1" && "KEYVEIL_SKIP_INSPECTOR=1", timeout: 600_000 },
  () => {
    requireBinary();
    // npm hands its own settings (from e2e/.npmrc, such as engine-strict) to
    // scripts as npm_config_* variables; the Inspector's folder has its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_config_")));
    const run = spawnSync("bash", [script], { env: { ...env, KEYVEIL_BIN: binary }, encoding: "utf8" });
    const output = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, `scripts/inspector.sh exited ${run.status ?? run.signal}:\n${output}`);
    assert.match(run.stdout, /\(legacy\): 2 tools .* 0 errors, 0 warnings/, `want a clean legacy-era report:\n${output}`);
    assert.match(run.stdout, /\(modern\): 2 tools .* 0 errors, 0 warnings/, `want a clean modern-era report:\n${output}`);
  });
