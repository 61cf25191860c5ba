import L from "leaflet";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, qs } from "../api.js";
import { createMap, toMap } from "../map.js";
import { ErrorBox, TerminalPicker } from "../components.jsx";
import { download, fmtDuration, fmtTime, haversine, inputToIso, localInput } from "../util.js";

const SPEEDS = [1, 10, 60, 300, 1200];

// Stops: runs of points that stay within 50 m of the run's first point for at least `minutes`.
export function findStops(points, minutes) {
  const stops = [];
  let i = 0;
  while (i < points.length) {
    let j = i;
    while (j + 1 < points.length && haversine(points[i], points[j + 1]) < 50) j++;
    const dur = (points[j].t - points[i].t) / 1000;
    if (j > i && dur >= minutes * 60) {
      stops.push({ lat: points[i].latitude, lng: points[i].longitude, start: points[i].time, end: points[j].time, seconds: dur });
      i = j + 1;
    } else i++;
  }
  return stops;
}

export function summary(points) {
  let dist = 0, max = 0;
  for (let i = 1; i < points.length; i++) dist += haversine(points[i - 1], points[i]);
  for (const p of points) max = Math.max(max, p.speed || 0);
  const dur = points.length > 1 ? (points[points.length - 1].t - points[0].t) / 1000 : 0;
  return { dist, dur, max, avg: dur > 0 ? (dist / dur) * 3.6 : 0 };
}

function csv(phone, points) {
  const rows = ["phone,time,latitude,longitude,altitude,speed_kmh,direction,alarm,status"];
  for (const p of points) rows.push([phone, p.time, p.latitude, p.longitude, p.altitude, p.speed, p.direction, p.alarm, p.status].join(","));
  return rows.join("\n") + "\n";
}

