// Result shapes over Streamable HTTP: the official TypeScript SDK client
// reaches `keyveil serve --http` with a keyveil API key and calls a declared
// tool down every path a call can end on (see ../../lib/results.mjs). The
// client validates structuredContent against the tool's outputSchema and
// fails a successful result that has none, so every call must resolve.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { checkResult, itemsServices, ITEMS_ENV, resultPaths, startItemsDownstream } from "../../lib/results.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = path.resolve(process.env.KEYVEIL_BIN ?? path.join(here, "..", "..", "..", "keyveil"));
const UPSTREAM_KEY = "sk-test-LEAKCHECK-0123456789";
const run = promisify(execFile);

/**
 * startKeyveil runs `keyveil serve --http 127.0.0.1:0` with the services
 * file and resolves with its /mcp URL once it logs its address.
 */
async function startKeyveil(keysFile, config) {
  if (!existsSync(binary)) {
    throw new Error(`keyveil binary not found at ${binary}: run \`go build -o keyveil .\` at the repository root, or set KEYVEIL_BIN`);
  }
  const child = spawn(binary, ["serve", "--http", "127.0.0.1:0", "--keys", keysFile, "--config", config], {
    env: { [ITEMS_ENV]: UPSTREAM_KEY },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stderr = [];
  const text = () => Buffer.concat(stderr).toString("utf8");
  child.stderr.on("data", (c) => stderr.push(c));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`keyveil did not log its address within 10 s; stderr:\n${text()}`)), 10_000);
    const look = () => {
      const m = /msg=listening addr=(\S+)/.exec(text());
      if (m) {
        clearTimeout(timer);
        child.stderr.off("data", look);
        resolve(m[1]);
      }
    };
    child.stderr.on("data", look);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`keyveil exited (${code}) before listening; stderr:\n${text()}`));
    });
  });
  return {
    url: new URL(`http://${addr}/mcp`),
    stderr: text,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe("every result path satisfies the output schema (Streamable HTTP)", () => {
  let dir;
  let down;
  let kv;
  let plain;
  let eliciting;
  const answer = { action: "accept" };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "keyveil-e2e-http-results-"));
    const keysFile = path.join(dir, "keys.json");
    const { stdout } = await run(binary, ["keys", "create", "--name", "results", "--keys", keysFile], { env: {}, timeout: 10_000 });
    const key = stdout.trim();
    down = await startItemsDownstream(UPSTREAM_KEY);
    const config = path.join(dir, "services.yaml");
    await writeFile(config, itemsServices(down.url), { mode: 0o600 });
    kv = await startKeyveil(keysFile, config);
    const headers = { Authorization: `Bearer ${key}` };
    plain = new Client({ name: "keyveil-e2e-http-results", version: "0.0.0" });
    await plain.connect(new StreamableHTTPClientTransport(kv.url, { requestInit: { headers } }));
    eliciting = new Client({ name: "keyveil-e2e-http-results", version: "0.0.0" }, { capabilities: { elicitation: { form: {} } } });
    eliciting.setRequestHandler(ElicitRequestSchema, async () => ({ action: answer.action }));
    await eliciting.connect(new StreamableHTTPClientTransport(kv.url, { requestInit: { headers } }));
    // The client validates only tools it has listed.
    await plain.listTools();
    await eliciting.listTools();
  });

  after(async () => {
    await plain?.close();
    await eliciting?.close();
    await kv?.stop();
    await down?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const p of resultPaths) {
    it(`${p.name}: ${p.tool}`, async () => {
      const client = p.elicit ? eliciting : plain;
      if (p.elicit) answer.action = p.elicit;
      let result;
      for (let i = 0; i < p.calls; i++) {
        // Throws McpError -32600 or -32602 when the result breaks the schema.
        result = await client.callTool({ name: p.tool, arguments: p.args });
      }
      assert.deepEqual(checkResult(p, result), [], `${p.tool} result: ${JSON.stringify(result)}`);
      assert.ok(!JSON.stringify(result).includes(UPSTREAM_KEY), "the upstream key came back");
    });
  }
});
