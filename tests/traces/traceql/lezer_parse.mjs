// Parses each query of a JSON array (stdin) with Grafana's TraceQL grammar and prints, per
// query, the offset of the first error node or -1 when the tree has none.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../../ui/package.json"));
const { parser } = await import(require.resolve("@grafana/lezer-traceql").replace(/index\.cjs$/, "index.es.js"));

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((query) => {
  let errorAt = -1;
  parser.parse(query).iterate({
    enter(node) {
      if (errorAt === -1 && node.type.isError) errorAt = node.from;
      return errorAt === -1;
    },
  });
  return errorAt;
});
process.stdout.write(JSON.stringify(results));
