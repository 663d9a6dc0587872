// Bundles the UI into src/vigil/web/static/ (app.js, app.css, index.html, and the chunks of
// pages loaded on their first visit), which the wheel ships.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const out = new URL("../src/vigil/web/static/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
for (const name of readdirSync(out)) if (name.startsWith("chunk-")) rmSync(out + name);
const result = await build({
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
  metafile: true,
});
// The chunks app.js imports statically, announced in the page: the browser fetches them beside
// app.js instead of after parsing it, one round trip fewer before the first API request.
const app = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === "src/main.ts");
const preloads = (app?.[1].imports ?? [])
  .filter((i) => i.kind === "import-statement")
  .map((i) => `<link rel="modulepreload" href="/static/${basename(i.path)}">\n`)
  .join("");
const page = readFileSync("index.html", "utf8").replace('<script type="module"', `${preloads}<script type="module"`);
writeFileSync(out + "index.html", page);
