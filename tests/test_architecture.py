"""Import rules of ``src/jt808``, read from the source (every ``import`` statement, module level or inside
functions, except those under ``if TYPE_CHECKING:``):

- no import cycle anywhere (a module never reaches itself again through the modules it imports);
- the protocol core (``jt808.protocol``) imports only the standard library, ``jt808.errors`` and itself;
- the session layer imports only the standard library, the core and ``jt808.errors``;
- the gateway never imports the HTTP API (``jt808.node`` composes them).

``tests/protocol/test_layers.py`` checks the same for the core at run time (what ``import`` really loads).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "jt808"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from a import b`` counts ``a.b`` when that is a
    module of ours, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for a in node.names:
                full = f"{base}.{a.name}"
                out.add(full if full in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


MODULES: dict[str, Path] = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH: dict[str, set[str]] = {}
for _name, _path in MODULES.items():
    GRAPH[_name] = _imports(_path, _name)


def _ours(mods: set[str]) -> set[str]:
    return {m for m in mods if m in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(_ours(GRAPH[v])):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(GRAPH):
        if v not in index:
            strong(v)
    return out


def test_the_graph_sees_every_module() -> None:
    assert len(MODULES) > 50 and "jt808.protocol.messages.location" in MODULES
    assert "jt808.protocol.layouts" in GRAPH["jt808.protocol.messages.location"]


def test_no_import_cycle() -> None:
    assert _cycles() == []


def _foreign(prefix: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for name, mods in GRAPH.items():
        if name != prefix and not name.startswith(prefix + "."):
            continue
        wrong = sorted(m for m in mods if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith(allowed)
                       and m != "__future__")
        if wrong:
            bad[name] = wrong
    return bad


def test_the_protocol_core_imports_only_the_standard_library_and_itself() -> None:
    # RSA body encryption (jt808.protocol.crypto) imports ``cryptography`` inside its functions, only when a
    # profile holds keys: the one exception, and only there
    bad = _foreign("jt808.protocol", ("jt808.protocol", "jt808.errors"))
    assert bad.pop("jt808.protocol.crypto", []) == ["cryptography.hazmat.primitives",
                                                    "cryptography.hazmat.primitives.asymmetric"]
    assert bad == {}


def test_the_session_layer_imports_only_the_core() -> None:
    assert _foreign("jt808.session", ("jt808.session", "jt808.protocol", "jt808.errors")) == {}


def test_the_gateway_never_imports_the_http_api() -> None:
    bad = {name: sorted(m for m in mods if m == "jt808.http" or m.startswith("jt808.http."))
           for name, mods in GRAPH.items() if name.startswith("jt808.gateway")}
    assert {k: v for k, v in bad.items() if v} == {}
