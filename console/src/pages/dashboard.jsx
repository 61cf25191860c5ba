import { useEffect, useRef, useState } from "preact/hooks";
import { api, on } from "../api.js";
import { counts, onFleet } from "../fleet.js";
import { ErrorBox, Stat } from "../components.jsx";
import { fmtBytes, fmtDuration, fmtNum } from "../util.js";

const history = []; // messages/s samples, kept across visits

function Spark({ data }) {
  const el = useRef(null);
  useEffect(() => {
    const c = el.current;
    if (!c) return;
    const w = (c.width = c.clientWidth * devicePixelRatio), h = (c.height = c.clientHeight * devicePixelRatio);
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (data.length < 2) return;
    const max = Math.max(1, ...data);
    ctx.beginPath();
    data.forEach((v, i) => {
      const x = (i / (data.length - 1)) * w, y = h - (v / max) * (h - 6) - 3;
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.strokeStyle = "#0f766e";
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.stroke();
    ctx.lineTo(w, h); ctx.lineTo(0, h); ctx.closePath();
    ctx.fillStyle = "rgba(15,118,110,0.10)";
    ctx.fill();
  }, [data.length, data[data.length - 1]]);
  return <canvas class="spark" ref={el} />;
}

export function DashboardPage() {
  const [st, setSt] = useState(null);
  const [error, setError] = useState(null);
  const [c, setC] = useState(counts());
  useEffect(() => {
    api("/api/v1/console/status").then(setSt).catch(setError);
    const off = on("stats", (s) => {
      history.push(s.messages_per_second);
      if (history.length > 90) history.shift();
      setSt(s);
    });
    const off2 = onFleet(() => setC(counts()));
    return () => { off(); off2(); };
  }, []);
  if (!st) return <div class="page"><ErrorBox error={error} /></div>;
  const s = st.storage || {};
  const m = st.mqtt;
  const cmd = st.counters || {};
  const health = st.storage_health;
  const storageTone = health && (health.state || health.status) && !["ok", "healthy"].includes(health.state || health.status) ? "bad" : s.rows_failed ? "warn" : "good";
  return (
    <div class="page dashboard" id="dashboard">
      <h2>Dashboard</h2>
      <div class="stats">
        <Stat id="stat-online" label="Online terminals" value={fmtNum(st.online)} sub={`${fmtNum(c.total)} known · ${fmtNum(c.moving)} moving`} tone="good" />
        <Stat id="stat-rate" label="Messages / s" value={fmtNum(st.messages_per_second)} sub={`${fmtNum(st.rx_frames)} received · ${fmtNum(st.tx_frames)} sent`} />
        <Stat label="Connections" value={fmtNum(st.connections)} sub={`${fmtNum(st.rejected)} frames rejected`} tone={st.rejected ? "warn" : ""} />
        <Stat label="Uptime" value={fmtDuration(st.uptime)} sub={`media saved: ${fmtNum(st.media_saved)}`} />
      </div>
      <div class="card">
        <div class="card-head">Messages per second <span class="muted small">last {history.length * 2} s</span></div>
        <Spark data={history} />
      </div>
      <div class="cards">
        <div class={`card ${storageTone}`} id="storage-card">
          <div class="card-head">Storage <span class="pill">{st.storage_kind}</span></div>
          <div class="kv">
            <div><span>Rows written</span><b>{fmtNum(s.rows_written)}</b></div>
            <div><span>Batches</span><b>{fmtNum(s.batches_written)}</b></div>
            <div><span>Pending</span><b>{fmtNum(s.pending_rows)}</b></div>
            <div><span>Failed rows</span><b class={s.rows_failed ? "bad" : ""}>{fmtNum(s.rows_failed)}</b></div>
            {health ? <div><span>Health</span><b>{typeof health === "object" ? (health.state || health.status || JSON.stringify(health)) : String(health)}</b></div> : null}
          </div>
        </div>
        <div class={`card ${m ? (m.connected ? "good" : "bad") : ""}`} id="mqtt-card">
          <div class="card-head">MQTT bridge {m ? <span class={`pill ${m.connected ? "ok" : "bad"}`}>{m.connected ? "connected" : "disconnected"}</span> : <span class="pill off">not configured</span>}</div>
          {m ? (
            <div class="kv">
              <div><span>Published</span><b>{fmtNum(m.published)}</b></div>
              <div><span>Buffered</span><b>{fmtNum((m.buffered || 0) + (m.inflight || 0))}</b></div>
              <div><span>Dropped</span><b class={m.dropped ? "bad" : ""}>{fmtNum(m.dropped)}</b></div>
              <div><span>Downlinks</span><b>{fmtNum(m.downlinks)}</b></div>
              <div><span>Reconnects</span><b>{fmtNum(m.reconnects)}</b></div>
            </div>
          ) : <div class="muted small">Set mqtt.url to bridge terminals to a broker.</div>}
        </div>
        <div class="card">
          <div class="card-head">Commands</div>
          <div class="kv">
            {["sent", "replied", "failed", "timeout", "offline"].map((k) => <div key={k}><span>{k}</span><b>{fmtNum(cmd[`commands_${k}`] || 0)}</b></div>)}
          </div>
        </div>
        <div class="card">
          <div class="card-head">Sessions</div>
          <div class="kv">
            <div><span>Authenticated</span><b>{fmtNum(cmd.auth_ok || 0)}</b></div>
            <div><span>Refused auth</span><b>{fmtNum(cmd.auth_refused || 0)}</b></div>
            <div><span>Registered</span><b>{fmtNum(cmd.register_ok || 0)}</b></div>
            <div><span>Refused before auth</span><b>{fmtNum(cmd.refused_unauthenticated || 0)}</b></div>
          </div>
        </div>
      </div>
      <p class="muted small">Figures are pushed by the gateway every 2 s; Prometheus scrapes the same numbers at <a href="/metrics">/metrics</a>.</p>
    </div>
  );
}
