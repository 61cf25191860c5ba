// Copies mpegts.js (and its licence) into src/jt808/video/static/ (committed: `pip install` needs no npm).
//   node build.mjs            copy
//   node build.mjs --check    exit 1 when the package's copy differs from node_modules
import { copyFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "mpegts.js", "dist");
const out = join(here, "..", "src", "jt808", "video", "static");
const files = [["mpegts.js", "mpegts.js"], ["mpegts.js.LICENSE.txt", "mpegts.js.LICENSE.txt"]];
if (process.argv.includes("--check")) {
  const stale = files.filter(([a, b]) => !readFileSync(join(dist, a)).equals(readFileSync(join(out, b))));
  if (stale.length) {
    console.error(`stale: ${stale.map(([, b]) => b).join(", ")} (run npm run build in player/)`);
    process.exit(1);
  }
} else {
  for (const [a, b] of files) copyFileSync(join(dist, a), join(out, b));
}
