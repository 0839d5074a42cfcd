// A signed service under the official TypeScript SDK client: keyveil signs
// each call_api request with AWS Signature Version 4 (MCP_API_AUTH=aws_sigv4)
// and a local server that verifies signatures as AWS does
// (internal/authtest/sigv4d, checked against AWS's published test vectors)
// accepts them. That server then echoes every request header back, as a
// careless API might, so the test also checks that the access key ID, the
// secret access key and the session token never reach the model or stderr.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { leaks } from "../lib/downstream.mjs";
import { connect, versions } from "../lib/keyveil.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// Fake AWS credentials; LEAKCHECK marks them for the leak checks.
const KEY_ID = "AKIAE2ETESTLEAKCHK42";
const SECRET = "e2eSecretLEAKCHECK/9fK2mQ7xR4tW1zP8vB5nHj";
const TOKEN = "e2eSessionLEAKCHECK//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Zk2pRm4Tn1Yc6Vb0Hs5Jd3Lf9Ga+q8";

/**
 * startVerifier builds and starts sigv4d for the fake credentials and
 * returns its base URL and a close function.
 */
async function startVerifier() {
  const dir = mkdtempSync(path.join(tmpdir(), "sigv4d-"));
  const bin = path.join(dir, "sigv4d");
  execFileSync("go", ["build", "-o", bin, "./internal/authtest/sigv4d"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] });
  const child = spawn(bin, ["-region", "us-east-1", "-service", "execute-api"], {
    env: { PATH: process.env.PATH, SIGV4D_ACCESS_KEY_ID: KEY_ID, SIGV4D_SECRET_ACCESS_KEY: SECRET, SIGV4D_SESSION_TOKEN: TOKEN },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`sigv4d exited with ${code} before it listened`)));
  });
  return {
    url,
    close: async () => {
      child.stdin.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function textOf(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
}

/** assertNoAWSLeak fails if any AWS credential, in any variant, is in text. */
function assertNoAWSLeak(text, where) {
  for (const [name, value] of [["access key ID", KEY_ID], ["secret access key", SECRET], ["session token", TOKEN]]) {
    assert.deepEqual(leaks(text, value), [], `${where} shows the ${name}`);
  }
  assert.doesNotMatch(text, /LEAKCHECK|LEAKCHK/i, `${where} shows part of a credential`);
}

describe("aws_sigv4: a signed service", () => {
  let verifier;
  before(async () => {
    verifier = await startVerifier();
  });
  after(async () => {
    await verifier?.close();
  });

  for (const version of versions) {
    describe(`at protocol ${version}`, () => {
      let kv;
      before(async () => {
        kv = await connect(
          {
            MCP_API_BASE_URL: verifier.url + "/prod",
            MCP_API_AUTH: "aws_sigv4",
            MCP_API_REGION: "us-east-1",
            MCP_API_SIGNING_SERVICE: "execute-api",
            MCP_API_ALLOW: "GET /**,POST /**",
            AWS_ACCESS_KEY_ID: KEY_ID,
            AWS_SECRET_ACCESS_KEY: SECRET,
            AWS_SESSION_TOKEN: TOKEN,
          },
          { protocolVersion: version },
        );
      });
      after(async () => {
        if (!kv) return;
        await kv.close();
        assertNoAWSLeak(kv.stderr(), "stderr");
      });

      it("lists the service as aws_sigv4:execute-api/us-east-1", async () => {
        const res = await kv.client.callTool({ name: "list_services", arguments: {} });
        const text = JSON.stringify(res);
        assert.match(text, /aws_sigv4:execute-api\/us-east-1/);
        assertNoAWSLeak(text, "list_services");
      });

      it("signs a GET with a query, and the verifier accepts it", async () => {
        const res = await kv.client.callTool({
          name: "call_api",
          arguments: { method: "GET", path: "/items/a b", query: { b: "2", a: "1", q: "x/y z" } },
        });
        assert.notEqual(res.isError, true, textOf(res));
        assert.equal(res.structuredContent.status, 200, textOf(res));
        const body = res.structuredContent.body;
        assert.equal(body.verified, true);
        assert.equal(body.method, "GET");
        assert.equal(body.path, "/prod/items/a%20b");
        const text = JSON.stringify(res);
        assertNoAWSLeak(text, "the result");
        // The echoed headers are there, with each credential redacted.
        assert.match(text, /\[REDACTED:AWS_SESSION_TOKEN\]/);
        assert.match(text, /\[REDACTED:AWS_ACCESS_KEY_ID\]/);
      });

      it("signs a POST body, and the verifier recomputes its hash", async () => {
        const sent = { name: "widget", tags: ["a", "b"], n: 3 };
        const res = await kv.client.callTool({ name: "call_api", arguments: { method: "POST", path: "/items", body: sent } });
        assert.notEqual(res.isError, true, textOf(res));
        assert.equal(res.structuredContent.status, 200, textOf(res));
        assert.deepEqual(JSON.parse(res.structuredContent.body.body), sent);
        assertNoAWSLeak(JSON.stringify(res), "the result");
      });

      it("refuses a model-set signing header before anything is signed", async () => {
        const res = await kv.client.callTool({
          name: "call_api",
          arguments: { method: "GET", path: "/items", headers: { "X-Amz-Security-Token": "forged-token-value" } },
        });
        assert.equal(res.isError, true, textOf(res));
        assertNoAWSLeak(JSON.stringify(res), "the refusal");
      });
    });
  }
});
