import { useEffect, useState } from "preact/hooks";
import { fleet, onFleet } from "./fleet.js";

// A terminal chooser: type a phone or a plate (suggestions from the fleet).
export function TerminalPicker({ value, onChange, id = "terminal-picker", placeholder = "phone or plate" }) {
  const [text, setText] = useState(value || "");
  const [, setV] = useState(0);
  useEffect(() => setText(value || ""), [value]);
  useEffect(() => onFleet(() => setV(fleet.version)), []);
  const options = [];
  for (const t of fleet.byPhone.values()) {
    options.push(t);
    if (options.length >= 500) break;
  }
  const commit = (v) => {
    const s = v.trim();
    let phone = s;
    for (const t of fleet.byPhone.values()) {
      if (t.plate && t.plate === s) { phone = t.phone; break; }
    }
    if (phone !== value) onChange(phone);
  };
  return (
    <span class="picker">
      <input list={`${id}-list`} id={id} value={text} placeholder={placeholder} autocomplete="off"
             onInput={(e) => setText(e.currentTarget.value)}
             onChange={(e) => commit(e.currentTarget.value)}
             onKeyDown={(e) => e.key === "Enter" && commit(e.currentTarget.value)} />
      <datalist id={`${id}-list`}>
        {options.map((t) => <option value={t.phone} key={t.phone}>{t.plate ? `${t.plate}${t.online ? " · online" : ""}` : (t.online ? "online" : "")}</option>)}
      </datalist>
    </span>
  );
}

// JSON with a little colour.
export function Json({ value, class: cls = "" }) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  const html = text
    .replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (m, str, colon, lit) => {
      if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
      if (lit) return `<span class="j-lit">${m}</span>`;
      return `<span class="j-num">${m}</span>`;
    });
  return <pre class={`json ${cls}`} dangerouslySetInnerHTML={{ __html: html }} />;
}

export function Empty({ children }) {
  return <div class="empty">{children}</div>;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      <strong>{error.status ? `${error.status} ${error.code || ""}` : "Error"}</strong> {error.message}
    </div>
  );
}

export function Stat({ label, value, sub, tone = "", id }) {
  return (
    <div class={`stat ${tone}`} id={id}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub ? <div class="stat-sub">{sub}</div> : null}
    </div>
  );
}
