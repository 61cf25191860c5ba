// The map: Leaflet with the bundled outline base map (Natural Earth countries, China's provinces) or a
// configured tile URL, positions shifted to GCJ-02 when the tiles are Chinese, and the fleet layer.
import L from "leaflet";
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
// The fleet layer: every terminal on one canvas. Clustering runs in a worker (cluster-worker.js): the
// page sends the positions at most every REINDEX_MS, the worker rebuilds the supercluster index and
// answers viewport queries; the page draws the last answer once per animation frame when something
// changed, single terminals at their live position (they move at once, clusters follow at the next
// rebuild). The main thread never blocks on the index, whatever the fleet's size.
// ---------------------------------------------------------------------------------------------
const REINDEX_MS = 400;
const COLORS = { online: "#0f9d58", moving: "#0b7285", offline: "#8a94a6", alarm: "#d9480f", selected: "#1c3faa" };

export const FleetLayer = L.Layer.extend({
  initialize(getTerminals) {
    this.getTerminals = getTerminals; // () => iterable of terminals
    this.terms = []; // point index -> terminal, as last sent to the worker
    this.items = []; // the worker's last answer for the view
    this.indexedAt = -Infinity;
    this.loading = false;
    this.dirtyIndex = true;
    this.seq = 0;
    this.qid = 0;
    this.queued = false;
    this.drawn = []; // [{x, y, r, cluster?, phone?}] in container pixels, for clicks and tests
    this.selected = null;
    this.frameTimes = [];
    this.indexTimes = [];
    this.indexed = 0;
    this.expand = new Map();
  },
  onAdd(map) {
    this._map = map;
    const c = (this.canvas = L.DomUtil.create("canvas", "fleet-canvas"));
    const pane = map.getPane("fleet") || map.createPane("fleet");
    pane.style.zIndex = 450; // above the outlines and tracks (400), below markers and tooltips
    pane.appendChild(c);
    this.worker = new Worker(__WORKER__);
    this.worker.onmessage = (e) => this.message(e.data);
    this.onMove = () => this.redraw();
    this.onMoved = () => { this.query(); this.redraw(); };
    map.on("move zoom", this.onMove);
    map.on("moveend zoomend resize viewreset", this.onMoved);
    this.onClick = (e) => this.click(e);
    map.on("click", this.onClick);
    this.reindex();
  },
  onRemove(map) {
    map.off("move zoom", this.onMove);
    map.off("moveend zoomend resize viewreset", this.onMoved);
    map.off("click", this.onClick);
    this.worker.terminate();
    this.canvas.remove();
    if (this.raf) cancelAnimationFrame(this.raf);
    clearTimeout(this.pendingIndex);
  },
  invalidate() { this.dirtyIndex = true; this.reindex(); this.redraw(); },
  redraw() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = null; this.draw(); });
  },
  reindex() {
    if (!this.dirtyIndex || this.loading) return;
    const wait = this.indexedAt + REINDEX_MS - performance.now();
    if (wait > 0) {
      if (!this.pendingIndex) this.pendingIndex = setTimeout(() => { this.pendingIndex = null; this.reindex(); }, wait);
      return;
    }
    const terms = [];
    for (const t of this.getTerminals()) if (t.lat !== null && t.lat !== undefined) terms.push(t);
    const coords = new Float64Array(terms.length * 2);
    terms.forEach((t, i) => {
      const [lat, lng] = toMap(t.lat, t.lng);
      coords[2 * i] = lng;
      coords[2 * i + 1] = lat;
    });
    this.loading = true;
    this.dirtyIndex = false;
    this.indexedAt = performance.now();
    this.nextTerms = terms;
    this.worker.postMessage({ type: "load", coords, n: terms.length, seq: ++this.seq }, [coords.buffer]);
  },
  query() {
    if (!this._map || this.inflight) { this.queued = true; return; }
    const b = this._map.getBounds().pad(0.5);
    const bbox = [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()),
                  Math.min(85, b.getNorth())];
    this.inflight = true;
    this.queued = false;
    this.worker.postMessage({ type: "query", bbox, zoom: Math.round(this._map.getZoom()), qid: ++this.qid,
                              seq: this.seq });
  },
  message(m) {
    if (m.type === "loaded") {
      this.loading = false;
      this.loadedTerms = this.nextTerms;
      this.indexed = m.n;
      this.indexTimes.push(m.ms);
      if (this.indexTimes.length > 100) this.indexTimes.shift();
      this.query();
      this.reindex();
    } else if (m.type === "clusters") {
      this.inflight = false;
      this.items = m.items;
      this.terms = this.loadedTerms || [];
      this.redraw();
      if (this.queued) this.query();
    } else if (m.type === "expanded") {
      const fn = this.expand.get(m.qid);
      this.expand.delete(m.qid);
      if (fn) fn(m.zoom);
    }
  },
  draw() {
    const t0 = performance.now();
    const map = this._map;
    if (!map) return;
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
    const drawn = [];
    const labels = map.getZoom() >= 12;
    ctx.textAlign = "center";
    for (const [lng, lat, n, cid, i] of this.items) {
      if (cid >= 0) {
        const p = map.latLngToContainerPoint([lat, lng]);
        if (p.x < -40 || p.y < -40 || p.x > size.x + 40 || p.y > size.y + 40) continue;
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
        ctx.fillText(n >= 10000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n), p.x, p.y);
        drawn.push({ x: p.x, y: p.y, r, cluster: cid, n, lat, lng });
      } else {
        const t = this.terms[i];
        if (!t || t.lat === null) continue;
        const at = toMap(t.lat, t.lng);
        const p = map.latLngToContainerPoint(at); // live: moves before the next rebuild
        if (p.x < -40 || p.y < -40 || p.x > size.x + 40 || p.y > size.y + 40) continue;
        this.drawTerminal(ctx, p, t, labels);
        drawn.push({ x: p.x, y: p.y, r: 11, phone: t.phone, lat: t.lat, lng: t.lng, mapLat: at[0], mapLng: at[1] });
      }
    }
    this.drawn = drawn;
    this.frameTimes.push(performance.now() - t0);
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
      const qid = ++this.qid;
      const fallback = Math.min(this._map.getZoom() + 2, 17);
      this.expand.set(qid, (z) => this._map.setView([d.lat, d.lng], Math.min(z, 17)));
      this.worker.postMessage({ type: "expand", id: d.cluster, qid, fallback });
    } else if (this.onSelect) {
      this.onSelect(d.phone);
    }
  },
  select(phone) { this.selected = phone; this.redraw(); },
});
