// Shutdown at the newest protocol (2026-07-28), which the TypeScript SDK
// 1.32.2 cannot speak, so these tests write JSON-RPC lines by hand, as the
// MCP Inspector's "modern" era does: server/discover, then a long-lived
// subscriptions/listen that never completes by itself. With one open,
// keyveil must still exit promptly on stdin EOF and on SIGTERM (an earlier
// build waited forever, ignoring both).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { it } from "node:test";

import { leaks } from "../lib/downstream.mjs";
import { binary, FAKE_KEY, requireBinary } from "../lib/keyveil.mjs";

const VERSION = "2026-07-28";
const meta = {
  "io.modelcontextprotocol/protocolVersion": VERSION,
  "io.modelcontextprotocol/clientInfo": { name: "keyveil-e2e", version: "0.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/**
 * start spawns keyveil on raw pipes and returns helpers to send a request,
 * wait for the response to an id, and wait for the exit.
 */
function start() {
  requireBinary();
  const child = spawn(binary, [], {
    env: { PATH: process.env.PATH, MCP_API_KEY: FAKE_KEY, MCP_API_BASE_URL: "http://127.0.0.1:9" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters = new Map();
  child.stdout.setEncoding("utf8").on("data", (d) => {
    stdout += d;
    for (const line of stdout.split("\n")) {
      let msg;
      try { msg = JSON.parse(line); } catch { continue; }
      waiters.get(msg.id)?.(msg);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    send: (id, method, params) => child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n"),
    response: (id, ms = 5000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no response to ${id} within ${ms} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)), ms);
      waiters.set(id, (msg) => { clearTimeout(t); resolve(msg); });
    }),
  };
}

/** exitWithin resolves to how keyveil exited, or kills it and fails. */
async function exitWithin(kv, ms, what) {
  const timer = new Promise((resolve) => setTimeout(() => resolve(null), ms).unref());
  const result = await Promise.race([kv.exited, timer]);
  if (result === null) {
    kv.child.kill("SIGKILL");
    const { stderr } = kv.output();
    assert.fail(`keyveil did not exit within ${ms} ms of ${what} with a subscriptions/listen open; stderr:\n${stderr}`);
  }
  return result;
}

const cases = [
  { name: "stdin EOF", stop: (kv) => kv.child.stdin.end() },
  { name: "SIGTERM", stop: (kv) => kv.child.kill("SIGTERM") },
];

for (const tc of cases) {
  it(`exits 0 promptly on ${tc.name} with a ${VERSION} subscriptions/listen open`, { timeout: 30_000 }, async () => {
    const kv = start();
    try {
      kv.send("discover", "server/discover", { _meta: meta });
      const discovered = await kv.response("discover");
      assert.ok(discovered.result?.supportedVersions?.includes(VERSION), `server/discover = ${JSON.stringify(discovered)}, want ${VERSION} supported`);
      kv.send("listen", "subscriptions/listen", { _meta: meta, notifications: { toolsListChanged: true } });
      kv.send("tools", "tools/list", { _meta: meta });
      const list = await kv.response("tools");
      assert.deepEqual(list.result?.tools?.map((t) => t.name).sort(), ["call_api", "list_services"], `tools/list at ${VERSION}`);

      tc.stop(kv);
      // The drain is bounded at 5 s; allow for a loaded machine.
      const { code, signal } = await exitWithin(kv, 8000, tc.name);
      assert.equal(signal, null, `keyveil killed by ${signal}`);
      assert.equal(code, 0, "exit code");
      const { stdout, stderr } = kv.output();
      assert.deepEqual(leaks(stdout + stderr, FAKE_KEY), [], "stdout and stderr carry no form of the key");
    } finally {
      if (kv.child.exitCode === null && kv.child.signalCode === null) kv.child.kill("SIGKILL");
    }
  });
}
