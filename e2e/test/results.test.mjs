// Result shapes, end to end over stdio: the official TypeScript SDK client
// calls a declared tool down every path a call can end on (fresh, HTTP
// error, truncated, replayed, rate limited, refused, network error,
// confirmation unavailable, declined, cancelled, accepted). The client
// validates structuredContent against the tool's outputSchema and fails
// the call when a successful result has none, so a call that resolves here
// is one a TypeScript host can use.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { leaks } from "../lib/downstream.mjs";
import { binary, connect, FAKE_KEY, requireBinary, versions } from "../lib/keyveil.mjs";
import { checkResult, itemsServices, ITEMS_ENV, resultPaths, startItemsDownstream } from "../lib/results.mjs";

/**
 * connectEliciting spawns keyveil with env and a client that declares
 * elicitation and answers each question with answer.action.
 */
async function connectEliciting(env, protocolVersion, answer) {
  requireBinary();
  const transport = new StdioClientTransport({ command: binary, args: [], env, stderr: "pipe" });
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (message.method === "initialize") {
      message = { ...message, params: { ...message.params, protocolVersion } };
    }
    return send(message, options);
  };
  const client = new Client({ name: "keyveil-e2e-results", version: "0.0.0" }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: answer.action }));
  await client.connect(transport);
  return client;
}

for (const version of versions) {
  describe(`every result path satisfies the output schema (stdio, protocol ${version})`, () => {
    let down;
    let dir;
    let plain;
    let eliciting;
    const answer = { action: "accept" };

    before(async () => {
      down = await startItemsDownstream(FAKE_KEY);
      dir = mkdtempSync(path.join(tmpdir(), "keyveil-e2e-results-"));
      const config = path.join(dir, "services.yaml");
      writeFileSync(config, itemsServices(down.url), { mode: 0o600 });
      const env = { [ITEMS_ENV]: FAKE_KEY, KEYVEIL_CONFIG: config };
      plain = await connect(env, { protocolVersion: version });
      eliciting = await connectEliciting(env, version, answer);
      // The client validates only tools it has listed.
      await plain.client.listTools();
      await eliciting.listTools();
    });

    after(async () => {
      await plain?.close();
      await eliciting?.close();
      await down?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const p of resultPaths) {
      it(`${p.name}: ${p.tool}`, async () => {
        const client = p.elicit ? eliciting : plain.client;
        if (p.elicit) answer.action = p.elicit;
        let result;
        for (let i = 0; i < p.calls; i++) {
          // Throws McpError -32600 or -32602 when the result breaks the schema.
          result = await client.callTool({ name: p.tool, arguments: p.args });
        }
        assert.deepEqual(checkResult(p, result), [], `${p.tool} result: ${JSON.stringify(result)}`);
        assert.deepEqual(leaks(JSON.stringify(result), FAKE_KEY), []);
      });
    }
  });
}
