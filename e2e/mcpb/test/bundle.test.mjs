// The Claude Desktop bundle, end to end: the official mcpb CLI unpacks and
// validates dist/keyveil.mcpb (built by scripts/mcpb.sh), the mcpb library's
// own getMcpConfigForManifest turns the manifest and a user's answers into
// the command, args and env Claude Desktop would run, and the linux server
// started that way answers initialize and calls a loopback API with the key
// the user typed, attached the way they chose.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const here = path.dirname(fileURLToPath(import.meta.url));
const mcpb = path.join(here, "..", "node_modules", ".bin", "mcpb");
const bundle = process.env.KEYVEIL_MCPB ?? path.join(here, "..", "..", "..", "dist", "keyveil.mcpb");
const KEY = "sk-test-LEAKCHECK-bundle-0123456789";

/**
 * configFor resolves the manifest as Claude Desktop on platform would, with
 * the user's answers over the defaults its settings form starts from.
 */
async function configFor(manifest, dir, platform, answers) {
  const userConfig = {};
  for (const [k, opt] of Object.entries(manifest.user_config)) {
    if (opt.default !== undefined) userConfig[k] = opt.default;
  }
  Object.assign(userConfig, answers);
  const real = process.platform;
  Object.defineProperty(process, "platform", { value: platform });
  try {
    return await getMcpConfigForManifest({
      manifest,
      extensionPath: dir,
      systemDirs: {},
      userConfig,
      pathSeparator: platform === "win32" ? "\\" : "/",
    });
  } finally {
    Object.defineProperty(process, "platform", { value: real });
  }
}

describe("keyveil.mcpb", () => {
  let dir;
  let manifest;
  let api;
  let seen = [];

  before(async () => {
    assert.ok(existsSync(bundle), `${bundle} is missing: run scripts/mcpb.sh first`);
    dir = mkdtempSync(path.join(tmpdir(), "keyveil-mcpb-"));
    execFileSync(mcpb, ["unpack", bundle, dir], { stdio: "pipe" });
    manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    api = http.createServer((req, res) => {
      seen.push({ url: req.url, key: req.headers["x-api-key"] });
      if (req.headers["x-api-key"] !== KEY) {
        res.writeHead(401).end("bad key");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
  });

  after(() => {
    api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("passes mcpb validate", () => {
    const out = execFileSync(mcpb, ["validate", path.join(dir, "manifest.json")], { encoding: "utf8" });
    assert.match(out, /validation passes/);
  });

  it("asks for the key as a sensitive value and passes it as MCP_API_KEY", () => {
    const uc = manifest.user_config;
    assert.equal(uc.api_key.sensitive, true);
    assert.equal(manifest.server.mcp_config.env.MCP_API_KEY, "${user_config.api_key}");
    for (const k of ["base_url", "auth", "allow", "read_only"]) assert.ok(uc[k], `user_config.${k}`);
    assert.equal(uc.read_only.type, "boolean");
  });

  it("has a binary for every platform it names", async () => {
    const want = {
      linux: ["server/keyveil-linux-amd64"],
      darwin: ["server/keyveil-darwin.sh", "server/keyveil-darwin-arm64", "server/keyveil-darwin-amd64"],
      win32: ["server/keyveil-windows-amd64.exe"],
    };
    for (const [platform, files] of Object.entries(want)) {
      const cfg = await configFor(manifest, dir, platform, { base_url: "https://api.example.com", api_key: KEY });
      const launched = platform === "darwin" ? cfg.args[0] : cfg.command;
      assert.equal(launched.replaceAll("\\", "/"), path.join(dir, files[0]), `${platform} launches ${launched}`);
      for (const f of files) {
        const st = statSync(path.join(dir, f));
        assert.ok(st.size > 0, f);
        if (!f.endsWith(".exe")) assert.ok(st.mode & 0o100, `${f} is executable after unpack`);
      }
    }
  });

  it("starts the linux server the way the manifest says; it answers initialize and uses the key", async () => {
    const cfg = await configFor(manifest, dir, "linux", {
      base_url: `http://127.0.0.1:${api.address().port}/v1`,
      auth: "header:X-API-Key",
      api_key: KEY,
    });
    assert.equal(cfg.env.KEYVEIL_READ_ONLY, "true");
    assert.equal(cfg.env.MCP_API_ALLOW, "GET /**");
    const child = spawn(cfg.command, cfg.args, {
      env: { PATH: process.env.PATH, HOME: dir, ...cfg.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const lines = createInterface({ input: child.stdout });
    const waiting = new Map();
    lines.on("line", (line) => {
      stdout += line + "\n";
      const msg = JSON.parse(line);
      waiting.get(msg.id)?.(msg);
    });
    const call = (id, method, params) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${method}; stderr:\n${stderr}`)), 20000);
        waiting.set(id, (m) => (clearTimeout(timer), resolve(m)));
        child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      });
    try {
      const init = await call(1, "initialize", {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "claude-desktop-like", version: "0" },
      });
      assert.equal(init.error, undefined, JSON.stringify(init.error));
      assert.equal(init.result.serverInfo.name, "keyveil");
      assert.equal(init.result.protocolVersion, "2025-11-25");
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
      const res = await call(2, "tools/call", { name: "call_api", arguments: { method: "GET", path: "/things" } });
      assert.equal(res.result?.structuredContent?.status, 200, JSON.stringify(res));
      assert.deepEqual(seen, [{ url: "/v1/things", key: KEY }]);
    } finally {
      child.stdin.end();
      await new Promise((resolve) => child.on("close", resolve));
    }
    assert.ok(!stdout.includes("LEAKCHECK"), "stdout shows the key");
    assert.ok(!stderr.includes("LEAKCHECK"), "stderr shows the key");
  });
});
