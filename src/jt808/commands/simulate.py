"""``jt808 simulate``: a fleet of virtual terminals against a server (a load generator).

Each terminal registers, authenticates, then reports its position along a synthetic route ``--rate``
times a second and sends a heartbeat every ``--heartbeat`` seconds, for ``--duration`` seconds after
the ramp-up. A live display shows terminals, messages sent and acknowledged, errors and rates; the
summary gives acks, ack latency p50/p99, reconnects, errors and why connections failed. Exits with
status 1 when any error occurred (timeouts, negative replies, refused logins, dropped connections,
unreadable frames). Ctrl-C or SIGTERM ends the run early: the summary is still printed (and written with
``--json``), the status is then 128 + the signal (130, 143). When stderr is not a terminal the live table
becomes a plain progress line every 5 s; when stdout is not one, the summary is plain ``key: value`` lines.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import click

from jt808.protocol.header import Version
from jt808.simulator import Fleet, FleetConfig, Stats

__all__ = ["command"]


def _server(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``; an empty host is 127.0.0.1) -> (host, port), or a usage error."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{value!r}: expected HOST:PORT (e.g. 127.0.0.1:6808)", param_hint="--server")
    if not 1 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r}: port {int(port)} is not 1..65535", param_hint="--server")
    host = host.strip("[]") or "127.0.0.1"
    if any(c.isspace() for c in host) or "/" in host:
        raise click.BadParameter(f"{value!r}: {host!r} is not a host name or address", param_hint="--server")
    return host, int(port)


def _line(st: Stats, phase: str, total: int, rates: tuple[float, float]) -> str:
    """One plain progress line (stdout or stderr is not a terminal: a log, a CI job)."""
    return (f"{time.monotonic() - st.started:7.1f}s {phase:<9} terminals {st.connected}/{total} "
            f"authenticated {st.authenticated} sent {st.sent} acked {st.acked} errors {st.error_count} "
            f"sent/s {rates[0]:.0f} acked/s {rates[1]:.0f} reconnects {st.reconnects}")


class _Progress:
    def __init__(self, console: Any, total: int) -> None:
        self.console = console
        self.total = total
        self.last = (time.monotonic(), 0, 0)
        self.rates = (0.0, 0.0)

    def _rates(self, st: Stats) -> float:
        now = time.monotonic()
        t0, sent0, acked0 = self.last
        if now - t0 >= 0.9:
            self.rates = ((st.sent - sent0) / (now - t0), (st.acked - acked0) / (now - t0))
            self.last = (now, st.sent, st.acked)
        return now

    def line(self, st: Stats, phase: str) -> str:
        self._rates(st)
        return _line(st, phase, self.total, self.rates)

    def render(self, st: Stats, phase: str) -> Any:
        from rich.table import Table

        now = self._rates(st)
        table = Table(title=f"jt808 simulate — {phase} — {now - st.started:5.1f} s", show_header=True)
        for col in ("terminals", "authenticated", "sent", "acked", "errors", "sent/s", "acked/s", "reconnects"):
            table.add_column(col, justify="right")
        errors = st.error_count
        table.add_row(f"{st.connected}/{self.total}", str(st.authenticated), str(st.sent), str(st.acked),
                      f"[red]{errors}[/red]" if errors else "0", f"{self.rates[0]:.0f}", f"{self.rates[1]:.0f}",
                      str(st.reconnects))
        return table


_SUMMARY_KEYS = ("terminals_connected", "registered", "authenticated", "sent", "acked", "location_reports",
                 "heartbeats", "commands_answered", "acked_per_s", "ack_latency_ms_p50", "ack_latency_ms_p99",
                 "ack_latency_ms_max", "reconnects", "camera_streams", "alarms", "uploads", "uploaded_files", "errors",
                 "elapsed_s")


def _summary_rows(summary: dict[str, Any], sep: str) -> list[tuple[str, str]]:
    """``(what, value)`` rows of the summary; ``sep`` joins the words of the names of the rows after the counters."""
    rows = [(key, str(summary[key])) for key in _SUMMARY_KEYS]
    if summary["error_kinds"]:
        rows.append((f"error{sep}kinds", ", ".join(f"{k}={v}" for k, v in sorted(summary["error_kinds"].items()))))
    rows += [(f"connect{sep}failed", f"{reason} ({n}x)") for reason, n in sorted(summary["connect_failures"].items())]
    if summary["interrupted"]:
        rows.append(("interrupted", summary["interrupted"]))
    return rows


def _summary_table(summary: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title="summary", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    for what, value in _summary_rows(summary, " "):
        t.add_row(what, value)
    return t


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    return [f"{what}: {value}" for what, value in _summary_rows(summary, "_")]


@click.command("simulate")
@click.option("--server", "server", required=True, help="HOST:PORT of the platform.")
@click.option("-n", "--terminals", default=10, show_default=True, type=click.IntRange(1), help="Virtual terminals.")
@click.option("--rate", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Location reports per second per terminal (0: heartbeats only).")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Seconds of reporting after the ramp-up.")
@click.option("--version", "version", default="2013", show_default=True, type=click.Choice(["2011", "2013", "2019"]))
@click.option("--udp", is_flag=True, help="Use UDP instead of TCP.")
@click.option("--heartbeat", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between heartbeats (0: none).")
@click.option("--ack-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds before an unanswered message counts as an error.")
@click.option("--connect-rate", default=500.0, show_default=True, type=click.FloatRange(0),
              help="New connections per second during ramp-up (0: all at once).")
@click.option("--phone-base", default=13_900_000_000, show_default=True, type=int,
              help="Phone number of terminal 0; terminal i uses phone-base + i.")
@click.option("--seed", default=808, show_default=True, type=int, help="Seed of the synthetic routes.")
@click.option("--quirks", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the fleet that misbehaves like field devices (lost one-digit check codes, "
                   "body-length fields one byte over, NUL-padded 0x0100 strings, 2011 layouts among 2013).")
@click.option("--no-reconnect", is_flag=True, help="Do not reconnect dropped terminals.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary as JSON here.")
@click.option("--quiet", is_flag=True, help="No live display (summary only).")
@click.option("--profile", type=click.Choice(["basic", "dashcam"]), default="basic", show_default=True,
              help="dashcam: terminals answer 0x9101 by streaming an H.264 test clip (PyAV) to the media port, and "
                   "raise ADAS/DSM alarms whose evidence they upload on 0x9208 (--alarm-interval).")
@click.option("--live", default=0, show_default=True, type=click.IntRange(0),
              help="dashcam: have the platform (--api) keep channel 1 of this many terminals streaming.")
@click.option("--api", default="http://127.0.0.1:8808", show_default=True, help="The platform's HTTP API (--live).")
@click.option("--token", default="", help="Bearer token of the HTTP API (--live).")
@click.option("--alarm-interval", default=20.0, show_default=True, type=click.FloatRange(0),
              help="dashcam: mean seconds between ADAS/DSM alarms of one terminal (0: none); their evidence is "
                   "uploaded to the attachment server when the platform sends 0x9208.")
@click.option("--clip", default="4,25,320x240,0", show_default=True,
              help="dashcam clip: seconds,fps,WxH,bit/s (0 = x264's default quality).")
def command(server: str, terminals: int, rate: float, duration: float, version: str, udp: bool,
            heartbeat: float, ack_timeout: float, connect_rate: float, phone_base: int, seed: int, quirks: float,
            no_reconnect: bool, json_path: str | None, quiet: bool, profile: str, live: int, api: str, token: str,
            clip: str, alarm_interval: float = 20.0) -> None:
    """Run N virtual terminals against a JT/T 808 server and report acks, latency and errors."""
    from rich.console import Console
    from rich.live import Live

    host, port = _server(server)
    if live and profile != "dashcam":
        raise click.BadParameter("--live needs --profile dashcam", param_hint="--live")
    try:
        secs, fps, size, bps = clip.split(",")
        w, h = size.lower().split("x")
        camera_clip = (float(secs), int(fps), int(w), int(h), int(bps))
    except ValueError:
        raise click.BadParameter(f"{clip!r} is not seconds,fps,WxH,bit/s (e.g. 4,25,320x240,0)",
                                 param_hint="--clip") from None
    cfg = FleetConfig(host=host, port=port, terminals=terminals, rate=rate, duration=duration,
                      version=Version.parse(version), udp=udp, heartbeat=heartbeat, ack_timeout=ack_timeout,
                      connect_rate=connect_rate, phone_base=phone_base, seed=seed, reconnect=not no_reconnect,
                      profile=profile, camera_clip=camera_clip, live=live, api=api, token=token, quirks=quirks,
                      alarm_interval=alarm_interval)
    console = Console(stderr=True)
    progress = _Progress(console, terminals)
    signals: list[int] = []

    async def main() -> Stats:
        fleet = Fleet(cfg)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C / SIGTERM: stop early, still print the summary

            def stop(sig: int = sig) -> None:
                signals.append(sig)
                if len(signals) > 1:  # a second one: the user really wants out
                    raise SystemExit(128 + sig)
                fleet.interrupt(signal.Signals(sig).name)

            try:
                loop.add_signal_handler(sig, stop)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - platform without signals
                pass
        if quiet:
            return await fleet.run()
        if not console.is_terminal:  # a log: one plain line every 5 s
            return await fleet.run(on_tick=lambda st, phase: print(progress.line(st, phase), file=sys.stderr,
                                                                   flush=True), tick=5.0)
        with Live(progress.render(fleet.stats, "starting"), console=console, refresh_per_second=4) as live:
            def update(st: Stats, phase: str) -> None:
                live.update(progress.render(st, phase))

            return await fleet.run(on_tick=update)

    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a declared dependency off Windows
        runner = asyncio.run
    stats = runner(main())
    summary = stats.summary()
    summary["config"] = {"server": f"{host}:{port}", "terminals": terminals, "rate": rate, "duration": duration,
                         "version": version, "transport": "udp" if udp else "tcp", "heartbeat": heartbeat,
                         "profile": profile, "live": live, "quirks": quirks}
    out = Console()
    if out.is_terminal:
        out.print(_summary_table(summary))
    else:  # a pipe or a file: plain lines, nothing cropped
        print("\n".join(_summary_lines(summary)), flush=True)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    if signals:
        sys.exit(128 + signals[0])  # the shell's convention for "ended by this signal"
    if stats.error_count:
        sys.exit(1)
