// Bundles the UI into src/vigil/web/static/ (app.js, app.css, index.html, and the chunks of
// pages loaded on their first visit), which the wheel ships.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";

const out = new URL("../src/vigil/web/static/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
for (const name of readdirSync(out)) if (name.startsWith("chunk-")) rmSync(out + name);
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  splitting: true,
  chunkNames: "chunk-[hash]",
  minify: true,
  format: "esm",
  target: "es2020",
  sourcemap: false,
  legalComments: "none",
  outdir: out,
  logLevel: "warning",
});
copyFileSync("index.html", out + "index.html");
