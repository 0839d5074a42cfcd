// A service whose auth is a list of parts (issue 11), Datadog's shape: two
// header keys on every request. Under the official TypeScript SDK client
// the downstream must receive both headers with their exact values, the
// model's result must hold neither value (the downstream echoes both back),
// and a second origin must receive neither header nor value.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { leaks } from "../lib/downstream.mjs";
import { connect, versions } from "../lib/keyveil.mjs";

const API_KEY = "pv-e2e-dd-api-5b0e8c41f7a2d936";
const APP_KEY = "pv-e2e-dd-app-c27f94e1a08b5d3f6e19";

function textOf(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

/**
 * listen starts a server on 127.0.0.1 whose handler gets each request
 * with its body; every request is recorded (method, url, headers).
 */
async function listen(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: { ...req.headers } });
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

for (const version of versions) {
  describe(`multi-part auth at protocol ${version}`, () => {
    let dd;
    let other;
    let kv;
    let dir;

    before(async () => {
      // Datadog's validate endpoint, stricter than Datadog: both keys, exact.
      dd = await listen((req, res) => {
        if (req.headers["dd-api-key"] !== API_KEY || req.headers["dd-application-key"] !== APP_KEY) {
          return json(res, 403, { errors: ["Forbidden"] });
        }
        // A careless API: it echoes what it was sent.
        json(res, 200, { valid: true, api_key: req.headers["dd-api-key"], application_key: req.headers["dd-application-key"] });
      });
      other = await listen((req, res) => json(res, 200, { other: true }));
      dir = mkdtempSync(path.join(os.tmpdir(), "keyveil-multipart-"));
      const config = path.join(dir, "services.yaml");
      writeFileSync(
        config,
        `services:
  datadog:
    base_url: ${dd.url}/api
    auth:
      - { type: header, name: DD-API-KEY, env: DD_API_KEY }
      - { type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY }
  other:
    base_url: ${other.url}
    auth: { type: none }
`,
      );
      kv = await connect({ KEYVEIL_CONFIG: config, DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY }, { protocolVersion: version });
    });
    after(async () => {
      await kv?.close();
      await dd?.close();
      await other?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("sends both parts and shows the model neither", async () => {
      const res = await kv.client.callTool({ name: "call_api", arguments: { service: "datadog", method: "GET", path: "/v1/validate" } });
      assert.notEqual(res.isError, true, textOf(res));
      assert.equal(res.structuredContent.status, 200, textOf(res));
      const got = dd.requests.at(-1);
      assert.equal(got.url, "/api/v1/validate");
      assert.equal(got.headers["dd-api-key"], API_KEY, "the downstream did not get DD-API-KEY");
      assert.equal(got.headers["dd-application-key"], APP_KEY, "the downstream did not get DD-APPLICATION-KEY");

      const text = JSON.stringify(res);
      assert.deepEqual(leaks(text, API_KEY), [], `DD_API_KEY came back: ${text.slice(0, 500)}`);
      assert.deepEqual(leaks(text, APP_KEY), [], `DD_APP_KEY came back: ${text.slice(0, 500)}`);
      assert.equal(res.structuredContent.body.api_key, "[REDACTED:DD_API_KEY]");
      assert.equal(res.structuredContent.body.application_key, "[REDACTED:DD_APP_KEY]");
    });

    it("sends neither part to another origin", async () => {
      const res = await kv.client.callTool({ name: "call_api", arguments: { service: "other", method: "GET", path: "/anything" } });
      assert.notEqual(res.isError, true, textOf(res));
      assert.ok(other.requests.length > 0, "the other service was not called");
      for (const r of other.requests) {
        assert.equal(r.headers["dd-api-key"], undefined, "DD-API-KEY reached the other origin");
        assert.equal(r.headers["dd-application-key"], undefined, "DD-APPLICATION-KEY reached the other origin");
        const seen = JSON.stringify(r);
        assert.deepEqual(leaks(seen, API_KEY), [], "DD_API_KEY reached the other origin");
        assert.deepEqual(leaks(seen, APP_KEY), [], "DD_APP_KEY reached the other origin");
      }
    });

    it("lists the service with both parts and no value", async () => {
      const res = await kv.client.callTool({ name: "list_services", arguments: {} });
      assert.notEqual(res.isError, true, textOf(res));
      const text = JSON.stringify(res);
      assert.match(text, /DD-API-KEY/);
      assert.match(text, /DD-APPLICATION-KEY/);
      assert.deepEqual(leaks(text, API_KEY), []);
      assert.deepEqual(leaks(text, APP_KEY), []);
    });

    it("leaves no key on stderr", () => {
      assert.deepEqual(leaks(kv.stderr(), API_KEY), []);
      assert.deepEqual(leaks(kv.stderr(), APP_KEY), []);
    });
  });
}
