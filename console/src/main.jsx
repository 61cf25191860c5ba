import "leaflet/dist/leaflet.css";
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, on, onLiveState, startLive, stopLive } from "./api.js";
import { counts, loadFleet, onFleet } from "./fleet.js";
import { setMapConfig } from "./map.js";
import { LivePage } from "./pages/live.jsx";
import { PlaybackPage } from "./pages/playback.jsx";
import { CommandsPage } from "./pages/commands.jsx";
import { AlarmsPage } from "./pages/alarms.jsx";
import { MediaPage } from "./pages/media.jsx";
import { FramesPage } from "./pages/frames.jsx";
import { DashboardPage } from "./pages/dashboard.jsx";
import "./video.js"; // live video tiles in the terminal panel (window.jt808Console.videoTile)

const ICONS = {
  map: "M12 2C8 2 5 5 5 9c0 5 7 13 7 13s7-8 7-13c0-4-3-7-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z",
  playback: "M4 5h2v14H4zM8 5l12 7-12 7z",
  commands: "M4 5h16v3H4zm0 5.5h10v3H4zM4 16h13v3H4z",
  alarms: "M12 3a6 6 0 0 0-6 6v4l-2 3h16l-2-3V9a6 6 0 0 0-6-6zm0 18a2.5 2.5 0 0 0 2.4-2h-4.8A2.5 2.5 0 0 0 12 21z",
  media: "M4 5h16v14H4zm2 11h12l-4-5-3 3.5-2-2.5z",
  frames: "M8 6L3 12l5 6 1.5-1.3L5.6 12l3.9-4.7zm8 0l-1.5 1.3 3.9 4.7-3.9 4.7L16 18l5-6z",
  dashboard: "M4 13h7V4H4zm0 7h7v-5H4zm9 0h7v-9h-7zm0-16v5h7V4z",
};
const PAGES = [
  ["map", "Live map"], ["playback", "Playback"], ["commands", "Commands"], ["alarms", "Alarms"],
  ["media", "Media"], ["frames", "Raw frames"], ["dashboard", "Dashboard"],
];

function route() {
  const [, page = "map", phone = ""] = location.hash.replace(/^#/, "").split("/");
  return { page: PAGES.some(([p]) => p === page) ? page : "map", phone: decodeURIComponent(phone) };
}

function Icon({ name }) {
  return <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d={ICONS[name]} fill="currentColor" /></svg>;
}

function Login({ onDone }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  async function submit(e) {
    e.preventDefault();
    try {
      await api("/console/login", { method: "POST", body: { token } });
      onDone();
    } catch (err) {
      setError(err.status === 401 ? "That token is not the gateway's." : err.message);
    }
  }
  return (
    <div class="login">
      <form onSubmit={submit} id="login-form">
        <div class="brand big"><span class="logo">▲</span> jt808 console</div>
        <p class="muted">This gateway's API needs its token (<code>http.token</code>).</p>
        <input type="password" id="login-token" placeholder="token" value={token} autofocus onInput={(e) => setToken(e.currentTarget.value)} />
        {error ? <div class="error-box">{error}</div> : null}
        <button class="primary" type="submit">Sign in</button>
      </form>
    </div>
  );
}

function App() {
  const [r, setR] = useState(route());
  const [auth, setAuth] = useState("checking"); // checking | login | ok
  const [cfg, setCfg] = useState(null);
  const [connected, setConnected] = useState(false);
  const [alarms, setAlarms] = useState(0);
  const [c, setC] = useState(counts());

  useEffect(() => {
    const h = () => setR(route());
    addEventListener("hashchange", h);
    return () => removeEventListener("hashchange", h);
  }, []);

  async function boot() {
    const config = await api("/console/config");
    setMapConfig(config);
    setCfg(config);
    try {
      await api("/api/v1/console/status");
    } catch (e) {
      if (e.status === 401) { setAuth("login"); return; }
      throw e;
    }
    setAuth("ok");
    startLive();
    await loadFleet();
  }
  useEffect(() => {
    boot().catch((e) => { console.warn("console start:", e.message); setAuth("ok"); });
    const offs = [onLiveState(setConnected), onFleet(() => setC(counts())), on("alarm", () => setAlarms((n) => n + 1))];
    return () => offs.forEach((f) => f());
  }, []);

  if (auth === "checking") return <div class="boot">jt808 console…</div>;
  if (auth === "login") return <Login onDone={() => { setAuth("checking"); boot().catch(() => setAuth("login")); }} />;

  const go = (page, phone) => { location.hash = `#/${page}${phone ? `/${encodeURIComponent(phone)}` : ""}`; };
  const logout = async () => { await api("/console/logout", { method: "POST" }); stopLive(); setAuth("login"); };
  const P = { phone: r.phone, go };
  return (
    <div class="shell">
      <nav class="sidebar">
        <div class="brand"><span class="logo">▲</span> jt808</div>
        {PAGES.map(([p, label]) => (
          <a key={p} href={`#/${p}`} class={r.page === p ? "active" : ""} id={`nav-${p}`}>
            <Icon name={p} /> <span>{label}</span>
            {p === "alarms" && alarms ? <span class="badge" id="alarm-badge">{alarms}</span> : null}
          </a>
        ))}
        <div class="sidebar-foot">
          <div class={`live-dot ${connected ? "on" : ""}`} id="live-state">{connected ? "live" : "reconnecting…"}</div>
          <div class="muted small">{c.online} / {c.total} online</div>
          {cfg?.token_required ? <button class="link" onClick={logout}>Sign out</button> : null}
        </div>
      </nav>
      <main class={`content page-${r.page}`}>
        {r.page === "map" ? <LivePage {...P} /> : null}
        {r.page === "playback" ? <PlaybackPage {...P} /> : null}
        {r.page === "commands" ? <CommandsPage {...P} /> : null}
        {r.page === "alarms" ? <AlarmsPage {...P} seen={() => setAlarms(0)} /> : null}
        {r.page === "media" ? <MediaPage {...P} /> : null}
        {r.page === "frames" ? <FramesPage {...P} /> : null}
        {r.page === "dashboard" ? <DashboardPage {...P} /> : null}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app"));
