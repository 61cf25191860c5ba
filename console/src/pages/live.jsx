import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { counts, fleet, onFleet, search } from "../fleet.js";
import { createMap, FleetLayer, toMap } from "../map.js";
import { Json } from "../components.jsx";
import { ago, fmtTime, heading } from "../util.js";

export let liveMap = null; // {map, layer} while the page is shown (tests and the frame-time probe read it)

export function LivePage({ phone, go }) {
  const el = useRef(null);
  const [q, setQ] = useState("");
  const [selected, setSelected] = useState(phone || null);
  const [, setTick] = useState(0);
  const [c, setC] = useState(counts());

  useEffect(() => {
    const map = createMap(el.current);
    const layer = new FleetLayer(() => fleet.byPhone.values());
    layer.onSelect = (p) => setSelected(p);
    layer.addTo(map);
    liveMap = { map, layer };
    window.jt808Console = {
      ...(window.jt808Console || {}),
      map, layer,
      marker: (p) => layer.drawn.find((d) => d.phone === p) || null,
    };
    const off = onFleet((phones) => {
      layer.invalidate();
      setC(counts());
      if (phones.has("*") || (selected && phones.has(selected))) setTick((n) => n + 1);
    });
    let fitted = false;
    const fit = () => {
      if (fitted || !fleet.loaded) return;
      const pts = [];
      for (const t of fleet.byPhone.values()) if (t.lat !== null) pts.push(toMap(t.lat, t.lng));
      if (pts.length) { map.fitBounds(pts, { maxZoom: 12, padding: [40, 40] }); fitted = true; }
    };
    fit();
    const offFit = onFleet(fit);
    return () => { off(); offFit(); map.remove(); liveMap = null; };
  }, []);

  useEffect(() => {
    const off = onFleet((phones) => {
      if (selected && (phones.has(selected) || phones.has("*"))) setTick((n) => n + 1);
    });
    if (liveMap) liveMap.layer.select(selected);
    return off;
  }, [selected]);

  const focus = (t) => {
    setSelected(t.phone);
    setQ("");
    if (t.lat !== null && liveMap) liveMap.map.setView(toMap(t.lat, t.lng), Math.max(liveMap.map.getZoom(), 14));
  };
  const results = search(q);
  const t = selected ? fleet.byPhone.get(selected) : null;

  return (
    <div class="live">
      <div class="map" ref={el} id="live-map" />
      <div class="map-overlay top-left">
        <div class="search">
          <input id="map-search" placeholder="Search phone or plate…" value={q}
                 onInput={(e) => setQ(e.currentTarget.value)}
                 onKeyDown={(e) => { if (e.key === "Enter" && results[0]) focus(results[0]); }} />
          {results.length ? (
            <ul class="results">
              {results.map((r) => (
                <li key={r.phone} onClick={() => focus(r)}>
                  <span class={`dot ${r.online ? "on" : "off"}`} />
                  <b>{r.plate || r.phone}</b> <span class="muted">{r.plate ? r.phone : ""}</span>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        <div class="legend" id="fleet-counts">
          <span><i class="dot on" /> {c.online} online</span>
          <span><i class="dot moving" /> {c.moving} moving</span>
          <span><i class="dot off" /> {c.total - c.online} offline</span>
          {c.alarm ? <span><i class="dot alarm" /> {c.alarm} alarm</span> : null}
        </div>
      </div>
      {t ? <Details t={t} onClose={() => setSelected(null)} go={go} /> : null}
    </div>
  );
}

function Details({ t, onClose, go }) {
  const [reg, setReg] = useState(null);
  useEffect(() => {
    setReg(null);
    api(`/api/v1/terminals/${t.phone}`).then(setReg).catch(() => setReg(null));
  }, [t.phone]);
  const items = t.extras || {};
  return (
    <aside class="details" id="terminal-details">
      <header>
        <div>
          <div class="title">{t.plate || t.phone}</div>
          <div class="muted">{t.plate ? t.phone : ""}</div>
        </div>
        <span class={`pill ${t.online ? "ok" : "off"}`}>{t.online ? "online" : "offline"}</span>
        <button class="icon" title="Close" onClick={onClose}>×</button>
      </header>
      <div class="kv">
        <div><span>Speed</span><b id="detail-speed">{t.speed ?? "—"} km/h</b></div>
        <div><span>Heading</span><b>{t.lat !== null ? heading(t.dir || 0) : "—"}</b></div>
        <div class="wide"><span>Position</span><b id="detail-position">{t.lat !== null ? `${t.lat.toFixed(6)}, ${t.lng.toFixed(6)}` : "—"}</b></div>
        <div><span>Altitude</span><b>{t.alt ?? "—"} m</b></div>
        <div class="wide"><span>Device time</span><b>{fmtTime(t.time)}</b></div>
        <div><span>Received</span><b>{t.received_at ? ago(t.received_at) : "—"}</b></div>
        <div><span>Alarm bits</span><b class={t.alarm ? "warn" : ""}>{t.alarm ? `0x${t.alarm.toString(16).padStart(8, "0")}` : "none"}</b></div>
        <div><span>Status bits</span><b>{`0x${(t.status || 0).toString(16).padStart(8, "0")}`}</b></div>
      </div>
      <div class="actions">
        <button onClick={() => go("playback", t.phone)}>Track playback</button>
        <button onClick={() => go("commands", t.phone)}>Commands</button>
        <button onClick={() => go("frames", t.phone)}>Raw frames</button>
        <button onClick={() => go("media", t.phone)}>Media</button>
      </div>
      {/* Live video (issue 15) renders here: a component registered as window.jt808Console.videoTile(el, phone)
          is mounted into this slot; see docs/console.md "Extending the terminal panel". */}
      <VideoSlot phone={t.phone} />
      <h4>Last report's items</h4>
      {Object.keys(items).length ? <Json value={items} class="small" /> : <div class="muted small">no additional items</div>}
      <h4>Registration</h4>
      {reg ? (
        <div class="kv small">
          <div><span>Manufacturer</span><b>{reg.manufacturer || "—"}</b></div>
          <div><span>Model</span><b>{reg.model || "—"}</b></div>
          <div><span>Terminal id</span><b>{reg.dev_id || "—"}</b></div>
          <div><span>Protocol</span><b>{reg.version || "—"}</b></div>
          <div><span>Province / city</span><b>{reg.province ?? "—"} / {reg.city ?? "—"}</b></div>
          <div><span>Registered</span><b>{fmtTime(reg.registered_at)}</b></div>
          <div><span>Last seen</span><b>{fmtTime(reg.last_seen)}</b></div>
          {reg.session ? <div><span>Peer</span><b>{reg.session.peer || reg.session.transport || ""}</b></div> : null}
        </div>
      ) : <div class="muted small">not registered here</div>}
    </aside>
  );
}

function VideoSlot({ phone }) {
  const el = useRef(null);
  useEffect(() => {
    const mount = window.jt808Console && window.jt808Console.videoTile;
    if (!mount || !el.current) return undefined;
    return mount(el.current, phone);
  }, [phone]);
  return <div class="video-slot" ref={el} data-phone={phone} />;
}
