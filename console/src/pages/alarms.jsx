import { useEffect, useState } from "preact/hooks";
import { api, on, qs } from "../api.js";
import { ErrorBox, Empty, TerminalPicker } from "../components.jsx";
import { fmtTime, inputToIso } from "../util.js";

const KINDS = ["", "standard", "adas", "dsm", "tpms", "bsd"];

export function AlarmsPage({ phone, seen }) {
  const [filters, setFilters] = useState({ phone: phone || "", kind: "", acknowledged: "", start: "", end: "" });
  const [items, setItems] = useState([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState({});
  const [fresh, setFresh] = useState(new Set());

  async function load(f = filters) {
    setError(null);
    try {
      const r = await api(`/api/v1/alarms${qs({ phone: f.phone, kind: f.kind, acknowledged: f.acknowledged, start: inputToIso(f.start), end: inputToIso(f.end), limit: 200 })}`);
      setItems(r.items);
      setTotal(r.total ?? r.items.length);
    } catch (e) {
      setError(e.status === 404 ? { message: "This gateway has no alarms API (GET /api/v1/alarms answered 404)." } : e);
    }
  }
  useEffect(() => { load(); seen(); }, []);
  useEffect(() => on("alarm", (ev) => {
    const a = { ...ev };
    delete a.type;
    if (filters.phone && a.phone !== filters.phone) return;
    setItems((l) => (l.some((x) => x.id === a.id) ? l : [a, ...l]));
    setTotal((n) => n + 1);
    setFresh((s) => new Set([...s, a.id]));
    seen();
  }), [filters.phone]);

  async function ack(a) {
    setBusy({ ...busy, [a.id]: true });
    try {
      const r = await api(`/api/v1/alarms/${a.id}/ack`, { method: "POST", body: {} });
      const updated = r && r.id ? r : { ...a, acknowledged_at: r?.acknowledged_at || new Date().toISOString() };
      setItems((l) => l.map((x) => (x.id === a.id ? { ...x, ...updated } : x)));
    } catch (e) {
      setError(e);
    } finally {
      setBusy((b) => ({ ...b, [a.id]: false }));
    }
  }

  const set = (k) => (v) => setFilters({ ...filters, [k]: v });
  return (
    <div class="page">
      <div class="toolbar">
        <h2>Alarms</h2>
        <TerminalPicker value={filters.phone} onChange={set("phone")} id="alarm-terminal" placeholder="all terminals" />
        <select value={filters.kind} onChange={(e) => set("kind")(e.currentTarget.value)}>
          {KINDS.map((k) => <option value={k} key={k}>{k || "all kinds"}</option>)}
        </select>
        <select value={filters.acknowledged} onChange={(e) => set("acknowledged")(e.currentTarget.value)} id="alarm-ack-filter">
          <option value="">acknowledged or not</option>
          <option value="false">not acknowledged</option>
          <option value="true">acknowledged</option>
        </select>
        <input type="datetime-local" value={filters.start} onChange={(e) => set("start")(e.currentTarget.value)} title="from" />
        <input type="datetime-local" value={filters.end} onChange={(e) => set("end")(e.currentTarget.value)} title="to" />
        <button class="primary" onClick={() => load()}>Apply</button>
        <span class="muted">{total} alarms</span>
      </div>
      <ErrorBox error={error} />
      {items.length ? (
        <table class="table" id="alarm-table">
          <thead><tr><th>Time</th><th>Terminal</th><th>Kind</th><th>Alarm</th><th>Level</th><th>Speed</th><th>Position</th><th>Attachments</th><th /></tr></thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} class={`${fresh.has(a.id) ? "fresh" : ""} ${a.acknowledged_at ? "acked" : ""}`} data-alarm={a.id}>
                <td>{fmtTime(a.time)}</td>
                <td>{a.phone}</td>
                <td><span class={`tag ${a.kind}`}>{a.kind}</span></td>
                <td><b>{a.name}</b> <span class="muted">{a.code !== undefined ? `#${a.code}` : ""}</span></td>
                <td>{a.level ?? "—"}</td>
                <td>{a.speed ?? "—"}</td>
                <td class="mono small">{a.latitude !== undefined && a.latitude !== null ? `${Number(a.latitude).toFixed(5)}, ${Number(a.longitude).toFixed(5)}` : "—"}</td>
                <td>{(a.attachments || []).map((f) => <a key={f.id} href={f.url || `/api/v1/attachments/${f.id}`} target="_blank" rel="noopener">{f.name}</a>)}</td>
                <td>{a.acknowledged_at ? <span class="ok small">acknowledged {fmtTime(a.acknowledged_at)}</span> :
                  <button class="small primary ack" disabled={busy[a.id]} onClick={() => ack(a)}>Acknowledge</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : !error ? <Empty>No alarms match. New ones appear here as they arrive.</Empty> : null}
    </div>
  );
}
