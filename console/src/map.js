// The map: Leaflet with the bundled outline base map (Natural Earth countries, China's provinces) or a
// configured tile URL, positions shifted to GCJ-02 when the tiles are Chinese, and the fleet layer.
import L from "leaflet";
import Supercluster from "supercluster";
import { feature } from "topojson-client";
import gcoord from "gcoord";

let config = { tile_url: "", tile_coords: "wgs84", tile_attribution: "", tile_max_zoom: 18 };
export function setMapConfig(c) { config = { ...config, ...c }; }

// WGS-84 (what terminals report) -> what the base map is drawn in
export function toMap(lat, lng) {
  if (config.tile_url && config.tile_coords === "gcj02") {
    const [x, y] = gcoord.transform([lng, lat], gcoord.WGS84, gcoord.GCJ02);
    return [y, x];
  }
  return [lat, lng];
}

let outlines = null;
async function loadOutlines() {
  if (!outlines) {
    outlines = Promise.all([fetch(__WORLD__).then((r) => r.json()), fetch(__CHINA__).then((r) => r.json())])
      .then(([world, china]) => ({ world: feature(world, world.objects.countries), china }));
  }
  return outlines;
}

export function createMap(el, { center = [34.5, 108.9], zoom = 4 } = {}) {
  const renderer = L.canvas({ padding: 0.3 });
  const map = L.map(el, { center, zoom, minZoom: 2, maxZoom: config.tile_max_zoom || 18, renderer,
                          worldCopyJump: true, zoomControl: true, attributionControl: true, preferCanvas: true });
  map.attributionControl.setPrefix(false);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: config.tile_max_zoom || 18, attribution: config.tile_attribution || "",
                                   subdomains: "abc" }).addTo(map);
  } else {
    el.classList.add("outline-map");
    map.attributionControl.addAttribution("Natural Earth · ECharts maps");
    loadOutlines().then(({ world, china }) => {
      if (!map._loaded && !map._container) return;
      L.geoJSON(world, { renderer, interactive: false,
                         style: { color: "#b7ae9f", weight: 0.8, fillColor: "#f4f1ea", fillOpacity: 1 } }).addTo(map);
      L.geoJSON(china, { renderer, interactive: false,
                         style: { color: "#c8b9a0", weight: 0.7, fillColor: "#f8f4ec", fillOpacity: 1 } }).addTo(map);
      map.fire("outlines");
    });
  }
  L.control.scale({ imperial: false }).addTo(map);
  return map;
}

// ---------------------------------------------------------------------------------------------
// The fleet layer: every terminal on one canvas, clustered by supercluster, redrawn once per
// animation frame when something changed. 10,000 terminals are one index rebuild (a few tens of
// milliseconds) at most every REINDEX_MS, and one draw of what is visible.
// ---------------------------------------------------------------------------------------------
const REINDEX_MS = 400;
const COLORS = { online: "#0f9d58", moving: "#0b7285", offline: "#8a94a6", alarm: "#d9480f", selected: "#1c3faa" };

