#!/usr/bin/env node
// OpenZeppelin's upgrades-core, as the registry's Python code asks it (registry/artifacts/upgrades.py).
// Reads one JSON request on standard input and writes one JSON answer on standard output:
//
//   layouts  {input, output, solcVersion, contracts: [name]}
//            -> {name: {layout, errors: [explanation]}}: each contract's storage layout in
//               upgrades-core's own form (the one its network manifests keep) and what makes it
//               unsafe behind a UUPS proxy (constructors, immutables, delegatecall, ...).
//   compare  {original, updated}
//            -> {ok, explanation}: whether code laid out as `updated` may replace code laid out as
//               `original` behind the same proxy (upgrades-core's storage upgrade report).
"use strict";

const core = require("@openzeppelin/upgrades-core");

function layouts({ input, output, solcVersion, contracts }) {
  const decodeSrc = core.solcInputOutputDecoder(input, output);
  const runData = core.validate(output, decodeSrc, solcVersion, input);
  const answer = {};
  for (const name of contracts) {
    const version = core.getContractVersion(runData, name);
    const errors = core.getErrors(runData, version, { kind: "uups" });
    answer[name] = {
      layout: core.getStorageLayout(runData, version),
      errors: errors.map((error) => new core.UpgradeableContractErrorReport([error]).explain(false)),
    };
  }
  return answer;
}

function compare({ original, updated }) {
  const report = core.getStorageUpgradeReport(original, updated, core.withValidationDefaults({ kind: "uups" }));
  return { ok: report.ok, explanation: report.ok ? "" : report.explain(false) };
}

const commands = { layouts, compare };

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (text += chunk));
process.stdin.on("end", () => {
  const command = commands[process.argv[2]];
  if (command === undefined) {
    process.stderr.write(`usage: upgrade-safety.cjs (${Object.keys(commands).join("|")}) < request.json\n`);
    process.exit(2);
  }
  try {
    process.stdout.write(JSON.stringify(command(JSON.parse(text))));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
});
