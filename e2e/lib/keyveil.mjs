// Starting the built keyveil binary under the official TypeScript SDK client.

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** binary is the keyveil executable under test: $KEYVEIL_BIN, else ../keyveil. */
export const binary = path.resolve(process.env.KEYVEIL_BIN ?? path.join(here, "..", "..", "keyveil"));

/** FAKE_KEY is planted in the environment and must never come back. */
export const FAKE_KEY = "sk-test-LEAKCHECK-0123456789";

/**
 * requireBinary throws a message that says how to build the binary, so a
 * missing build reads as a setup step rather than a failure of keyveil.
 */
export function requireBinary() {
  if (!existsSync(binary)) {
    throw new Error(`keyveil binary not found at ${binary}: run \`go build -o keyveil .\` at the repository root, or set KEYVEIL_BIN`);
  }
}

/**
 * connect spawns keyveil with env (merged over the SDK's minimal default
 * environment, so nothing from the test's own environment leaks in) and
 * returns a connected client. protocolVersion, when set, replaces the one
 * the SDK asks for in initialize: SDK 1.32.2 always asks for its latest and
 * has no option to ask for another, so this is how it plays an older host.
 *
 * The returned stderr() gives everything the child wrote to stderr;
 * close() ends the session and waits for the child's stderr to end.
 */
export async function connect(env, { protocolVersion } = {}) {
  requireBinary();
  const transport = new StdioClientTransport({ command: binary, args: [], env, stderr: "pipe" });
  const chunks = [];
  const stderrEnded = new Promise((resolve) => {
    transport.stderr.on("data", (c) => chunks.push(c));
    transport.stderr.on("end", resolve);
    transport.stderr.on("close", resolve);
  });

  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (protocolVersion && message.method === "initialize") {
      message = { ...message, params: { ...message.params, protocolVersion } };
    }
    return send(message, options);
  };
  // The client reports the negotiated version to transports that want it
  // (HTTP ones); the stdio transport does not, so record it here.
  let negotiated;
  transport.setProtocolVersion = (v) => {
    negotiated = v;
  };

  const client = new Client({ name: "keyveil-e2e", version: "0.0.0" });
  try {
    await client.connect(transport);
  } catch (err) {
    await transport.close().catch(() => {});
    await Promise.race([stderrEnded, delay(2000)]);
    err.message += `\nkeyveil stderr:\n${Buffer.concat(chunks).toString("utf8")}`;
    throw err;
  }
  return {
    client,
    negotiated: () => negotiated,
    stderr: () => Buffer.concat(chunks).toString("utf8"),
    close: async () => {
      await client.close();
      await Promise.race([stderrEnded, delay(5000)]);
    },
  };
}

/** versions are the protocol versions the tests run at, newest first. */
export const versions = [LATEST_PROTOCOL_VERSION, "2025-06-18"];

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
