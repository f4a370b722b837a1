// Copies onnxruntime-web's WebAssembly build next to the page (no CDN): the ES module the
// page imports, and the .wasm file and its loader that onnxruntime fetches at run time.
// Run by `npm run build` (and `make web`), after `npm ci`.
import { copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "onnxruntime-web", "dist");
const FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

if (!existsSync(dist)) {
  console.error(`${dist} is missing: run \`npm ci\` in web/ first (make web does)`);
  process.exit(1);
}
for (const name of FILES) {
  copyFileSync(join(dist, name), join(here, name));
  console.log(`copied ${name}`);
}
