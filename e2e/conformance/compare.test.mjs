// Tests compare.mjs on a made-up results directory: expected passes and
// scenarios that need the suite's fixtures read as a passing run (no
// FAILURE line), and a regression still fails with its reason.
//
//   node --test e2e/conformance/compare.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const compare = path.join(path.dirname(fileURLToPath(import.meta.url)), "compare.mjs");

function results(scenarios) {
  const dir = mkdtempSync(path.join(tmpdir(), "keyveil-compare-"));
  for (const [name, checks] of Object.entries(scenarios)) {
    const d = path.join(dir, `server-${name}-2026-01-02T03-04-05-678Z`);
    mkdirSync(d);
    writeFileSync(path.join(d, "checks.json"), JSON.stringify(checks));
  }
  const expected = path.join(dir, "expected.txt");
  writeFileSync(expected, "ping\ntools-list\n");
  return [dir, expected];
}

function run(dir, expected) {
  try {
    return { code: 0, out: execFileSync(process.execPath, [compare, dir, expected], { encoding: "utf8" }) };
  } catch (e) {
    return { code: e.status, out: e.stdout };
  }
}

const ok = [{ id: "a", status: "SUCCESS" }];
const bad = [{ id: "fixture-missing", status: "FAILURE", errorMessage: "tool test_simple_text not found" }];

test("scenarios needing fixtures are counted, not shown as failures", () => {
  const [dir, expected] = results({ ping: ok, "tools-list": ok, "tools-call-simple-text": bad, "prompts-get": bad });
  const { code, out } = run(dir, expected);
  assert.equal(code, 0);
  assert.doesNotMatch(out, /FAILURE|FAIL /);
  assert.match(out, /expected \(needs the suite's fixture tools\): 2 scenarios: prompts-get, tools-call-simple-text/);
  assert.match(out, /conformance: 2 passed, 0 failed/);
});

test("an expected pass that fails is a failure, with its reason", () => {
  const [dir, expected] = results({ ping: bad, "tools-list": ok });
  const { code, out } = run(dir, expected);
  assert.equal(code, 1);
  assert.match(out, /^FAIL  ping .*FAILURE fixture-missing/m);
  assert.match(out, /expected to pass but failed: ping/);
});
