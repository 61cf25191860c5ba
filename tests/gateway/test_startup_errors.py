"""``jt808 serve`` with a startup mistake: one line ``Error: <setting>: <cause>`` on stderr, no traceback,
exit status 2 for a wrong setting and 1 for a dependency that refuses, nothing listening meanwhile."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PG = os.environ.get("JT808_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60,
          data_dir: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "0",
           "--data-dir", data_dir or str(tmp_path / "data"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, check=False)


def assert_one_line(r: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, r.stderr
    assert r.stderr.rstrip().splitlines()[-1] == errors[0], r.stderr  # the last thing said
    for w in words:
        assert w in errors[0], errors[0]
    assert r.returncode == status, (r.returncode, r.stderr)
    return errors[0]


@pytest.mark.parametrize(("args", "env", "status", "words"), [
    (["--db", "mysql://x"], {}, 2, ["storage.db", "mysql://x"]),
    (["--db", f"{PG}?pool_max=abc"], {}, 2, ["storage.db", "pool_max"]),
    (["--db", "sqlite:///x.db?synchronous=BOGUS"], {}, 2, ["storage.db", "BOGUS"]),
    (["--db", "postgresql://postgres@127.0.0.1:1/test"], {}, 1, ["storage.db", "refused"]),
    (["--db", "postgresql://postgres@127.0.0.1:5432/jt808_no_such_db"], {}, 1,
     ["storage.db", "jt808_no_such_db", "does not exist"]),
    (["--db", "postgresql://jt808_no_such_role@127.0.0.1:5432/test"], {}, 1, ["storage.db", "jt808_no_such_role"]),
    (["--mqtt", "http://broker"], {}, 2, ["mqtt.url", "http"]),
    (["--mqtt", "mqtt://127.0.0.1:99999"], {}, 2, ["mqtt.url", "port"]),
    ([], {"JT808_LOG_LEVEL": "LOUD"}, 2, ["log.level", "LOUD"]),
    ([], {"JT808_AUTH_MODE": "http", "JT808_AUTH_AUTH_URL": "not a url"}, 2, ["auth.auth_url", "not a url"]),
    ([], {"JT808_AUTH_REGISTRY_URL": "ftp://x/y"}, 2, ["auth.registry_url"]),
    ([], {"JT808_SERVER_PORT": "seven"}, 2, ["server.port", "seven"]),
    (["--port", "70000"], {}, 2, ["server.port", "70000"]),
])
def test_startup_mistake_is_one_line(tmp_path: Path, args: list[str], env: dict[str, str], status: int,
                                     words: list[str]) -> None:
    assert_one_line(serve(tmp_path, *args, env=env), status, *words)


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line(serve(tmp_path, data_dir=str(blocker / "data")), 1, "data_dir", str(blocker / "data"))
    assert_one_line(serve(tmp_path, data_dir=str(blocker)), 2, "--data-dir", "is a file")  # click's check
    r = subprocess.run([sys.executable, "-m", "jt808.cli", "serve", "--port", "0", "--http-port", "0"], text=True,
                       capture_output=True, timeout=60, env={**os.environ, "JT808_DATA_DIR": str(blocker)}, check=False)
    assert_one_line(r, 2, "data_dir", "not a directory")


def _udp_port_free_for_tcp() -> socket.socket:
    """A bound UDP socket whose port number is free for a TCP listener too (the gateway binds TCP first: an
    ephemeral port taken by another process's TCP socket would name TCP, not the UDP port in use)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", s.getsockname()[1]))
                return s
            except OSError:
                s.close()
    raise AssertionError("no UDP port whose number is free for TCP in 100 tries")


@pytest.mark.parametrize("which", ["tcp", "udp", "http"])
def test_port_in_use_is_named(tmp_path: Path, which: str) -> None:
    kind = socket.SOCK_DGRAM if which == "udp" else socket.SOCK_STREAM
    with _udp_port_free_for_tcp() if which == "udp" else socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.bind(("127.0.0.1", 0))
            s.listen()
        port = s.getsockname()[1]
        if which == "http":
            r = serve(tmp_path, "--http-port", str(port))
            line = assert_one_line(r, 1, "http.port", str(port), "in use")
        else:
            args = ["--port", str(port)] + (["--no-udp"] if which == "tcp" else [])
            r = serve(tmp_path, *args)
            line = assert_one_line(r, 1, "server.port", str(port), which.upper(), "in use")
    assert "address already in use" in line
    assert "gateway stopped" not in r.stderr and "storage flushed" not in r.stderr, r.stderr  # it never served


def test_nothing_listens_while_the_broker_is_awaited(tmp_path: Path) -> None:
    port, http_port, broker = free_port(), free_port(), free_port()
    cmd = [sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--http-port",
           str(http_port), "--data-dir", str(tmp_path / "d"), "--mqtt", f"mqtt://127.0.0.1:{broker}"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "JT808_MQTT_CONNECT_TIMEOUT": "3"})
    tries = 0
    try:
        while proc.poll() is None:
            for p in (port, http_port):
                with socket.socket() as s:
                    s.settimeout(0.2)
                    assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} accepted before the broker was reached"
            tries += 1
            time.sleep(0.05)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert tries > 5  # the ports were probed while it waited
    assert_one_line(subprocess.CompletedProcess(cmd, proc.returncode, "", err), 1, "mqtt.url",
                    f"127.0.0.1:{broker}")


def test_workers_refuse_the_same_mistakes_once(tmp_path: Path) -> None:
    r = serve(tmp_path, "--workers", "2", "--db", "postgresql://postgres@127.0.0.1:1/test")
    assert_one_line(r, 2, "server.workers", "fixed ports")
    port, http_port = free_port(), free_port()
    r = subprocess.run([sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                        "--http-port", str(http_port), "--data-dir", str(tmp_path / "w"), "--workers", "2",
                        "--db", "postgresql://postgres@127.0.0.1:1/test"], capture_output=True, text=True,
                       timeout=60, check=False)
    assert_one_line(r, 1, "storage.db", "refused")
    assert "worker 0 started" not in r.stderr  # said by the supervisor before starting any worker


def test_ctrl_c_while_the_database_does_not_answer(tmp_path: Path) -> None:
    """A database that accepts the connection and never answers: Ctrl-C stops the start at once (one line,
    status 0) instead of after the driver's timeout; the timeout itself is said in words."""
    import signal

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/test"
        cmd = [sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "0",
               "--data-dir", str(tmp_path / "d"), "--db", url]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            silent.settimeout(60)
            conn, _ = silent.accept()  # the gateway is waiting for the database now
            with conn:
                started = time.monotonic()
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=30)
                assert time.monotonic() - started < 10  # asyncpg's own timeout is 60 s
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Error:" not in err, err
    assert err.rstrip().splitlines()[-1].endswith("interrupted while starting: nothing was served"), err


def test_silent_database_timeout_in_words() -> None:
    from jt808.node import _storage_reason

    assert _storage_reason(TimeoutError()) == "the server accepted the connection but did not answer in time"
    assert _storage_reason(ConnectionRefusedError(111, "x")) == "connection refused"
