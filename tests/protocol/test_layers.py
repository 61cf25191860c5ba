"""The protocol core is importable on its own: it pulls in nothing but the standard library."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_protocol_core_imports_only_the_standard_library() -> None:
    code = textwrap.dedent("""
        import sys
        before = set(sys.modules)
        import jt808
        import jt808.protocol
        from jt808.protocol import bits, crypto, exchange, framing, subpackage  # noqa: F401
        from jt808.protocol.messages import area, media, params, records, text, tracking  # noqa: F401
        jt808.to_json(jt808.decode(bytes.fromhex("7e000200000857502162890001c67e")))
        new = {m.split(".")[0] for m in set(sys.modules) - before}
        foreign = sorted(m for m in new if m != "jt808" and m not in sys.stdlib_module_names
                         and not m.startswith("_"))
        print(" ".join(foreign))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the protocol core imported third-party modules: {out.stdout.strip()}"


def test_protocol_core_does_not_import_the_adapters() -> None:
    code = textwrap.dedent("""
        import sys
        import jt808, jt808.protocol
        adapters = ("jt808.gateway", "jt808.session", "jt808.storage", "jt808.bridges", "jt808.client",
                    "jt808.http", "jt808.simulator", "jt808.commands")
        print(" ".join(sorted(m for m in sys.modules if m.startswith(adapters))))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
