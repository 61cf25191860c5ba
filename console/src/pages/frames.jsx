import { useEffect, useState } from "preact/hooks";
import { api, frameStream } from "../api.js";
import { Empty, ErrorBox, Json, TerminalPicker } from "../components.jsx";
import { fmtTime, hex4 } from "../util.js";

const KEEP = 300; // rows kept in the page

function spaced(hex) {
  return hex.replace(/(..)/g, "$1 ").trim();
}

export function FramesPage({ phone }) {
  const [term, setTerm] = useState(phone || "");
  const [rows, setRows] = useState([]);
  const [sel, setSel] = useState(null);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState(null);

  useEffect(() => { if (phone) setTerm(phone); }, [phone]);
  useEffect(() => {
    setRows([]);
    setSel(null);
    if (!term) return undefined;
    let closed = false;
    api(`/api/v1/terminals/${encodeURIComponent(term)}/frames?limit=100`).then((r) => {
      if (!closed) setRows((now) => [...now, ...r.items.reverse()].slice(0, KEEP));
    }).catch(setError);
    const stop = frameStream(term, (ev) => {
      if (!paused) setRows((now) => [ev, ...now].slice(0, KEEP));
    });
    return () => { closed = true; stop(); };
  }, [term, paused]);

  const cur = sel !== null ? rows[sel] : rows[0];
  return (
    <div class="frames">
      <div class="panel feed">
        <div class="toolbar">
          <h2>Raw frames</h2>
          <TerminalPicker value={term} onChange={setTerm} id="frames-terminal" />
          <button onClick={() => setPaused(!paused)}>{paused ? "Resume" : "Pause"}</button>
          <span class="muted small">newest first · last {KEEP}</span>
        </div>
        <ErrorBox error={error} />
        {!term ? <Empty>Choose a terminal: its frames appear here live, hex beside the decoded JSON.</Empty> : null}
        {term && !rows.length ? <Empty>Waiting for frames from {term}…</Empty> : null}
        <div class="frame-list" id="frame-list">
          {rows.map((f, i) => (
            <div key={`${f.time}-${i}`} class={`frame-row ${f.error ? "bad" : ""} ${cur === f ? "sel" : ""}`} onClick={() => setSel(i)}>
              <span class="t">{fmtTime(f.time).slice(11)}</span>
              <span class="dir">{f.dir === "up" ? "↑" : "↓"}</span>
              <span class="id">{f.msg_id !== undefined ? hex4(f.msg_id) : "?"}</span>
              <span class="hex mono">{spaced(f.hex)}</span>
            </div>
          ))}
        </div>
      </div>
      <div class="panel detail">
        {cur ? (
          <div id="frame-detail">
            <h3>{cur.msg_id !== undefined ? hex4(cur.msg_id) : "frame"} <span class="muted small">{fmtTime(cur.time)}</span></h3>
            <pre class="hexdump mono">{spaced(cur.hex)}</pre>
            {cur.error ? <div class="error-box">{cur.error}</div> : null}
            {cur.json ? <Json value={cur.json} /> : null}
          </div>
        ) : null}
        <Analyzer />
      </div>
    </div>
  );
}

function Analyzer() {
  const [text, setText] = useState("");
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  async function run() {
    setError(null);
    try { setOut((await api("/api/v1/decode", { method: "POST", body: { hex: text } })).frames); } catch (e) { setError(e); }
  }
  return (
    <div class="analyzer">
      <h3>Decode any frame</h3>
      <textarea id="decode-input" class="mono" rows="4" placeholder="7e 0200 … 7e  (one frame per line)" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <button class="primary" id="decode-run" onClick={run} disabled={!text.trim()}>Decode</button>
      <ErrorBox error={error} />
      <div id="decode-output">
        {(out || []).map((f, i) => (
          <div key={i} class="decoded">
            {f.error ? <div class="error-box">{f.error}</div> : null}
            {f.json ? <Json value={f.json} /> : null}
            {f.explain ? <details><summary>Annotated hex dump</summary><pre class="mono small">{f.explain}</pre></details> : null}
          </div>
        ))}
      </div>
    </div>
  );
}
