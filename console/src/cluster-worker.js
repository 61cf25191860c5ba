// Clustering off the main thread: the page sends the fleet's positions, this worker builds the
// supercluster index (tens of milliseconds for 10,000 points) and answers viewport queries, so the map
// keeps drawing frames while the index is rebuilt.
import Supercluster from "supercluster";

let index = null;

onmessage = (e) => {
  const m = e.data;
  if (m.type === "load") {
    const t0 = performance.now();
    const { coords, n } = m;
    const points = new Array(n);
    for (let i = 0; i < n; i++) {
      points[i] = { type: "Feature", geometry: { type: "Point", coordinates: [coords[2 * i], coords[2 * i + 1]] },
                    properties: { i } };
    }
    index = new Supercluster({ radius: 56, minZoom: 2, maxZoom: 15, minPoints: 3 }).load(points);
    postMessage({ type: "loaded", seq: m.seq, n, ms: performance.now() - t0 });
  } else if (m.type === "query") {
    const items = [];
    if (index) {
      for (const f of index.getClusters(m.bbox, m.zoom)) {
        const [lng, lat] = f.geometry.coordinates;
        const p = f.properties;
        // [lng, lat, count, cluster id or -1, point index or -1]
        items.push(p.cluster ? [lng, lat, p.point_count, p.cluster_id, -1] : [lng, lat, 1, -1, p.i]);
      }
    }
    postMessage({ type: "clusters", qid: m.qid, seq: m.seq, items });
  } else if (m.type === "expand") {
    postMessage({ type: "expanded", qid: m.qid, zoom: index ? index.getClusterExpansionZoom(m.id) : m.fallback });
  }
};
