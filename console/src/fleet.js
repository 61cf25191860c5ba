// The fleet as the console knows it: every terminal's registration, online flag and last position,
// loaded once and kept current by the live events (no polling of the whole list).
import { api, on } from "./api.js";

export const fleet = {
  byPhone: new Map(), // phone -> terminal {phone, plate, online, lat, lng, speed, dir, time, alarm, status, extras}
  version: 0, // bumped on every change (cheap change detection for views)
  loaded: false,
};
const listeners = new Set();
let pending = null;

function changed(phones) {
  fleet.version++;
  if (!pending) {
    pending = new Set();
    queueMicrotask(() => {
      const p = pending;
      pending = null;
      for (const fn of listeners) fn(p);
    });
  }
  if (phones === null) pending.add("*");
  else for (const ph of phones) pending.add(ph);
}

export function onFleet(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function entry(phone) {
  let t = fleet.byPhone.get(phone);
  if (!t) {
    t = { phone, plate: "", online: false, lat: null, lng: null, speed: 0, dir: 0, time: null, alarm: 0, status: 0,
          extras: {} };
    fleet.byPhone.set(phone, t);
  }
  return t;
}

function applyLocation(ev) {
  const t = entry(ev.phone);
  t.lat = ev.lat; t.lng = ev.lng; t.speed = ev.speed; t.dir = ev.dir; t.time = ev.time; t.alarm = ev.alarm;
  t.status = ev.status; t.extras = ev.extras || {}; t.alt = ev.alt; t.received_at = ev.received_at;
  t.msg_id = ev.msg_id;
  return t;
}

export async function loadFleet() {
  const [terms, pos] = await Promise.all([api("/api/v1/terminals?limit=100000"), api("/api/v1/console/positions")]);
  for (const r of terms.terminals) {
    const t = entry(r.phone);
    t.plate = r.license_number || "";
    t.online = !!r.online;
    t.registration = r;
  }
  for (const ev of pos.items) applyLocation(ev);
  fleet.loaded = true;
  changed(null);
}

on("location", (ev) => {
  const t = applyLocation(ev);
  t.online = true;
  changed([ev.phone]);
});
on("online", (ev) => { entry(ev.phone).online = true; changed([ev.phone]); });
on("offline", (ev) => { entry(ev.phone).online = false; changed([ev.phone]); });
on("resync", () => { loadFleet().catch(() => {}); });

export function search(text, limit = 20) {
  const q = text.trim().toLowerCase();
  if (!q) return [];
  const out = [];
  for (const t of fleet.byPhone.values()) {
    if (t.phone.includes(q) || (t.plate && t.plate.toLowerCase().includes(q))) {
      out.push(t);
      if (out.length >= limit) break;
    }
  }
  return out;
}

export function counts() {
  let online = 0, moving = 0, alarm = 0, located = 0;
  for (const t of fleet.byPhone.values()) {
    if (t.online) online++;
    if (t.lat !== null) located++;
    if (t.online && t.speed > 1) moving++;
    if (t.alarm) alarm++;
  }
  return { total: fleet.byPhone.size, online, moving, alarm, located };
}
