import { useEffect, useState } from "preact/hooks";
import { api, on, qs } from "../api.js";
import { Empty, ErrorBox, TerminalPicker } from "../components.jsx";
import { fmtBytes, fmtTime, inputToIso } from "../util.js";

const TYPES = ["image", "audio", "video"];
const EVENTS = ["platform command", "timed", "robbery alarm", "collision/rollover", "door open", "door close", "door open/close by speed", "fixed distance"];

export function MediaPage({ phone }) {
  const [term, setTerm] = useState(phone || "");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);

  async function load() {
    if (!term) return;
    setError(null);
    try {
      const r = await api(`/api/v1/terminals/${encodeURIComponent(term)}/media${qs({ start: inputToIso(start), end: inputToIso(end) })}`);
      setItems((r.media || r.items).slice().reverse());
    } catch (e) { setError(e); setItems(null); }
  }
  useEffect(() => { if (phone) setTerm(phone); }, [phone]);
  useEffect(() => { load(); }, [term]);
  useEffect(() => on("media", (ev) => { if (ev.phone === term && !ev.error) load(); }), [term, start, end]);

  return (
    <div class="page">
      <div class="toolbar">
        <h2>Media</h2>
        <TerminalPicker value={term} onChange={setTerm} id="media-terminal" />
        <input type="datetime-local" value={start} onChange={(e) => setStart(e.currentTarget.value)} title="from" />
        <input type="datetime-local" value={end} onChange={(e) => setEnd(e.currentTarget.value)} title="to" />
        <button class="primary" onClick={load} disabled={!term}>Show</button>
        {items ? <span class="muted">{items.length} files</span> : null}
      </div>
      <ErrorBox error={error} />
      {!term ? <Empty>Choose a terminal to see the photos and recordings it uploaded.</Empty> : null}
      {items && !items.length ? <Empty>No media from this terminal in this range.</Empty> : null}
      {items && items.length ? (
        <div class="media-grid" id="media-grid">
          {items.map((m) => (
            <figure key={m.url || m.name} class="media-card">
              {m.content_type.startsWith("image/") && m.format === 0 ? (
                <img src={m.url} alt={m.name} loading="lazy" onClick={() => setOpen(m)} />
              ) : m.content_type.startsWith("audio/") ? (
                <audio controls src={m.url} preload="none" />
              ) : (
                <a class="file" href={m.url} download={m.name}>{m.name.split(".").pop().toUpperCase()}</a>
              )}
              <figcaption>
                <b>#{m.media_id}</b> {TYPES[m.type] || `type ${m.type}`} · ch {m.channel}
                <span class="muted">{fmtTime(m.received_at)} · {fmtBytes(m.size)}</span>
                <span class="muted">{EVENTS[m.event] || `event ${m.event}`}</span>
                <a href={m.url} download={m.name}>download</a>
              </figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      {open ? (
        <div class="lightbox" onClick={() => setOpen(null)}>
          <img src={open.url} alt={open.name} />
          <div class="caption">{open.name} · {fmtTime(open.received_at)}</div>
        </div>
      ) : null}
    </div>
  );
}
