// Every way a tool call can end, for the end-to-end tests of result shapes
// (stdio in e2e/test/results.test.mjs, HTTP in e2e/http/test/results.test.mjs).
// The TypeScript SDK client validates structuredContent against the tool's
// outputSchema whenever it is present, and fails a successful result that has
// none with -32600: a replayed result without structuredContent broke every
// TypeScript host. This module has no SDK import, so both packages can share
// it with their own SDK copy.

import http from "node:http";

/** ITEMS_ENV names the variable the services file reads the key from. */
export const ITEMS_ENV = "ITEMS_TOKEN";

/**
 * startItemsDownstream listens on 127.0.0.1 on a free port and insists on
 * "Authorization: Bearer KEY". Routes:
 *
 *   GET    /items       200 JSON list
 *   POST   /items       201 JSON, a new id each time (so a replay is visible)
 *   DELETE /items/ID    200 JSON
 *   GET    /big         200 JSON of about 4 KiB (more than the cap)
 *   GET    /hangup      closes the connection without an answer
 *   anything else       404 JSON
 */
export async function startItemsDownstream(key) {
  const requests = [];
  let next = 1;
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url });
    req.resume();
    const send = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${key}`) return send(401, { error: "missing or wrong API key" });
    const path = new URL(req.url, "http://x").pathname;
    if (req.method === "GET" && path === "/items") return send(200, { items: [{ id: 1, name: "alpha" }] });
    if (req.method === "POST" && path === "/items") return send(201, { id: next++, created: true });
    if (req.method === "DELETE" && /^\/items\/\d+$/.test(path)) return send(200, { deleted: true });
    if (req.method === "GET" && path === "/big") return send(200, { filler: "x".repeat(4096) });
    if (req.method === "GET" && path === "/hangup") return req.socket.destroy();
    send(404, { error: "no such route" });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** itemsServices is a services file with one declared tool per result path. */
export function itemsServices(url) {
  return `
services:
  items:
    base_url: ${url}
    auth: { type: bearer, env: ${ITEMS_ENV} }
    allow: ["GET /**", "POST /items"]
    max_response_bytes: 1024
tools:
  - name: list_items
    description: List the items.
    service: items
    method: GET
    path: /items
  - name: get_missing
    description: Read a route that does not exist.
    service: items
    method: GET
    path: /missing
  - name: get_big
    description: Read a response longer than the cap.
    service: items
    method: GET
    path: /big
  - name: create_item
    description: Create an item.
    service: items
    method: POST
    path: /items
    input:
      type: object
      properties: { name: { type: string, minLength: 1, maxLength: 40 } }
      required: [name]
  - name: export_items
    description: Export the items; rate limited.
    service: items
    method: GET
    path: /items
    rate: 1/min
  - name: hang_up
    description: Call a route that hangs up.
    service: items
    method: GET
    path: /hangup
  - name: delete_item
    description: Delete an item; the user confirms.
    service: items
    method: DELETE
    path: /items/{id}
    confirm: true
    input:
      type: object
      properties: { id: { type: string, pattern: "^[0-9]+$" } }
      required: [id]
`;
}

/**
 * resultPaths lists every way a call can end, in the order to run them
 * (export_items is rate limited on its second call, create_item replays on
 * its second). elicit is the user's answer to a confirmation; null: a
 * client without elicitation. want is checked against structuredContent.
 */
export const resultPaths = [
  { name: "fresh", tool: "list_items", args: {}, calls: 1, isError: false, want: { status: 200, truncated: false } },
  { name: "http error", tool: "get_missing", args: {}, calls: 1, isError: true, want: { status: 404 } },
  { name: "truncated", tool: "get_big", args: {}, calls: 1, isError: false, want: { status: 200, truncated: true } },
  { name: "replayed", tool: "create_item", args: { name: "e2e" }, calls: 2, isError: false, want: { status: 201, replayed: true } },
  { name: "rate limited", tool: "export_items", args: {}, calls: 2, isError: true, want: { status: 429 } },
  { name: "refused", tool: "create_item", args: { name: "" }, calls: 1, isError: true, want: { status: 0 } },
  { name: "network error", tool: "hang_up", args: {}, calls: 1, isError: true, want: { status: 0 } },
  { name: "confirmation unavailable", tool: "delete_item", args: { id: "1" }, elicit: null, calls: 1, isError: true, want: { status: 0 } },
  { name: "confirmation declined", tool: "delete_item", args: { id: "2" }, elicit: "decline", calls: 1, isError: true, want: { status: 0 } },
  { name: "confirmation cancelled", tool: "delete_item", args: { id: "3" }, elicit: "cancel", calls: 1, isError: true, want: { status: 0 } },
  { name: "confirmation accepted", tool: "delete_item", args: { id: "4" }, elicit: "accept", calls: 1, isError: false, want: { status: 200 } },
];

/**
 * checkResult returns what is wrong with result for path p (an empty list
 * when nothing is). The SDK client has already validated structuredContent
 * against the output schema (it throws otherwise); this checks it is there
 * and says what the path should say.
 */
export function checkResult(p, result) {
  const problems = [];
  const sc = result.structuredContent;
  if (!sc || typeof sc !== "object") {
    return [`no structuredContent (isError ${result.isError})`];
  }
  if (Boolean(result.isError) !== p.isError) problems.push(`isError = ${result.isError}, want ${p.isError}`);
  for (const [k, v] of Object.entries(p.want)) {
    if (sc[k] !== v) problems.push(`structuredContent.${k} = ${JSON.stringify(sc[k])}, want ${JSON.stringify(v)}`);
  }
  if (p.want.status === 0 && !(typeof sc.body?.error === "string" && sc.body.error.length > 0)) {
    problems.push(`structuredContent.body.error = ${JSON.stringify(sc.body)}, want the reason`);
  }
  return problems;
}
