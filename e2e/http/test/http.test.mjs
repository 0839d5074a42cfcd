// End-to-end test of `keyveil serve --http`: the official TypeScript SDK
// client (which none of us wrote) reaches the built binary over
// StreamableHTTPClientTransport, with keyveil's own API keys in
// requestInit.headers, the way a remote agent would. A local downstream API
// insists on the upstream key and echoes it back; the test checks that calls
// work end to end, that the upstream key comes back only as
// [REDACTED:MCP_API_KEY], and that keyveil refuses what it must refuse:
// no key, a wrong key, a key revoked while the server runs, another key's
// session.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** binary is the keyveil executable under test: $KEYVEIL_BIN, else the repository root's. */
const binary = path.resolve(process.env.KEYVEIL_BIN ?? path.join(here, "..", "..", "..", "keyveil"));

/** UPSTREAM_KEY is the downstream API's key; it must never come back. */
const UPSTREAM_KEY = "sk-test-LEAKCHECK-0123456789";

/** REDACTED is what keyveil must put wherever the upstream key was. */
const REDACTED = "[REDACTED:MCP_API_KEY]";

/** KEY_SHAPE is keyveil's API key format, kv_<id>_<secret>. */
const KEY_SHAPE = /^kv_([a-z0-9]+)_([a-z0-9]+)$/;

const run = promisify(execFile);

/**
 * keys runs `keyveil keys ARGS --keys FILE` with an empty environment (so no
 * KEYVEIL_KEYS from the caller's shell points it elsewhere) and returns its
 * stdout and stderr.
 */
async function keys(file, ...args) {
  return run(binary, ["keys", ...args, "--keys", file], { env: {}, timeout: 10_000 });
}

/** createKey makes a key named name and returns it with its id. */
async function createKey(file, name) {
  const { stdout } = await keys(file, "create", "--name", name);
  const m = KEY_SHAPE.exec(stdout.replace(/\n$/, ""));
  assert.ok(m && stdout.endsWith("\n") && stdout.indexOf("\n") === stdout.length - 1,
    `keyveil keys create --name ${name}: stdout = ${JSON.stringify(stdout)}, want one line kv_<id>_<secret>`);
  return { key: m[0], id: m[1] };
}

/**
 * startDownstream listens on 127.0.0.1 on a free port and records every
 * request's method, URL and headers. A request without
 * "Authorization: Bearer UPSTREAM_KEY" gets 401; GET /echo answers with the
 * key and the Authorization header it received; anything else is 404.
 */
async function startDownstream() {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    req.resume();
    const send = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const auth = req.headers.authorization ?? "";
    if (auth !== `Bearer ${UPSTREAM_KEY}`) return send(401, { error: "missing or wrong API key" });
    if (req.method === "GET" && new URL(req.url, "http://x").pathname === "/echo") {
      return send(200, { message: "hello", key: UPSTREAM_KEY, authorization: auth });
    }
    send(404, { error: "no such route" });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

/**
 * startKeyveil runs `keyveil serve --http 127.0.0.1:0 --keys FILE` and
 * resolves once it logs `msg=listening addr=HOST:PORT` on stderr. Its
 * environment holds the downstream's URL and key and nothing else.
 */
async function startKeyveil(keysFile, downstreamURL) {
  if (!existsSync(binary)) {
    throw new Error(`keyveil binary not found at ${binary}: run \`go build -o keyveil .\` at the repository root, or set KEYVEIL_BIN`);
  }
  const child = spawn(binary, ["serve", "--http", "127.0.0.1:0", "--keys", keysFile], {
    env: { MCP_API_KEY: UPSTREAM_KEY, MCP_API_BASE_URL: downstreamURL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout = [];
  const stderr = [];
  child.stdout.on("data", (c) => stdout.push(c));
  child.stderr.on("data", (c) => stderr.push(c));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const text = (chunks) => Buffer.concat(chunks).toString("utf8");

  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`keyveil did not log its address within 10 s; stderr:\n${text(stderr)}`)), 10_000);
    const look = () => {
      const m = /msg=listening addr=(\S+)/.exec(text(stderr));
      if (m) {
        clearTimeout(timer);
        child.stderr.off("data", look);
        resolve(m[1]);
      }
    };
    child.stderr.on("data", look);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`keyveil exited (code ${code}, signal ${signal}) before listening; stderr:\n${text(stderr)}`));
    });
  });
  return {
    url: new URL(`http://${addr}/mcp`),
    stdout: () => text(stdout),
    stderr: () => text(stderr),
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    kill: (signal) => child.kill(signal),
  };
}

