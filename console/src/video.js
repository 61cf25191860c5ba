// Live video tiles in the terminal panel (docs/video.md): a button per camera channel; each opens a tile
// playing the channel's HTTP-FLV (…/channels/{ch}/live.flv) with mpegts.js. Opening the first tile of a
// channel makes the gateway send 0x9101; closing the last (or the panel) lets it send 0x9102 after its
// grace period. Registered as window.jt808Console.videoTile (the slot pages/live.jsx mounts).
import mpegts from "mpegts.js";

const CHANNELS = [1, 2, 3, 4];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function openTile(grid, phone, ch, onClose) {
  const video = el("video", { muted: "", autoplay: "", playsinline: "", id: `video-${ch}` });
  video.muted = true;
  const status = el("div", { class: "video-status muted small" }, "connecting…");
  const close = el("button", { class: "icon", title: "Close", onclick: () => onClose() }, "×");
  const tile = el("div", { class: "video-tile", "data-channel": String(ch) },
    el("div", { class: "video-head" }, el("b", {}, `CH${ch}`), status, close), video);
  grid.append(tile);
  const url = `/api/v1/terminals/${encodeURIComponent(phone)}/channels/${ch}/live.flv`;
  const player = mpegts.createPlayer({ type: "flv", isLive: true, url },
    { enableStashBuffer: false, liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 1.5,
      liveBufferLatencyMinRemain: 0.3, autoCleanupSourceBuffer: true });
  player.attachMediaElement(video);
  player.load();
  video.play().catch(() => {});
  let ended = false;
  player.on(mpegts.Events.ERROR, (type, detail, info) => {
    ended = true;
    const code = info && info.code ? ` ${info.code}` : "";
    status.textContent = code === " 404" ? "terminal offline" : code === " 409" ? "channel refused"
      : code === " 504" ? "no video (timeout)" : `error: ${detail || type}${code}`;
    status.classList.add("warn");
  });
  player.on(mpegts.Events.LOADING_COMPLETE, () => { ended = true; status.textContent = "stream ended"; });
  const timer = setInterval(() => {
    if (ended) return;
    if (video.videoWidth) status.textContent = `${video.videoWidth}×${video.videoHeight} · ${video.currentTime.toFixed(1)} s`;
  }, 500);
  return () => {
    clearInterval(timer);
    try { player.destroy(); } catch { /* already gone */ }
    tile.remove();
  };
}

export function videoTile(slot, phone) {
  const open = new Map(); // channel -> close()
  const grid = el("div", { class: "video-grid" });
  const buttons = CHANNELS.map((ch) => {
    const b = el("button", { class: "video-ch", id: `video-ch-${ch}`, title: `Live video, channel ${ch}` }, `▶ CH${ch}`);
    const toggle = () => {
      if (open.has(ch)) {
        open.get(ch)();
        open.delete(ch);
        b.classList.remove("active");
      } else {
        open.set(ch, openTile(grid, phone, ch, toggle));
        b.classList.add("active");
      }
    };
    b.addEventListener("click", toggle);
    return b;
  });
  slot.append(el("div", { class: "video-bar" }, el("span", { class: "muted small" }, "Live video"), ...buttons), grid);
  return () => {
    for (const stop of open.values()) stop();
    open.clear();
    slot.replaceChildren();
  };
}

window.jt808Console = { ...(window.jt808Console || {}), videoTile };
