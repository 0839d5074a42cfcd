// compare reads the results the conformance suite wrote with -o DIR (one
// server-<scenario>-<timestamp>/checks.json per scenario) and holds them to
// expected-passes.txt. It prints one line per scenario and exits 1 if a
// scenario listed there did not pass, or was not run at all; a scenario that
// passes without being listed is reported, so the list can grow, but does
// not fail the run.
//
// A scenario passes when it has at least one SUCCESS check and no FAILURE or
// WARNING check. The suite's own --expected-failures baseline treats a
// WARNING as a failure too; requiring a SUCCESS keeps a scenario that
// checked nothing from passing.
//
//   node compare.mjs RESULTS_DIR EXPECTED_PASSES_FILE

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const [resultsDir, expectedFile] = process.argv.slice(2);
if (!resultsDir || !expectedFile) {
  process.stderr.write("usage: node compare.mjs RESULTS_DIR EXPECTED_PASSES_FILE\n");
  process.exit(2);
}

const expected = readFileSync(expectedFile, "utf8")
  .split("\n")
  .map((l) => l.replace(/#.*/, "").trim())
  .filter(Boolean);

// Directory names are server-<scenario>-<ISO time with : and . as ->.
const dirName = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

const results = new Map(); // scenario -> { pass, why }
for (const entry of existsSync(resultsDir) ? readdirSync(resultsDir) : []) {
  const m = dirName.exec(entry);
  if (!m) continue;
  const file = path.join(resultsDir, entry, "checks.json");
  if (!existsSync(file)) {
    results.set(m[1], { pass: false, why: "no checks.json (the scenario threw before reporting)" });
    continue;
  }
  const checks = JSON.parse(readFileSync(file, "utf8"));
  const bad = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
  const ok = checks.filter((c) => c.status === "SUCCESS");
  const why = bad.length
    ? bad.map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`).join("; ")
    : ok.length ? `${ok.length} check(s) passed` : "no SUCCESS check";
  results.set(m[1], { pass: bad.length === 0 && ok.length > 0, why });
}

const missing = expected.filter((s) => !results.has(s));
const regressed = expected.filter((s) => results.has(s) && !results.get(s).pass);
const newlyPassing = [...results].filter(([s, r]) => r.pass && !expected.includes(s)).map(([s]) => s);

// A scenario keyveil is not expected to pass (it needs the suite's own
// fixture tools, prompts or resources; see expected-passes.txt) is counted,
// not listed with its checks: its FAILURE lines made a green run read like
// a failing one.
const notExpected = [];
for (const [s, r] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
  if (!r.pass && !expected.includes(s)) {
    notExpected.push(s);
    continue;
  }
  const tag = r.pass ? "pass" : "FAIL";
  console.log(`${tag.padEnd(4)}  ${s.padEnd(32)} ${r.why.slice(0, 160)}`);
}
if (notExpected.length) {
  console.log(`expected (needs the suite's fixture tools): ${notExpected.length} scenarios: ${notExpected.join(", ")}`);
}
const passed = [...results.values()].filter((r) => r.pass).length;
console.log(`\n${results.size} scenarios run, ${expected.length} expected to pass (the others need the suite's fixtures)`);
console.log(`conformance: ${passed} passed, ${regressed.length + missing.length} failed`);

if (newlyPassing.length) {
  console.log(`\nnewly passing (add to ${path.basename(expectedFile)}): ${newlyPassing.join(", ")}`);
}
if (missing.length) console.log(`\nexpected to pass but not run (renamed or removed from the suite?): ${missing.join(", ")}`);
if (regressed.length) console.log(`\nexpected to pass but failed: ${regressed.join(", ")}`);
process.exit(missing.length || regressed.length ? 1 : 0);
