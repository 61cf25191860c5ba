"""The CLI as a tool people script: ``simulate`` ends with its summary on Ctrl-C / SIGTERM, plain
progress when not on a terminal, reasons for failed connections, a validated --server; ``decode`` /
``encode`` say what is wrong with the input and exit 1 when any line failed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jt808.node import Node

from .helpers import make_config

JT808 = [sys.executable, "-m", "jt808.cli"]


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*JT808, *args], input=input, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_simulate_prints_its_summary_when_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    async with Node(make_config(tmp_path)) as node:
        out = tmp_path / "summary.json"
        proc = await asyncio.create_subprocess_exec(
            *JT808, "simulate", "--server", f"127.0.0.1:{node.tcp_port}", "-n", "3", "--rate", "5",
            "--duration", "600", "--json", str(out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None and proc.stdout is not None
        while True:  # plain progress lines (stderr is a pipe): wait until the fleet is running
            line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
            assert line, "simulate ended early"
            assert "\x1b[" not in line and "┃" not in line  # no live table, no colours
            if " running " in line and " authenticated 3 " in line:
                break
        proc.send_signal(sig)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 128 + sig, stderr.decode()
    text = stdout.decode()
    assert f"interrupted: {sig.name}" in text and "acked: " in text and "Traceback" not in stderr.decode()
    summary = json.loads(out.read_text())
    assert summary["interrupted"] == sig.name and summary["authenticated"] == 3 and summary["acked"] > 0
    assert summary["errors"] == 0


def test_simulate_says_why_connections_failed(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run("simulate", "--server", "127.0.0.1:1", "-n", "2", "--duration", "0", "--ack-timeout", "0.5",
            "--json", str(out))
    assert r.returncode == 1
    assert "connect_failed: 127.0.0.1:1: connection refused (2x)" in r.stdout
    assert json.loads(out.read_text())["connect_failures"] == {"127.0.0.1:1: connection refused": 2}


@pytest.mark.parametrize(("server", "words"), [("127.0.0.1:99999", "not 1..65535"), ("localhost", "HOST:PORT"),
                                               ("127.0.0.1:x", "HOST:PORT"), ("a b:80", "not a host")])
def test_simulate_validates_the_server(server: str, words: str) -> None:
    r = run("simulate", "--server", server)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("frame", "words"), [
    ("7e", "too short: 1 byte"), ("7e7e", "too short: 2 byte"), ("zz", "not hex"), ("7e0", "odd number"),
    ("7e000200000857502162890001c77e", "check code"),
])
def test_decode_says_what_is_wrong_and_exits_1(frame: str, words: str) -> None:
    r = run("decode", frame)
    assert r.returncode == 1
    (line,) = r.stdout.splitlines()
    assert words in json.loads(line)["error"], line


@pytest.mark.parametrize(("doc", "words"), [
    ("[]", "empty list"), ("3", "got a number"), ("[3]", "got a number"), ('"x"', "got a string"),
    ("{nope", "invalid JSON"),
    ('{"header":{"msg_id":2,"phone":"0139123456ab","msg_sn":1},"body":{}}', "phone: '0139123456ab' must be digits"),
    ('{"header":{"msg_id":2,"phone":"013912345678","msg_sn":1},"body":{"bogus":1}}', "unknown key 'bogus'"),
    ('{"header":{"msg_id":2,"phone":"013912345678","msg_sn":1,"colour":1},"body":{}}', "unknown key 'colour'"),
    ('{"header":{"msg_id":512,"phone":"013912345678","msg_sn":1},"body":{"alarm":0,"status":0,"latitude":1,'
     '"longitude":1,"altitude":0,"speed":0,"direction":0,"time":"241310120000"}}', "month 13"),
    ('{"header":{"msg_id":512,"phone":"013912345678","msg_sn":1},"body":{"alarm":0,"status":0,"latitude":1,'
     '"longitude":1,"altitude":0,"speed":0,"direction":0,"time":"240310250000"}}', "hour 25"),
])
def test_encode_says_what_is_wrong_and_exits_1(doc: str, words: str) -> None:
    r = run("encode", doc)
    assert r.returncode == 1, r.stdout
    (line,) = r.stdout.splitlines()
    assert words in json.loads(line)["error"], line


def test_encode_good_and_bad_lines_together() -> None:
    good = '{"header":{"msg_id":2,"phone":"013912345678","msg_sn":1},"body":{}}'
    r = run("encode", input=f"{good}\n[]\n{good}\n")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == lines[2] == "7e000200000139123456780001337e" and "error" in lines[1]
    assert run("encode", good).returncode == 0


def test_decode_all_good_exits_0() -> None:
    r = run("decode", input="7e000200000857502162890001c67e\n")
    assert r.returncode == 0 and json.loads(r.stdout)["header"]["msg_id"] == 2



def test_every_builtin_profile_is_offered_by_serve_and_decode() -> None:
    """docs/jt1078.md says `jt808 serve --profile jt1078`: serve offered only three of the four profiles."""
    import click

    from jt808.commands import decode, serve
    from jt808.protocol.profiles import BUILTIN_PROFILES

    commands = [serve.command, *(c for c in vars(decode).values() if isinstance(c, click.Command))]
    offered = [p.type.choices for c in commands for p in c.params if p.name in ("profile", "profile_name")]
    assert len(offered) == 3  # serve, decode, encode
    assert all(list(choices) == list(BUILTIN_PROFILES) for choices in offered), offered
