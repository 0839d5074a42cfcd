// Confirmation through MCP elicitation, end to end: the official TypeScript
// SDK client, declaring the elicitation capability, spawns the built
// keyveil binary with a services file whose DELETE tool has confirm: true.
// keyveil must ask (elicitation/create) before anything is sent, show what
// would be sent, send it only on accept, refuse on decline and cancel, and
// audit each answer.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { leaks, startDownstream } from "../lib/downstream.mjs";
import { binary, FAKE_KEY, requireBinary, versions } from "../lib/keyveil.mjs";

/** servicesFile declares one service at url and a confirmed DELETE tool. */
function servicesFile(url) {
  return `
services:
  items:
    base_url: ${url}
    auth: { type: bearer, env: ITEMS_TOKEN }
    call_api: false
tools:
  - name: delete_item
    description: Delete an item.
    service: items
    method: DELETE
    path: /items/{id}
    confirm: true
    input:
      type: object
      properties:
        id: { type: string, pattern: "^[0-9]+$" }
        reason: { type: string, maxLength: 200 }
      required: [id]
`;
}

/**
 * connectAnswering spawns keyveil with configPath and returns a client whose
 * elicitation handler answers with answer() and records every question.
 * protocolVersion replaces the one the SDK asks for in initialize, as the
 * shared connect helper does.
 */
async function connectAnswering(configPath, protocolVersion, answer) {
  requireBinary();
  const transport = new StdioClientTransport({
    command: binary,
    args: ["--config", configPath],
    env: { ITEMS_TOKEN: FAKE_KEY },
    stderr: "pipe",
  });
  const chunks = [];
  const stderrEnded = new Promise((resolve) => {
    transport.stderr.on("data", (c) => chunks.push(c));
    transport.stderr.on("end", resolve);
    transport.stderr.on("close", resolve);
  });
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (message.method === "initialize") {
      message = { ...message, params: { ...message.params, protocolVersion } };
    }
    return send(message, options);
  };
  const client = new Client({ name: "keyveil-e2e-elicitation", version: "0.0.0" }, { capabilities: { elicitation: { form: {} } } });
  const questions = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    questions.push(request.params);
    return answer();
  });
  await client.connect(transport);
  return {
    client,
    questions,
    stderr: () => Buffer.concat(chunks).toString("utf8"),
    close: async () => {
      await client.close();
      await Promise.race([stderrEnded, new Promise((r) => setTimeout(r, 5000).unref())]);
    },
  };
}

function textOf(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

/** auditLines returns the JSON audit records keyveil wrote to stderr. */
function auditLines(stderr) {
  return stderr.split("\n").flatMap((line) => {
    try {
      const r = JSON.parse(line);
      return r && typeof r === "object" && "outcome" in r ? [r] : [];
    } catch {
      return [];
    }
  });
}

for (const version of versions) {
  describe(`confirmation under the TypeScript SDK client at protocol ${version}`, () => {
    let down;
    let dir;
    let kv;
    let questions;
    let action = "accept";

    before(async () => {
      down = await startDownstream(FAKE_KEY);
      dir = mkdtempSync(path.join(tmpdir(), "keyveil-e2e-"));
      const configPath = path.join(dir, "services.yaml");
      writeFileSync(configPath, servicesFile(down.url), { mode: 0o600 });
      kv = await connectAnswering(configPath, version, () => ({ action }));
      questions = kv.questions;
    });
    after(async () => {
      await kv?.close();
      await down?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const deletes = () => down.requests.filter((r) => r.method === "DELETE").map((r) => new URL(r.url, "http://x").pathname);

    it("asks before the DELETE and sends it on accept", async () => {
      action = "accept";
      const res = await kv.client.callTool({ name: "delete_item", arguments: { id: "1", reason: `cleanup ${FAKE_KEY}` } });
      assert.equal(kv.questions.length, 1, "questions asked");
      const q = kv.questions[0];
      for (const want of ["delete_item", "Service: items", "Request: DELETE /items/1", 'id="1"', "[REDACTED:ITEMS_TOKEN]"]) {
        assert.ok(q.message.includes(want), `question ${JSON.stringify(q.message)} shows ${want}`);
      }
      assert.deepEqual(q.requestedSchema, { type: "object", properties: {} }, "requestedSchema");
      assert.deepEqual(deletes(), ["/items/1"], "DELETE requests that reached the API");
      // The demo downstream has no DELETE route: its 404 shows the
      // request went through.
      assert.equal(res.structuredContent?.status, 404, `result ${textOf(res)}`);
    });

    it("sends nothing on decline", async () => {
      action = "decline";
      const res = await kv.client.callTool({ name: "delete_item", arguments: { id: "2" } });
      assert.equal(res.isError, true, "isError");
      assert.match(textOf(res), /the user declined DELETE \/items\/2 on items, so nothing was sent/);
      assert.equal(kv.questions.length, 2, "questions asked");
      assert.equal(deletes().length, 1, "DELETE requests that reached the API");
    });

    it("sends nothing on cancel", async () => {
      action = "cancel";
      const res = await kv.client.callTool({ name: "delete_item", arguments: { id: "3" } });
      assert.equal(res.isError, true, "isError");
      assert.match(textOf(res), /dismissed the confirmation of DELETE \/items\/3/);
      assert.equal(deletes().length, 1, "DELETE requests that reached the API");
    });

    it("audits each answer and leaks no key", async () => {
      // The redacting writer under stderr may hold the last line back
      // until it closes.
      await kv.close();
      const stderr = kv.stderr();
      kv = undefined;
      const recs = auditLines(stderr).filter((r) => r.tool === "delete_item");
      assert.deepEqual(
        recs.map((r) => [r.outcome, r.confirmation]),
        [
          ["http_error", "accepted"],
          ["refused:confirmation_declined", "declined"],
          ["refused:confirmation_cancelled", "cancelled"],
        ],
        "audit outcomes",
      );
      assert.match(recs[0].idempotency_key ?? "", /^kv-[0-9a-f]{32}$/, "idempotency key of the sent DELETE");
      assert.deepEqual(leaks(stderr, FAKE_KEY), [], "stderr contains the key");
      assert.deepEqual(leaks(JSON.stringify(questions), FAKE_KEY), [], "questions contain the key");
    });
  });
}