export const FleetLayer = L.Layer.extend({
  initialize(getTerminals) {
    this.getTerminals = getTerminals; // () => iterable of terminals
    this.index = null;
    this.indexedAt = 0;
    this.dirtyIndex = true;
    this.drawn = []; // [{x, y, r, cluster?, id, t?}] in container pixels, for clicks and tests
    this.selected = null;
    this.frameTimes = [];
  },
  onAdd(map) {
    this._map = map;
    const c = (this.canvas = L.DomUtil.create("canvas", "fleet-canvas"));
    const pane = map.getPane("fleet") || map.createPane("fleet");
    pane.style.zIndex = 450; // above the outlines and tracks (400), below markers and tooltips
    pane.appendChild(c);
    this.onMove = () => this.redraw();
    map.on("moveend zoomend resize viewreset", this.onMove);
    map.on("move zoom", this.onMove);
    this.onClick = (e) => this.click(e);
    map.on("click", this.onClick);
    this.redraw(true);
  },
  onRemove(map) {
    map.off("moveend zoomend resize viewreset move zoom", this.onMove);
    map.off("click", this.onClick);
    this.canvas.remove();
    if (this.raf) cancelAnimationFrame(this.raf);
  },
  invalidate() { this.dirtyIndex = true; this.redraw(); },
  redraw(force) {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = null; this.draw(force); });
  },
  buildIndex() {
    const points = [];
    for (const t of this.getTerminals()) {
      if (t.lat === null || t.lat === undefined) continue;
      const [lat, lng] = toMap(t.lat, t.lng);
      // the position as indexed (the terminal object itself moves on before the next rebuild)
      points.push({ type: "Feature", geometry: { type: "Point", coordinates: [lng, lat] },
                    properties: { t, lat: t.lat, lng: t.lng } });
    }
    this.index = new Supercluster({ radius: 56, maxZoom: 15, minPoints: 3 }).load(points);
    this.indexedAt = performance.now();
    this.dirtyIndex = false;
  },
  draw() {
    const t0 = performance.now();
    const map = this._map;
    if (!map) return;
    if (this.dirtyIndex || !this.index) {
      if (!this.index || t0 - this.indexedAt >= REINDEX_MS) this.buildIndex();
      else if (!this.pendingIndex) {
        this.pendingIndex = setTimeout(() => { this.pendingIndex = null; this.redraw(); },
                                       REINDEX_MS - (t0 - this.indexedAt));
      }
    }
    const size = map.getSize();
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this.canvas, topLeft);
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas;
    if (c.width !== size.x * dpr || c.height !== size.y * dpr) {
      c.width = size.x * dpr; c.height = size.y * dpr;
      c.style.width = `${size.x}px`; c.style.height = `${size.y}px`;
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const b = map.getBounds().pad(0.1);
    const zoom = Math.round(map.getZoom());
    const west = Math.max(-180, b.getWest()), east = Math.min(180, b.getEast());
    const items = this.index.getClusters([west, Math.max(-85, b.getSouth()), east, Math.min(85, b.getNorth())], zoom);
    const drawn = [];
    const labels = zoom >= 12;
    for (const f of items) {
      const [lng, lat] = f.geometry.coordinates;
      const p = map.latLngToContainerPoint([lat, lng]);
      if (f.properties.cluster) {
        const n = f.properties.point_count;
        const r = n < 10 ? 15 : n < 100 ? 18 : n < 1000 ? 22 : 27;
        ctx.beginPath();
        ctx.arc(p.x, p.y, r + 5, 0, Math.PI * 2);
        ctx.fillStyle = "rgba(15,118,110,0.18)";
        ctx.fill();
        ctx.beginPath();
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
        ctx.fillStyle = "#0f766e";
        ctx.fill();
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#fff";
        ctx.stroke();
        ctx.fillStyle = "#fff";
        ctx.font = "600 12px system-ui, sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(f.properties.point_count_abbreviated, p.x, p.y);
        drawn.push({ x: p.x, y: p.y, r, cluster: f.properties.cluster_id, n });
      } else {
        const { t, lat: tlat, lng: tlng } = f.properties;
        this.drawTerminal(ctx, p, t, labels);
        drawn.push({ x: p.x, y: p.y, r: 11, phone: t.phone, lat: tlat, lng: tlng });
      }
    }
    this.drawn = drawn;
    const dt = performance.now() - t0;
    this.frameTimes.push(dt);
    if (this.frameTimes.length > 600) this.frameTimes.shift();
  },
  drawTerminal(ctx, p, t, label) {
    const sel = this.selected === t.phone;
    const color = t.alarm ? COLORS.alarm : !t.online ? COLORS.offline : t.speed > 1 ? COLORS.moving : COLORS.online;
    if (sel) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, 16, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(28,63,170,0.18)";
      ctx.fill();
    }
    ctx.save();
    ctx.translate(p.x, p.y);
    if (t.online && t.speed > 1) {
      ctx.rotate(((t.dir || 0) * Math.PI) / 180);
      ctx.beginPath();
      ctx.moveTo(0, -11);
      ctx.lineTo(7, 7);
      ctx.lineTo(0, 3.5);
      ctx.lineTo(-7, 7);
      ctx.closePath();
    } else {
      ctx.beginPath();
      ctx.arc(0, 0, 6.5, 0, Math.PI * 2);
    }
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = sel ? 2.5 : 1.5;
    ctx.strokeStyle = sel ? COLORS.selected : "#fff";
    ctx.stroke();
    ctx.restore();
    if (label || sel) {
      const text = t.plate || t.phone;
      ctx.font = "600 11px system-ui, sans-serif";
      const w = ctx.measureText(text).width + 8;
      ctx.fillStyle = "rgba(255,255,255,0.92)";
      ctx.fillRect(p.x + 10, p.y - 8, w, 16);
      ctx.fillStyle = "#1f2937";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(text, p.x + 14, p.y);
    }
  },
  hit(x, y) {
    let best = null, bestD = Infinity;
    for (const d of this.drawn) {
      const dd = (d.x - x) ** 2 + (d.y - y) ** 2;
      if (dd <= (d.r + 4) ** 2 && dd < bestD) { best = d; bestD = dd; }
    }
    return best;
  },
  click(e) {
    const d = this.hit(e.containerPoint.x, e.containerPoint.y);
    if (!d) return;
    if (d.cluster !== undefined) {
      const z = Math.min(this.index.getClusterExpansionZoom(d.cluster), 17);
      this._map.setView(e.latlng, z);
    } else if (this.onSelect) {
      this.onSelect(d.phone);
    }
  },
  select(phone) { this.selected = phone; this.redraw(); },
});
