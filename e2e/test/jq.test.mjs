// call_api's jq argument under the official TypeScript SDK client: the
// filter shapes a JSON body, a bad filter is refused before anything is
// sent, and a filter that transforms an echoed key gets only the redaction
// marker to transform, never the key.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { leaks, startDownstream } from "../lib/downstream.mjs";
import { connect, FAKE_KEY, versions } from "../lib/keyveil.mjs";

function textOf(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

for (const version of versions) {
  describe(`call_api jq at protocol ${version}`, () => {
    let down;
    let kv;

    before(async () => {
      down = await startDownstream(FAKE_KEY);
      kv = await connect({ MCP_API_KEY: FAKE_KEY, MCP_API_BASE_URL: down.url }, { protocolVersion: version });
    });
    after(async () => {
      await kv?.close();
      await down?.close();
    });

    it("shapes the body with the filter", async () => {
      const res = await kv.client.callTool({ name: "call_api", arguments: { method: "GET", path: "/items", jq: "[.items[].name]" } });
      assert.notEqual(res.isError, true, textOf(res));
      assert.deepEqual(res.structuredContent.body, ["alpha", "beta"]);
      assert.equal(res.structuredContent.status, 200);
    });

    it("reports a filter error as a tool error, with nothing unfiltered", async () => {
      const res = await kv.client.callTool({ name: "call_api", arguments: { method: "GET", path: "/echo", jq: ".authorization | @base32" } });
      assert.equal(res.isError, true);
      assert.match(textOf(res), /jq filter failed/);
      assert.deepEqual(leaks(JSON.stringify(res), FAKE_KEY), []);
    });

    it("refuses a filter that does not parse, and sends nothing", async () => {
      const before = down.requests.length;
      const res = await kv.client.callTool({ name: "call_api", arguments: { method: "GET", path: "/items", jq: ".items[" } });
      assert.equal(res.isError, true);
      assert.match(textOf(res), /jq filter/);
      assert.equal(down.requests.length, before, "a request was sent for a bad filter");
    });

    for (const filter of [
      ".authorization | ascii_downcase",
      ".authorization | explode | map(. + 1) | implode",
      ".authorization | @base64",
      '.authorization | split("") | reverse | join("")',
      ".authorization | .[7:14]",
    ]) {
      it(`transforms only the marker: ${filter}`, async () => {
        const res = await kv.client.callTool({ name: "call_api", arguments: { method: "GET", path: "/echo", jq: filter } });
        assert.notEqual(res.isError, true, textOf(res));
        const text = JSON.stringify(res);
        assert.deepEqual(leaks(text, FAKE_KEY), [], `the key came back through ${filter}: ${text.slice(0, 500)}`);
        assert.doesNotMatch(text, /LEAKCHECK|leakcheck/);
      });
    }
  });
}
