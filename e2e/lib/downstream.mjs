// A hostile downstream API for the end-to-end tests: it insists on the key
// (as keyveil's default bearer auth sends it) and then reflects it back in
// every encoding a careless or malicious API might use, so the tests can
// check that none of them reaches the model.

import http from "node:http";

/** REDACTED is what keyveil must put wherever the key was. */
export const REDACTED = "[REDACTED:MCP_API_KEY]";

const b64 = (s) => Buffer.from(s, "utf8").toString("base64");
const b64url = (s) => Buffer.from(s, "utf8").toString("base64url");
const hex = (s) => Buffer.from(s, "utf8").toString("hex");
const percentAll = (s) =>
  [...Buffer.from(s, "utf8")].map((c) => "%" + c.toString(16).toUpperCase().padStart(2, "0")).join("");
const jsonEscapedAll = (s) => [...s].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
const htmlDecimal = (s) => [...s].map((c) => "&#" + c.charCodeAt(0) + ";").join("");
const reversed = (s) => [...s].reverse().join("");
// Every other character percent-encoded: only a decoding pass can find it.
const percentHalf = (s) =>
  [...s].map((c, i) => (i % 2 ? "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0") : c)).join("");

/**
 * variants returns the key as the downstream plants it: name -> text that
 * must never reach the client. JSON-escaped and HTML forms are planted in the
 * response too but are listed under the text they leave after decoding.
 */
export function variants(key) {
  return {
    raw: key,
    upper: key.toUpperCase(),
    reversed: reversed(key),
    base64: b64(key),
    base64_unpadded: b64(key).replace(/=+$/, ""),
    base64url: b64url(key),
    hex: hex(key),
    hex_upper: hex(key).toUpperCase(),
    percent: percentAll(key),
    percent_half: percentHalf(key),
    html_decimal: htmlDecimal(key),
    basic_auth_b64: b64("user:" + key),
  };
}

/**
 * base64Cores returns, for each alignment of the key inside a longer base64
 * text, the part of the encoding that depends on the key's bytes alone. A
 * leak of the key inside any base64 blob (Basic auth, a JWT, a cookie)
 * contains one of these.
 */
export function base64Cores(key) {
  const bytes = Buffer.from(key, "utf8");
  const cores = [];
  for (let off = 0; off < 3; off++) {
    const enc = Buffer.concat([Buffer.alloc(off, 0x41), bytes]).toString("base64");
    const start = off === 0 ? 0 : 4;
    const end = Math.floor((off + bytes.length) / 3) * 4;
    cores.push(enc.slice(start, end));
  }
  return cores;
}

/**
 * leaks returns the names of every form of key found in text, compared
 * exactly and, where the encoding is case-blind, ignoring case. An empty list
 * means the text is clean.
 */
export function leaks(text, key) {
  const found = [];
  for (const [name, v] of Object.entries(variants(key))) {
    if (text.includes(v)) found.push(name);
  }
  const lower = text.toLowerCase();
  for (const [name, v] of Object.entries({ raw: key, hex: hex(key), percent: percentAll(key) })) {
    if (lower.includes(v.toLowerCase())) found.push(name + " (any case)");
  }
  base64Cores(key).forEach((core, i) => {
    if (text.includes(core)) found.push(`base64 core at offset ${i}`);
  });
  return [...new Set(found)];
}

/**
 * startDownstream listens on 127.0.0.1 on a free port. Every request is
 * recorded (method, url, authorization header) in requests. Routes:
 *
 *   GET /items         200 JSON, ordinary data
 *   GET /echo          200 JSON whose fields carry the key in every variant,
 *                      and X-Request-Id, X-RateLimit-Echo (base64) and
 *                      X-Echo-Key response headers that carry it too
 *   GET /echo.txt      200 text/plain, the same variants one per line
 *   GET /boom          500 JSON error that quotes the key
 *   anything else      404
 *
 * A request without "Authorization: Bearer KEY" gets 401.
 */
export async function startDownstream(key) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    requests.push({ method: req.method, url: req.url, authorization: auth });
    req.resume();
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { "Content-Type": type, ...headers });
      res.end(body);
    };
    if (auth !== `Bearer ${key}`) {
      send(401, "application/json", JSON.stringify({ error: "missing or wrong API key" }));
      return;
    }
    const path = new URL(req.url, "http://x").pathname;
    const v = variants(key);
    if (req.method === "GET" && path === "/items") {
      send(200, "application/json", JSON.stringify({ items: [{ id: 1, name: "alpha" }, { id: 2, name: "beta" }] }));
    } else if (req.method === "GET" && path === "/echo") {
      // Built by hand so json_escaped stays escaped on the wire.
      const fields = Object.entries({ ...v, authorization: auth })
        .map(([k, val]) => `${JSON.stringify(k)}:${JSON.stringify(val)}`)
        .concat(`"json_escaped":"${jsonEscapedAll(key)}"`);
      send(200, "application/json", `{${fields.join(",")}}`, {
        // keyveil passes on only an allowlist of response headers;
        // X-Request-Id and X-RateLimit-* are on it, X-Echo-Key is not.
        "X-Request-Id": key,
        "X-RateLimit-Echo": b64(key),
        "X-Echo-Key": key,
      });
    } else if (req.method === "GET" && path === "/echo.txt") {
      const lines = Object.entries(v).map(([k, val]) => `${k}: ${val}`);
      lines.push(`json_escaped: ${jsonEscapedAll(key)}`);
      send(200, "text/plain; charset=utf-8", lines.join("\n") + "\n");
    } else if (req.method === "GET" && path === "/boom") {
      send(500, "application/json", JSON.stringify({ error: `internal error while using key ${key}` }));
    } else {
      send(404, "application/json", JSON.stringify({ error: "no such route" }));
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
