import { useEffect, useMemo, useState } from "preact/hooks";
import { api, on } from "../api.js";
import { fleet } from "../fleet.js";
import { ErrorBox, Json, TerminalPicker } from "../components.jsx";
import { fmtTime, hex4 } from "../util.js";

// the commands operators reach for first (any other message is in the list below them)
const COMMON = [0x8201, 0x8202, 0x8300, 0x8104, 0x8106, 0x8103, 0x8801, 0x8105, 0x8107, 0x8500, 0x8203];

let schemaCache = null;
function loadSchemas() {
  if (!schemaCache) schemaCache = api("/api/v1/messages?direction=down").then((r) => r.items);
  return schemaCache;
}

function initial(field) {
  if (field.type === "integer") return 0;
  if (field.type === "array") return [];
  if (field.type === "object") return field.fields ? Object.fromEntries(field.fields.map((f) => [f.key, initial(f)])) : {};
  return "";
}

function Field({ field, value, onChange, path }) {
  const id = `f-${path}`;
  const label = (
    <span class="flabel">
      <code>{field.key}</code> <span class="muted">{field.wire}</span>
      {field.doc ? <span class="fdoc">{field.doc}</span> : null}
    </span>
  );
  if (field.type === "integer") {
    return (
      <label class="field">{label}
        <input type="number" id={id} name={field.key} min={field.minimum} max={field.maximum} value={value}
               onInput={(e) => onChange(e.currentTarget.value === "" ? 0 : Number(e.currentTarget.value))} />
      </label>
    );
  }
  if (field.type === "string") {
    const hint = field.format === "digits" ? `digits, up to ${field.maxLength}` : field.format === "base64" ? "base64" : field.maxBytes ? `up to ${field.maxBytes} bytes` : "";
    return (
      <label class="field">{label}
        {field.key === "text" || field.key === "param" ?
          <textarea id={id} rows="2" value={value} onInput={(e) => onChange(e.currentTarget.value)} placeholder={hint} /> :
          <input id={id} value={value} placeholder={hint} onInput={(e) => onChange(e.currentTarget.value)} />}
      </label>
    );
  }
  if (field.type === "array" && field.items && field.items.type !== "object") {
    return (
      <label class="field">{label}
        <input id={id} value={(value || []).join(", ")} placeholder="comma-separated"
               onInput={(e) => onChange(e.currentTarget.value.split(/[\s,]+/).filter(Boolean).map((x) => field.items.type === "integer" ? Number(x) : x))} />
      </label>
    );
  }
  if (field.type === "array" && field.items && field.items.fields) {
    const rows = value || [];
    return (
      <fieldset class="field list">
        <legend>{label}</legend>
        {rows.map((row, i) => (
          <div class="list-row" key={i}>
            {field.items.fields.map((f) => (
              <Field key={f.key} field={f} value={row[f.key]} path={`${path}-${i}-${f.key}`}
                     onChange={(v) => onChange(rows.map((r, j) => (j === i ? { ...r, [f.key]: v } : r)))} />
            ))}
            <button class="small" onClick={() => onChange(rows.filter((_, j) => j !== i))}>Remove</button>
          </div>
        ))}
        <button class="small" onClick={() => onChange([...rows, initial(field.items)])}>Add {field.items.record || "item"}</button>
      </fieldset>
    );
  }
  return (
    <label class="field">{label}
      <textarea rows="3" class="mono" value={JSON.stringify(value ?? null)} onInput={(e) => {
        try { onChange(JSON.parse(e.currentTarget.value)); } catch { /* keep typing */ }
      }} />
    </label>
  );
}