function gpx(phone, points) {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const pts = points.map((p) => `      <trkpt lat="${p.latitude}" lon="${p.longitude}"><ele>${p.altitude}</ele><time>${p.time}</time><speed>${(p.speed / 3.6).toFixed(2)}</speed><course>${p.direction}</course></trkpt>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="jt808 console" xmlns="http://www.topografix.com/GPX/1/1">
  <trk>
    <name>${esc(phone)}</name>
    <trkseg>
${pts.join("\n")}
    </trkseg>
  </trk>
</gpx>
`;
}

export function PlaybackPage({ phone, go }) {
  const el = useRef(null);
  const mapRef = useRef(null);
  const layers = useRef(null);
  const [term, setTerm] = useState(phone || "");
  const now = new Date();
  const [start, setStart] = useState(localInput(new Date(now.getTime() - 24 * 3600 * 1000)));
  const [end, setEnd] = useState(localInput(new Date(now.getTime() + 3600 * 1000)));
  const [stopMin, setStopMin] = useState(5);
  const [points, setPoints] = useState(null);
  const [error, setError] = useState(null);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(60);
  const [pos, setPos] = useState(0); // ms since the first point
  const anim = useRef({ last: 0, raf: 0 });

  useEffect(() => {
    const map = createMap(el.current);
    mapRef.current = map;
    layers.current = L.layerGroup().addTo(map);
    layers.current.svg = L.svg({ padding: 0.5 }); // the track in SVG: a few crisp paths, above the outline canvas
    window.jt808Console = { ...(window.jt808Console || {}), playbackMap: map };
    return () => { cancelAnimationFrame(anim.current.raf); map.remove(); };
  }, []);

  useEffect(() => { if (phone) setTerm(phone); }, [phone]);
  useEffect(() => { if (term) load(); }, [term]);

  async function load() {
    setError(null);
    setPlaying(false);
    try {
      const r = await api(`/api/v1/terminals/${encodeURIComponent(term)}/locations${qs({ start: inputToIso(start), end: inputToIso(end), limit: 100000 })}`);
      const pts = r.locations.map((p) => ({ ...p, t: new Date(p.time || p.received_at).getTime() }));
      setPoints(pts);
      setPos(0);
      draw(pts);
    } catch (e) {
      setError(e);
      setPoints(null);
    }
  }

  function draw(pts) {
    const map = mapRef.current, g = layers.current;
    g.clearLayers();
    if (!pts.length) return;
    const renderer = g.svg;
    const line = pts.map((p) => toMap(p.latitude, p.longitude));
    L.polyline(line, { renderer, smoothFactor: 0, color: "#ffffff", weight: 8, opacity: 0.9 }).addTo(g);
    L.polyline(line, { renderer, smoothFactor: 0, color: "#0f766e", weight: 4.5, opacity: 1, className: "track-line" }).addTo(g);
    L.circleMarker(line[0], { renderer, radius: 7, color: "#fff", weight: 2, fillColor: "#0f9d58", fillOpacity: 1 }).bindTooltip("Start " + fmtTime(pts[0].time)).addTo(g);
    L.circleMarker(line[line.length - 1], { renderer, radius: 7, color: "#fff", weight: 2, fillColor: "#c92a2a", fillOpacity: 1 }).bindTooltip("End " + fmtTime(pts[pts.length - 1].time)).addTo(g);
    for (const s of findStops(pts, stopMin)) {
      L.marker(toMap(s.lat, s.lng), { icon: L.divIcon({ className: "stop-marker", html: "P", iconSize: [22, 22] }) })
        .bindTooltip(`Stopped ${fmtDuration(s.seconds)}<br>${fmtTime(s.start)} – ${fmtTime(s.end)}`).addTo(g);
    }
    g.cursor = L.circleMarker(line[0], { renderer, radius: 8, color: "#fff", weight: 3, fillColor: "#1c3faa", fillOpacity: 1 }).addTo(g);
    map.fitBounds(L.latLngBounds(line), { padding: [40, 40], maxZoom: 16 });
  }

  useEffect(() => { if (points) draw(points); }, [stopMin]);

  // the moving cursor
  const span = points && points.length > 1 ? points[points.length - 1].t - points[0].t : 0;
  const at = (ms) => {
    if (!points || !points.length) return null;
    const t = points[0].t + ms;
    let i = points.findIndex((p) => p.t >= t);
    if (i <= 0) return i === 0 ? points[0] : points[points.length - 1];
    const a = points[i - 1], b = points[i];
    const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
    return { ...b, latitude: a.latitude + (b.latitude - a.latitude) * f, longitude: a.longitude + (b.longitude - a.longitude) * f, time: new Date(t).toISOString(), speed: a.speed };
  };
  const cur = at(pos);
  useEffect(() => {
    const c = layers.current && layers.current.cursor;
    if (c && cur) c.setLatLng(toMap(cur.latitude, cur.longitude));
  }, [pos, points]);

  useEffect(() => {
    if (!playing) return undefined;
    anim.current.last = performance.now();
    const step = (now) => {
      const dt = now - anim.current.last;
      anim.current.last = now;
      setPos((p) => {
        const n = p + dt * speed;
        if (n >= span) { setPlaying(false); return span; }
        return n;
      });
      anim.current.raf = requestAnimationFrame(step);
    };
    anim.current.raf = requestAnimationFrame(step);
    return () => cancelAnimationFrame(anim.current.raf);
  }, [playing, speed, span]);

  const s = points ? summary(points) : null;
  const stops = points ? findStops(points, stopMin) : [];
  return (
    <div class="split">
      <div class="panel side">
        <h2>Track playback</h2>
        <label>Terminal<TerminalPicker value={term} onChange={setTerm} id="playback-terminal" /></label>
        <label>From<input type="datetime-local" value={start} onChange={(e) => setStart(e.currentTarget.value)} /></label>
        <label>To<input type="datetime-local" value={end} onChange={(e) => setEnd(e.currentTarget.value)} /></label>
        <label>Stop markers from<span class="inline"><input type="number" min="1" max="1440" value={stopMin} onChange={(e) => setStopMin(Number(e.currentTarget.value) || 5)} /> min stationary</span></label>
        <button class="primary" onClick={load} disabled={!term} id="playback-load">Load track</button>
        <ErrorBox error={error} />
        {points ? (
          <div class="summary" id="playback-summary">
            <div><span>Points</span><b id="playback-points">{points.length}</b></div>
            <div><span>Distance</span><b id="playback-distance">{(s.dist / 1000).toFixed(2)} km</b></div>
            <div><span>Duration</span><b>{fmtDuration(s.dur)}</b></div>
            <div><span>Average / max</span><b>{s.avg.toFixed(1)} / {s.max.toFixed(1)} km/h</b></div>
            <div><span>Stops ≥ {stopMin} min</span><b id="playback-stops">{stops.length}</b></div>
            <div><span>First / last</span><b class="small">{fmtTime(points[0]?.time)}<br />{fmtTime(points[points.length - 1]?.time)}</b></div>
          </div>
        ) : null}
        {points && points.length ? (
          <div class="row">
            <button onClick={() => download(`${term}.csv`, "text/csv", csv(term, points))} id="export-csv">CSV</button>
            <button onClick={() => download(`${term}.gpx`, "application/gpx+xml", gpx(term, points))} id="export-gpx">GPX</button>
          </div>
        ) : null}
        {points && !points.length ? <div class="muted">No positions in this range.</div> : null}
      </div>
      <div class="map-wrap">
        <div class="map" ref={el} id="playback-map" />
        {points && points.length > 1 ? (
          <div class="player">
            <button class="primary round" id="play" onClick={() => { if (pos >= span) setPos(0); setPlaying(!playing); }}>{playing ? "❚❚" : "▶"}</button>
            <input type="range" min="0" max={span} value={pos} step="1000" onInput={(e) => setPos(Number(e.currentTarget.value))} />
            <select value={speed} onChange={(e) => setSpeed(Number(e.currentTarget.value))} id="play-speed">
              {SPEEDS.map((x) => <option value={x} key={x}>{x}×</option>)}
            </select>
            <div class="player-info">{cur ? `${fmtTime(cur.time)} · ${Number(cur.speed).toFixed(0)} km/h` : ""}</div>
          </div>
        ) : null}
      </div>
    </div>
  );
}
