// Bundles the editor's front end (src/main.js and the CodeMirror 6 packages it imports)
// into ../static/build/editor.js with esbuild. Run by `make setup` after `npm ci`; the
// output is not committed (docs/editor.md says why).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: [path.join(here, "src", "main.js")],
  outfile: path.join(here, "..", "static", "build", "editor.js"),
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
console.log("editor front end built: editor/static/build/editor.js");