export function CommandsPage({ phone }) {
  const [term, setTerm] = useState(phone || "");
  const [schemas, setSchemas] = useState([]);
  const [msgId, setMsgId] = useState(0x8201);
  const [values, setValues] = useState({});
  const [raw, setRaw] = useState(false);
  const [rawText, setRawText] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [history, setHistory] = useState([]);
  const [liveEvents, setLiveEvents] = useState([]);

  useEffect(() => { loadSchemas().then(setSchemas).catch(setError); }, []);
  useEffect(() => { if (phone) setTerm(phone); }, [phone]);
  useEffect(() => on("command", (ev) => setLiveEvents((l) => [ev, ...l].slice(0, 20))), []);

  const t = fleet.byPhone.get(term);
  const version = String(t?.registration?.version || 2013);
  const schema = schemas.find((s) => s.msg_id === msgId);
  const vs = schema ? schema.versions[version] || schema.versions["2013"] || Object.values(schema.versions)[0] : null;
  // a form when the declaration describes the whole body; else the raw JSON editor, prefilled
  const formable = !!vs && !vs.fields.some((f) => f.custom || f.conditional) && !(vs.custom && !vs.fields.length);

  useEffect(() => {
    if (!vs) return;
    const v = vs.example || Object.fromEntries(vs.fields.map((f) => [f.key, initial(f)]));
    setValues(v);
    setRawText(JSON.stringify({ header: { msg_id: msgId }, body: v }, null, 2));
    setRaw(!formable);
    setResult(null);
    setError(null);
  }, [msgId, schemas.length, version]);

  const ordered = useMemo(() => {
    const common = COMMON.map((id) => schemas.find((s) => s.msg_id === id)).filter(Boolean);
    const rest = schemas.filter((s) => !COMMON.includes(s.msg_id));
    return { common, rest };
  }, [schemas]);

  async function send() {
    setBusy(true);
    setError(null);
    setResult(null);
    let doc;
    try {
      doc = raw ? JSON.parse(rawText) : { header: { msg_id: msgId }, body: values };
    } catch (e) {
      setError({ message: `not JSON: ${e.message}` });
      setBusy(false);
      return;
    }
    const started = new Date().toISOString();
    try {
      const r = await api(`/api/v1/terminals/${encodeURIComponent(term)}/commands`, { method: "POST", body: doc });
      setResult(r);
      setHistory((h) => [{ started, phone: term, msg_id: doc.header?.msg_id, ok: true, reply: r.reply }, ...h].slice(0, 30));
    } catch (e) {
      setError(e);
      if (e.data?.reply) setResult({ reply: e.data.reply });
      setHistory((h) => [{ started, phone: term, msg_id: doc.header?.msg_id, ok: false, error: `${e.status} ${e.code || ""} ${e.message}` }, ...h].slice(0, 30));
    } finally {
      setBusy(false);
    }
  }

  const label = (s) => `${s.hex} ${s.title_zh} — ${s.title}`;
  return (
    <div class="split">
      <div class="panel side wide">
        <h2>Commands</h2>
        <label>Terminal<TerminalPicker value={term} onChange={setTerm} id="command-terminal" /></label>
        {t ? <div class="muted small">{t.online ? "online" : "offline"} · protocol {version}</div> : null}
        <label>Message
          <select id="command-message" value={msgId} onChange={(e) => setMsgId(Number(e.currentTarget.value))}>
            <optgroup label="Common">{ordered.common.map((s) => <option value={s.msg_id} key={s.msg_id}>{label(s)}</option>)}</optgroup>
            <optgroup label="All platform messages">{ordered.rest.map((s) => <option value={s.msg_id} key={s.msg_id}>{label(s)}</option>)}</optgroup>
          </select>
        </label>
        {schema ? <p class="doc">{schema.doc.split("\n")[0].replace(/``/g, "")}</p> : null}
        <div class="tabs">
          <button class={!raw ? "active" : ""} disabled={!formable} onClick={() => setRaw(false)}>Form</button>
          <button class={raw ? "active" : ""} id="raw-json-tab" onClick={() => { setRawText(JSON.stringify({ header: { msg_id: msgId }, body: values }, null, 2)); setRaw(true); }}>Raw JSON</button>
        </div>
        {raw ? (
          <textarea id="command-json" class="mono" rows="12" value={rawText} onInput={(e) => setRawText(e.currentTarget.value)} />
        ) : vs && vs.fields.length ? (
          <div class="form">
            {vs.fields.map((f) => (
              <Field key={f.key} field={f} value={values[f.key]} path={f.key} onChange={(v) => setValues({ ...values, [f.key]: v })} />
            ))}
          </div>
        ) : <div class="muted small">This message has no body.</div>}
        <button class="primary" id="command-send" disabled={!term || busy} onClick={send}>{busy ? "Waiting for the reply…" : "Send"}</button>
      </div>
      <div class="panel main">
        <h3>Reply</h3>
        <ErrorBox error={error} />
        <div id="command-result">
          {result ? (
            result.reply ? (
              <div>
                <div class="reply-head"><span class="pill ok">{hex4(result.reply.header?.msg_id ?? 0)}</span> from {result.reply.header?.phone}</div>
                <Json value={result.reply} />
              </div>
            ) : <div class="muted">Sent (the message has no reply).</div>
          ) : !error ? <div class="muted">Send a command to see the terminal's answer here.</div> : null}
        </div>
        <h3>This session</h3>
        <table class="table small">
          <thead><tr><th>Sent</th><th>Terminal</th><th>Message</th><th>Outcome</th></tr></thead>
          <tbody>
            {history.map((h, i) => (
              <tr key={i}><td>{fmtTime(h.started)}</td><td>{h.phone}</td><td>{hex4(h.msg_id ?? 0)}</td>
                <td class={h.ok ? "ok" : "bad"}>{h.ok ? (h.reply ? `reply ${hex4(h.reply.header.msg_id)}` : "sent") : h.error}</td></tr>
            ))}
          </tbody>
        </table>
        {liveEvents.length ? (
          <>
            <h3>Commands from anyone (live)</h3>
            <table class="table small">
              <thead><tr><th>Terminal</th><th>Message</th><th>Outcome</th><th>Reply</th></tr></thead>
              <tbody>{liveEvents.map((ev, i) => (
                <tr key={i}><td>{ev.phone}</td><td>{hex4(ev.msg_id)}</td><td class={ev.status === "replied" ? "ok" : "bad"}>{ev.status}</td>
                  <td>{ev.reply ? hex4(ev.reply.header.msg_id) : "—"}</td></tr>
              ))}</tbody>
            </table>
          </>
        ) : null}
      </div>
    </div>
  );
}
