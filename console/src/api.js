// HTTP helpers and the one live event stream shared by every page.

export class ApiError extends Error {
  constructor(status, data, fallback) {
    super((data && (data.message || data.detail)) || fallback);
    this.status = status;
    this.data = data;
    this.code = data && data.error;
  }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const opts = { method, credentials: "same-origin", signal, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!r.ok) {
    if (typeof data?.detail === "string" && !data.message) data.message = data.detail;
    throw new ApiError(r.status, data, `${r.status} ${r.statusText}`);
  }
  return data;
}

export const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
};

// --- live events ---------------------------------------------------------------------------
const handlers = new Map(); // type -> Set(fn)
const stateFns = new Set();
let source = null;
export const live = { connected: false, dropped: 0 };

export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}

export function onLiveState(fn) {
  stateFns.add(fn);
  return () => stateFns.delete(fn);
}

function setConnected(v) {
  live.connected = v;
  for (const fn of stateFns) fn(v);
}

export function dispatch(events) {
  for (const ev of events) {
    const set = handlers.get(ev.type);
    if (set) for (const fn of set) fn(ev);
    const all = handlers.get("*");
    if (all) for (const fn of all) fn(ev);
  }
}

export function startLive() {
  if (source) return;
  source = new EventSource("/api/v1/events");
  source.onopen = () => setConnected(true);
  source.onerror = () => setConnected(false);
  source.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.dropped) {
      live.dropped += msg.dropped;
      dispatch([{ type: "resync", dropped: msg.dropped }]);
    }
    dispatch(msg.events);
  };
}

export function stopLive() {
  if (source) source.close();
  source = null;
  setConnected(false);
}

// A stream of one terminal's frames (the raw-frame page).
export function frameStream(phone, fn) {
  const es = new EventSource(`/api/v1/events${qs({ kinds: "frame", frames: phone })}`);
  es.onmessage = (m) => {
    for (const ev of JSON.parse(m.data).events) if (ev.type === "frame") fn(ev);
  };
  return () => es.close();
}