/** textOf returns the concatenated text content of a tool result. */
function textOf(result) {
  return (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

/** httpCode returns the HTTP status a StreamableHTTPError carries, or undefined. */
function httpCode(err) {
  return err instanceof StreamableHTTPError ? err.code : undefined;
}

/**
 * post sends one initialize request with headers, outside the SDK, so the
 * test can see the status, headers and body of a refusal.
 */
async function post(url, headers) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "keyveil-e2e-http", version: "0.0.0" } },
    }),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("keyveil serve --http under the TypeScript SDK client", () => {
  let dir;
  let keysFile;
  let down;
  let kv;
  const clients = [];
  const issued = {}; // name -> { key, id }

  /** connect opens an SDK client session on kv with the given headers. */
  async function connect(headers, { sessionId } = {}) {
    const transport = new StreamableHTTPClientTransport(kv.url, { requestInit: { headers }, sessionId });
    const client = new Client({ name: "keyveil-e2e-http", version: "0.0.0" });
    await client.connect(transport);
    clients.push({ client, transport });
    return { client, transport };
  }

  /**
   * closeAll ends every session the way a polite client does, with DELETE
   * (refused for a revoked key or a borrowed session id, which is fine),
   * then closes the clients.
   */
  async function closeAll() {
    for (const { client, transport } of clients.splice(0)) {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    }
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "keyveil-e2e-http-"));
    keysFile = path.join(dir, "keys.json");
    for (const name of ["bearer", "x-api-key", "revoked", "intruder"]) {
      issued[name] = await createKey(keysFile, name);
    }
    down = await startDownstream();
    kv = await startKeyveil(keysFile, down.url);
  });

  after(async () => {
    await closeAll();
    if (kv?.running()) {
      kv.kill("SIGTERM");
      const killer = setTimeout(() => kv.kill("SIGKILL"), 5_000);
      await kv.exited;
      clearTimeout(killer);
    }
    await down?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keys create wrote a registry that holds no secret", async () => {
    const { stdout } = await keys(keysFile, "list", "--json");
    for (const [name, { key, id }] of Object.entries(issued)) {
      assert.ok(stdout.includes(id), `keyveil keys list --json lacks key id ${id} (${name})`);
      assert.ok(!stdout.includes(KEY_SHAPE.exec(key)[2]), `keyveil keys list --json shows the secret of ${name}`);
    }
  });

  it("Authorization: Bearer lists the tools", async () => {
    const { client, transport } = await connect({ Authorization: `Bearer ${issued.bearer.key}` });
    assert.equal(client.getServerVersion()?.name, "keyveil", "serverInfo.name");
    assert.ok(transport.sessionId, "no Mcp-Session-Id for a 2025-11-25 client");
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["call_api", "list_services"], "tools/list names");
  });

  it("call_api reaches the downstream with the upstream key and returns it redacted", async () => {
    const { client } = await connect({ Authorization: `Bearer ${issued.bearer.key}` });
    const before = down.requests.length;
    const res = await client.callTool({ name: "call_api", arguments: { method: "GET", path: "/echo" } });
    assert.notEqual(res.isError, true, `call_api isError: ${textOf(res)}`);
    const sc = res.structuredContent;
    assert.equal(sc.status, 200, "structuredContent.status");
    assert.equal(sc.truncated, false, "structuredContent.truncated");
    assert.deepEqual(sc.body, { message: "hello", key: REDACTED, authorization: `Bearer ${REDACTED}` }, "structuredContent.body");
    assert.deepEqual(JSON.parse(textOf(res)), sc, "text content carries the same data as structuredContent");
    assert.ok(!JSON.stringify(res).includes(UPSTREAM_KEY), "call_api result contains the upstream key");

    const got = down.requests.slice(before);
    assert.equal(got.length, 1, "requests that reached the downstream");
    assert.equal(got[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`, "downstream Authorization");
    const sent = JSON.stringify(got[0].headers);
    for (const { key } of Object.values(issued)) {
      assert.ok(!sent.includes(key), "keyveil forwarded a client API key to the downstream");
    }
  });

  it("X-API-Key works as well as Authorization", async () => {
    const { client } = await connect({ "X-API-Key": issued["x-api-key"].key });
    const res = await client.callTool({ name: "call_api", arguments: { method: "GET", path: "/echo" } });
    assert.notEqual(res.isError, true, `call_api isError: ${textOf(res)}`);
    assert.equal(res.structuredContent.body.key, REDACTED, "structuredContent.body.key");
    assert.ok(!JSON.stringify(res).includes(UPSTREAM_KEY), "call_api result contains the upstream key");
  });

  const unknownKey = "kv_zzzzzzzz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  // headers is a function: the issued keys exist only once before() has run.
  const refusals = [
    { name: "no key", headers: () => ({}), message: /^missing API key/ },
    { name: "an unknown key", headers: () => ({ Authorization: `Bearer ${unknownKey}` }), message: /^invalid API key/ },
    { name: "an unknown X-API-Key", headers: () => ({ "X-API-Key": unknownKey }), message: /^invalid API key/ },
    { name: "a known id with a wrong secret", headers: () => ({ Authorization: `Bearer kv_${issued.bearer.id}_${"a".repeat(32)}` }), message: /^invalid API key/ },
    { name: "a key that is not keyveil's", headers: () => ({ Authorization: `Bearer ${UPSTREAM_KEY}` }), message: /^invalid API key/ },
    { name: "a Basic header", headers: () => ({ Authorization: "Basic dXNlcjpwYXNz" }), message: /^invalid API key/ },
  ];
  for (const tc of refusals) {
    it(`the SDK client cannot connect with ${tc.name} (HTTP 401)`, async () => {
      const err = await connect(tc.headers()).then(() => undefined, (e) => e);
      assert.ok(err, `connect with ${tc.name} succeeded`);
      assert.equal(httpCode(err), 401, `connect with ${tc.name}: error ${err}, want a StreamableHTTPError with code 401`);
    });

    it(`${tc.name} gets 401, WWW-Authenticate: Bearer and a JSON-RPC error`, async () => {
      const { status, headers, body } = await post(kv.url, tc.headers());
      assert.equal(status, 401, `POST /mcp with ${tc.name}: status`);
      assert.match(headers.get("www-authenticate") ?? "", /^Bearer\b/, `POST /mcp with ${tc.name}: WWW-Authenticate`);
      assert.equal(body?.jsonrpc, "2.0", `POST /mcp with ${tc.name}: body ${JSON.stringify(body)}`);
      assert.equal(body.id, null, "body.id");
      assert.equal(body.error?.code, -32001, "body.error.code");
      assert.match(body.error.message, tc.message, "body.error.message");
    });
  }

  it("a wrong secret for a known id reads exactly like an unknown id", async () => {
    const known = await post(kv.url, { Authorization: `Bearer kv_${issued.bearer.id}_${"a".repeat(32)}` });
    const unknown = await post(kv.url, { Authorization: `Bearer ${unknownKey}` });
    assert.deepEqual({ status: known.status, body: known.body }, { status: unknown.status, body: unknown.body },
      "refusal of a known id with a wrong secret vs an unknown id");
  });

  it("another key presenting a session's id gets 403", async () => {
    const owner = await connect({ Authorization: `Bearer ${issued.bearer.key}` });
    const { client } = await connect({ "X-API-Key": issued.intruder.key }, { sessionId: owner.transport.sessionId });
    const err = await client.listTools().then(() => undefined, (e) => e);
    assert.ok(err, "tools/list on another key's session succeeded");
    assert.equal(httpCode(err), 403, `tools/list on another key's session: error ${err}, want code 403`);
    await owner.client.listTools(); // the owner's session is unharmed
  });

  it("a key revoked while the server runs is refused within 2 s", async () => {
    const { client } = await connect({ Authorization: `Bearer ${issued.revoked.key}` });
    await client.listTools();

    await keys(keysFile, "revoke", issued.revoked.id);
    const start = performance.now();
    let err;
    while (!err && performance.now() - start < 2_000) {
      err = await client.listTools().then(() => undefined, (e) => e);
      if (!err) await delay(50);
    }
    const elapsed = Math.round(performance.now() - start);
    assert.ok(err, "the open session still works 2 s after keyveil keys revoke");
    assert.equal(httpCode(err), 401, `tools/list after revoke: error ${err}, want code 401`);
    console.log(`# revoked key refused on its open session after ${elapsed} ms`);

    const { status, body } = await post(kv.url, { Authorization: `Bearer ${issued.revoked.key}` });
    assert.equal(status, 401, "POST /mcp with the revoked key: status");
    assert.match(body?.error?.message ?? "", /revoked/i, "POST /mcp with the revoked key: error message");

    // The other keys are unaffected.
    const other = await connect({ Authorization: `Bearer ${issued.bearer.key}` });
    await other.client.listTools();
  });

  it("shuts down on SIGTERM with exit 0, having written no key anywhere", async () => {
    await closeAll();
    // Node's fetch may hold a connection it opened but never used; net/http's
    // Shutdown waits up to 5 s for such a connection before closing it.
    // Closing fetch's pool (undici's documented global-dispatcher symbol)
    // keeps the test fast; the grace itself is net/http's, not keyveil's.
    await globalThis[Symbol.for("undici.globalDispatcher.1")]?.close();
    const start = performance.now();
    kv.kill("SIGTERM");
    const { code, signal } = await kv.exited;
    assert.equal(code, 0, `keyveil exit code after SIGTERM (signal ${signal}); stderr:\n${kv.stderr()}`);
    console.log(`# keyveil exited ${Math.round(performance.now() - start)} ms after SIGTERM`);
    assert.equal(kv.stdout(), "", "keyveil wrote to stdout in HTTP mode");

    const log = kv.stderr();
    // Audit lines go to stderr by default: without them this check proves nothing.
    assert.match(log, new RegExp(`"key_id":"${issued.bearer.id}"`), "stderr has no access record naming the bearer key's id");
    assert.match(log, /call_api/, "stderr has no audit line for call_api");
    assert.ok(!log.includes(UPSTREAM_KEY), "keyveil stderr contains the upstream key");
    for (const [name, { key }] of Object.entries(issued)) {
      assert.ok(!log.includes(key), `keyveil stderr contains the ${name} API key`);
      assert.ok(!log.includes(KEY_SHAPE.exec(key)[2]), `keyveil stderr contains the ${name} API key's secret`);
    }
  });
});
