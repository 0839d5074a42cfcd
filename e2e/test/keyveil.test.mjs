// End-to-end: the official TypeScript SDK client (which none of us wrote)
// spawns the built keyveil binary over stdio, in front of a hostile
// downstream that reflects the key back in every encoding, and checks what a
// host would see: the tools list parses, calls work, refusals explain
// themselves, and the key never comes back on stdout or stderr.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { leaks, REDACTED, startDownstream } from "../lib/downstream.mjs";
import { connect, FAKE_KEY, versions } from "../lib/keyveil.mjs";

/** assertClean fails naming every form of the key found in what. */
function assertClean(what, value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const found = leaks(text, FAKE_KEY);
  assert.deepEqual(found, [], `${what} contains the key (${found.join(", ")}):\n${text.slice(0, 2000)}`);
}

/** textOf returns the concatenated text content of a tool result. */
function textOf(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

/** headerOf finds a response header in a call_api result, ignoring case. */
function headerOf(result, name) {
  const headers = result.structuredContent?.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : headers[key];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** schemaProblems lists property schemas that break strict clients. */
function schemaProblems(schema, where, out = []) {
  if (typeof schema === "boolean") {
    out.push(`${where} is the boolean schema ${schema}`);
    return out;
  }
  if (schema === null || typeof schema !== "object") return out;
  if (Array.isArray(schema.type)) out.push(`${where}.type is an array ${JSON.stringify(schema.type)}`);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) schemaProblems(sub, `${where}.properties.${name}`, out);
  if (schema.items !== undefined) schemaProblems(schema.items, `${where}.items`, out);
  if (typeof schema.additionalProperties === "object") schemaProblems(schema.additionalProperties, `${where}.additionalProperties`, out);
  for (const k of ["anyOf", "oneOf", "allOf"]) (schema[k] ?? []).forEach((sub, i) => schemaProblems(sub, `${where}.${k}[${i}]`, out));
  return out;
}

for (const version of versions) {
  describe(`keyveil under the TypeScript SDK client at protocol ${version}`, () => {
    let down;
    let kv;
    let closed = false;

    before(async () => {
      down = await startDownstream(FAKE_KEY);
      kv = await connect({ MCP_API_KEY: FAKE_KEY, MCP_API_BASE_URL: down.url }, { protocolVersion: version });
    });
    after(async () => {
      if (kv && !closed) await kv.close();
      await down?.close();
    });

    const call = (args) => kv.client.callTool({ name: "call_api", arguments: args });

    it("negotiates the protocol version it asked for", () => {
      assert.equal(kv.negotiated(), version, "initialize result protocolVersion");
      assert.equal(kv.client.getServerVersion()?.name, "keyveil", "serverInfo.name");
    });

    it("lists list_services and call_api with schemas strict clients accept", async () => {
      // listTools itself is the interop check: SDK 1.32.2 rejects the whole
      // list if any tool's schema is malformed (e.g. "body": true).
      const { tools } = await kv.client.listTools();
      const names = tools.map((t) => t.name).sort();
      assert.deepEqual(names, ["call_api", "list_services"], "tools/list names");
      const problems = tools.flatMap((t) => [
        ...schemaProblems(t.inputSchema, `${t.name}.inputSchema`),
        ...(t.outputSchema ? schemaProblems(t.outputSchema, `${t.name}.outputSchema`) : []),
      ]);
      assert.deepEqual(problems, [], "tool schemas");
      const callAPI = tools.find((t) => t.name === "call_api");
      for (const p of ["service", "method", "path", "query", "headers", "body"]) {
        assert.ok(p in callAPI.inputSchema.properties, `call_api input schema lacks ${p}`);
      }
      assertClean("tools/list result", tools);
    });

    it("list_services describes the one service without its key", async () => {
      const res = await kv.client.callTool({ name: "list_services", arguments: {} });
      assert.notEqual(res.isError, true, `list_services isError: ${textOf(res)}`);
      const { services } = res.structuredContent;
      assert.equal(services.length, 1, "number of services");
      const [api] = services;
      assert.equal(api.name, "api", "service name");
      assert.equal(api.base_url, down.url, "service base_url");
      assert.equal(api.auth, "bearer", "service auth");
      assert.deepEqual(api.allow, ["GET /**"], "default allow rules");
      assertClean("list_services result", res);
    });

    it("call_api GET /items returns status, headers, body and truncated", async () => {
      const res = await call({ method: "GET", path: "/items" });
      assert.notEqual(res.isError, true, `call_api isError: ${textOf(res)}`);
      const sc = res.structuredContent;
      assert.deepEqual(Object.keys(sc).sort(), ["body", "headers", "status", "truncated"], "structuredContent keys");
      assert.equal(sc.status, 200, "status");
      assert.equal(sc.truncated, false, "truncated");
      assert.equal(typeof sc.headers, "object", "headers type");
      assert.deepEqual(sc.body, { items: [{ id: 1, name: "alpha" }, { id: 2, name: "beta" }] }, "parsed JSON body");
      assert.deepEqual(JSON.parse(textOf(res)), sc, "text content carries the same data as structuredContent");
      const got = down.requests.filter((r) => r.url === "/items");
      assert.ok(got.length > 0 && got.every((r) => r.authorization === `Bearer ${FAKE_KEY}`),
        "downstream did not receive the key as a bearer token");
    });

    it("redacts the key echoed back in every encoding in a JSON body and headers", async () => {
      const res = await call({ method: "GET", path: "/echo" });
      assert.notEqual(res.isError, true, `call_api isError: ${textOf(res)}`);
      assertClean("/echo result", res);
      const { body } = res.structuredContent;
      assert.equal(body.raw, REDACTED, "body.raw");
      assert.equal(body.authorization, `Bearer ${REDACTED}`, "body.authorization");
      for (const field of ["base64", "hex", "percent", "json_escaped", "basic_auth_b64"]) {
        assert.ok(String(body[field]).includes(REDACTED), `body.${field} = ${JSON.stringify(body[field])}, want ${REDACTED} in it`);
      }
      for (const h of ["X-Request-Id", "X-RateLimit-Echo"]) {
        assert.ok(headerOf(res, h)?.includes(REDACTED), `${h} header = ${headerOf(res, h)}, want ${REDACTED} in it`);
      }
    });

    it("redacts the key echoed back in a text body", async () => {
      const res = await call({ method: "GET", path: "/echo.txt" });
      assert.notEqual(res.isError, true, `call_api isError: ${textOf(res)}`);
      assertClean("/echo.txt result", res);
      assert.ok(JSON.stringify(res).includes(REDACTED), `want ${REDACTED} in /echo.txt result`);
    });

    it("reports a downstream 500 as isError, with the key in its body redacted", async () => {
      const res = await call({ method: "GET", path: "/boom" });
      assert.equal(res.isError, true, "isError for HTTP 500");
      assertClean("/boom result", res);
      assert.ok(JSON.stringify(res).includes(REDACTED), `want ${REDACTED} in /boom result`);
    });

    it("refuses POST when only GET is allowed, saying what is allowed", async () => {
      const before = down.requests.length;
      const res = await call({ method: "POST", path: "/items", body: { name: "gamma" } });
      assert.equal(res.isError, true, "isError for a refused POST");
      const text = textOf(res);
      assert.match(text, /POST/, "refusal names the method");
      assert.match(text, /GET \/\*\*/, "refusal names the allow rule");
      assert.equal(down.requests.length, before, "a refused call reached the downstream");
    });

    const refusals = [
      { name: "a path that leaves the base URL", args: { method: "GET", path: "/../../etc/passwd" } },
      { name: "a scheme-relative path to another host", args: { method: "GET", path: "//evil.example/x" } },
      { name: "an absolute URL", args: { method: "GET", path: "http://evil.example/x" } },
      { name: "a credential header", args: { method: "GET", path: "/items", headers: { Authorization: "Bearer other" } } },
    ];
    for (const tc of refusals) {
      it(`refuses ${tc.name}`, async () => {
        const before = down.requests.length;
        const res = await call(tc.args);
        assert.equal(res.isError, true, `call_api(${JSON.stringify(tc.args)}) isError`);
        assert.ok(textOf(res).length > 0, "refusal has a message");
        assert.equal(down.requests.length, before, "a refused call reached the downstream");
      });
    }

    it("never writes the key to stderr", async () => {
      closed = true;
      await kv.close();
      const stderr = kv.stderr();
      // Audit lines go to stderr by default: an empty capture would prove nothing.
      assert.match(stderr, /call_api/, "stderr capture has no audit line for call_api");
      assertClean("keyveil stderr", stderr);
    });
  });
}
