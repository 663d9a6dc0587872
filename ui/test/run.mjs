// Runs the UI's unit tests: bundles each test/*.test.ts with esbuild into a temporary
// directory and hands the bundles to Node's built-in runner (`node --test`). No DOM: the tests
// cover the pure modules (units, field config, reducers, the sanitiser's decisions).
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const only = process.argv.slice(2);
const tests = readdirSync(here)
  .filter((f) => f.endsWith(".test.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (tests.length === 0) {
  console.error(`no test/*.test.ts matched ${only.join(" ") || "(all)"}`);
  process.exit(1);
}
const out = mkdtempSync(join(tmpdir(), "vigil-ui-test-"));
try {
  await build({
    entryPoints: tests.map((f) => join(here, f)),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outdir: out,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
    loader: { ".css": "empty" },
  });
  const files = tests.map((f) => join(out, f.replace(/\.ts$/, ".mjs")));
  const run = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
