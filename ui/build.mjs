// Bundles the UI into src/vigil/web/static/ (app.js, app.css, index.html), which the wheel ships.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = new URL("../src/vigil/web/static/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  sourcemap: false,
  legalComments: "none",
  outdir: out,
  logLevel: "warning",
});
copyFileSync("index.html", out + "index.html");
