"""Import rules of ``src/jt808``, read from the source (every ``import`` statement, module level or inside
functions, except those under ``if TYPE_CHECKING:``):

- no import cycle anywhere (a module never reaches itself again through the modules it imports);
- the protocol core (``jt808.protocol``) imports only the standard library, ``jt808.errors`` and itself;
- the session layer imports only the standard library, the core and ``jt808.errors``;
- the gateway never imports the HTTP API (``jt808.node`` composes them).

And two rules of STYLE.md read from the same files: every ``type: ignore`` names its error codes and says why
(``# type: ignore[code]  # why``), and every package's ``__init__`` opens with a docstring saying what lives
there and what never does.

``tests/protocol/test_layers.py`` checks the same for the core at run time (what ``import`` really loads).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
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
    assert "jt808.protocol.registry" in GRAPH["jt808.protocol.messages.location"]


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


#: ``# type: ignore[code, ...]  # reason``: the codes mypy would report, then why the checker is wrong here
_IGNORE = re.compile(r"type:\s*ignore(?P<codes>\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\])?(?P<rest>.*)")
_REASON = re.compile(r"^  # \S.{2,}")


def _bad_ignores(source: str) -> list[tuple[int, str]]:
    bad = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT or "type:" not in tok.string:
            continue
        m = _IGNORE.search(tok.string)
        if m and not (m["codes"] and _REASON.match(m["rest"])):
            bad.append((tok.start[0], tok.string))
    return bad


def test_the_type_ignore_rule_reads_comments_only() -> None:
    assert _bad_ignores("x = f()  # type: ignore\n") == [(1, "# type: ignore")]
    assert _bad_ignores("x = f()  # type: ignore[attr-defined]\n") == [(1, "# type: ignore[attr-defined]")]
    assert _bad_ignores("x = f()  # type: ignore  # no code\n") != []
    assert _bad_ignores("x = f()  # type: ignore[misc]  #\n") != []
    assert _bad_ignores("x = f()  # type: ignore[attr-defined,misc]  # set by @record\n") == []
    assert _bad_ignores('s = "# type: ignore"\n') == []  # a string, not a comment


def test_every_type_ignore_names_its_codes_and_a_reason() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}: {text}"
           for path in sorted((SRC / "jt808").rglob("*.py"))
           for line, text in _bad_ignores(path.read_text(encoding="utf-8"))]
    assert bad == [], "write `# type: ignore[code]  # why` (or fix the typing):\n" + "\n".join(bad)


def test_every_package_says_what_lives_there_and_what_never_does() -> None:
    missing = []
    for init in sorted((SRC / "jt808").rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if "lives here" not in doc or "never" not in doc:
            missing.append(str(init.relative_to(ROOT)))
    assert missing == [], f"package docstrings without 'What lives here' / 'what never does': {missing}"
