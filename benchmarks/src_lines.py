"""Lines of ``src/`` (Python files) at a base commit and now, and which issue the growth belongs to.

Issue 12 asks for ``src/`` "smaller than before while doing the same". Between 49c7a56 (before issue 12)
and now other issues added features (2011 and dialects, hostile terminals, operator API, extensions,
console, live video, fleet scale); their lines are not "the same". This script tells them apart by
``git blame``: every line of every ``src/**/*.py`` file at ``--head`` is attributed to the commit that last
wrote it, and every commit after ``--base`` to an issue by :data:`LABELS` (its subject was read when the table
was written; commits that mix two issues are split by path in :data:`BY_PATH`). Lines last written at or before
``--base`` are "old"; "same scope" is old + issue 12 (the consolidation and its typing/test work).
A line rewritten by a later commit counts for that commit, so the figure is an attribution, not an exact
partition: a feature commit that reformatted an old line takes it.

``--code`` counts only lines that hold code: not blank, not only a comment, not part of a docstring (or any
other string standing alone as a statement).

Usage: python3 benchmarks/src_lines.py [--base 49c7a56] [--head HEAD] [--by module|package] [--code]
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tokenize
from collections import Counter, defaultdict
from pathlib import PurePosixPath

ISSUES = {
    "old": "written at or before the base",
    "9": "real terminals first (2011, dialects, repairs, phones)",
    "10": "hostile terminals (limits, re-registration, reassembly budget)",
    "11": "operator-grade gateway (error object, OpenAPI, CLI, truthful state)",
    "12": "one place for each piece of knowledge (same scope)",
    "13": "dash-cam and active-safety extensions, attachments, alarms",
    "14": "web console",
    "15": "live video",
    "16": "fleet scale (fault isolation, outage, logins, MQTT)",
    "?": "not in the table (commits after it was written)",
}
SAME_SCOPE = ("old", "12")

#: commit (short hash) -> issue, for every commit after 49c7a56 that touched src/ (read from its subject)
LABELS: dict[str, str] = {
    # 12: consolidation, typing, the suite's findings
    "1abd603": "12", "4a74bf1": "12", "a91cf30": "12", "ebdaca3": "12", "d724690": "12", "6642000": "12",
    "7575142": "12", "a4c718c": "12", "9c056ac": "12", "03557c2": "12", "8febb79": "12", "efdde87": "12",
    "c8a2175": "12", "ff750fc": "12", "ee93b58": "12", "b7c6ec6": "12", "8308349": "12", "e4f4a4a": "12",
    "0e7522a": "12", "c6cc877": "12", "286d593": "12", "ac7b9c7": "12", "eb30c6c": "12", "e58dbc3": "12",
    "3de16a7": "12", "91e741c": "12", "15f3d28": "12", "d57f4e7": "12", "f1202e5": "12", "e325431": "12",
    "58a6adb": "12", "c1b682b": "12", "8108b42": "12", "24a45f8": "12", "c3a05e3": "12",
    # 9
    "9a7a532": "9", "4c0ca0a": "9", "536cd14": "9", "5d846d9": "9", "fc8e3ed": "9", "c9ba91c": "9",
    # 10
    "3c92c25": "10", "52630cc": "10", "c42c1d2": "10", "0b06e3e": "10", "9d26915": "10", "29b37ae": "10",
    "f0b4898": "10", "5e3086f": "10",
    # 11
    "284b8ef": "11", "18829bb": "11", "e1e15b5": "11", "74a0553": "11", "82eaeca": "11", "e4d49b4": "11",
    "e6adfdb": "11",
    # 13
    "f6d55a9": "13", "bccf774": "13", "6deaa7b": "13", "53a881d": "13", "9ce93b5": "13", "b011c96": "13",
    "9c610f7": "13", "caa5146": "13", "0efe6d9": "13", "1493220": "13", "88bb860": "13", "a93fe65": "13",
    "386cf08": "13", "b618911": "13", "249f9c1": "13", "8c07299": "13", "451c082": "13", "77d6dd1": "13",
    # 14
    "4a2a3be": "14", "d8308de": "14", "fabdc61": "14", "053bfb2": "14", "f69c37e": "14", "795ec0a": "14",
    "9ae04d5": "14", "8c602be": "14", "2064912": "14",
    # 15
    "fc043e6": "15", "11b70ed": "15", "35c21c5": "15", "ba2c734": "15", "9e9e492": "15", "2f6e301": "15",
    "a9a42ed": "15", "175b7ef": "15",
    # 16
    "6a956b8": "16", "122ec1f": "16", "41834ca": "16", "1c5e8c2": "16", "84f92bc": "16", "5b00770": "16",
    "5b97369": "16", "a72eefc": "16", "3c37f79": "16", "d25de12": "16", "b5200c0": "16", "ad59069": "16",
    "11fb417": "16", "4dc1117": "16",
    # this session's other slices (issue 16 parts 3-5 and the stored-report regression of issue 12, measured as 16)
    "177e572": "16", "d30ca9a": "16", "99be2a3": "16", "7f7a684": "16", "2ecadbd": "16", "1924ee4": "16",
    "63f6901": "16", "e9b736d": "16", "18cdc32": "16", "5017a3b": "16", "cdba11e": "16", "3ae4f8b": "16",
    "5990160": "16",
    # the "shrink" slice: issue 12's same scope made smaller, behaviour unchanged
    "6b8d27b": "12", "aa134eb": "12", "99ca396": "12", "38298b0": "12", "7dab5b3": "12", "639dbc4": "12",
    "6dd81d5": "12",
    # decode's "one 0x0200 route" (issue 12 item 3: the remembered layouts removed) and its follow-up: the same scope
    "0529fe2": "12", "c9778db": "12",
    # the second "shrink" slice (same scope made smaller: duplicates merged, dead code removed, declarations
    # instead of hand-written codecs; behaviour unchanged)
    "019efa3": "12", "12ed18a": "12", "15a84eb": "12", "1ec5026": "12", "2a69067": "12", "3235478": "12",
    "46514a1": "12", "4bc7efe": "12", "5759ed2": "12", "7718c93": "12", "7c83063": "12", "7e9cdbf": "12",
    "84430ee": "12", "92ddcd7": "12", "c0594ee": "12", "c76388f": "12", "c7ecb70": "12", "cc310b2": "12",
    "d875dc4": "12", "ee254bf": "12", "f17ae14": "12", "f97cebd": "12",
    # stop 19's other commits: 2011 multimedia layouts, the lost zero check code (0x0102 and other bodies),
    # auth codes that are no text (issue 9's dialects); the JT/T 1078 stream parser (15); the 0x0200 JSON made
    # cheaper (old same-scope code rewritten for speed, doing the same: counted as 12)
    "5bd4fff": "9", "05fa2b8": "9", "d35e7a8": "9", "c62ce0b": "9", "0f46b9c": "15", "bf1b4ab": "12",
    "5e6d549": "16",  # stop 18: the SQLite threads without ThreadPoolExecutor (logins, issue 16 part 3)
    # the alarm observer's cheaper check (13); the rows' rendered-value memo, issue 16 part 4 (CPU per durable report)
    "5a14e00": "13", "42b874a": "16",
    # the third "shrink" slice (one BCD time parser, one body encoder, the kinds' JSON in two base classes, dead
    # readers / aliases / counters removed; behaviour unchanged)
    "ca91e25": "12", "238fcf4": "12", "08eefd0": "12", "117e9a0": "12", "b90fc42": "12", "0bdc383": "12",
    "da28c68": "12",
    # the 0x0102's second code from the frame decoder's other reading (one place, behaviour unchanged)
    "0c66488": "12",
    # stop 20: the 0x0200 layout memo and the in-flight objects the collector walked (issue 16 part 4: CPU per durable
    # report), the alarm observer's cheaper quiet check (13, like 5a14e00), the header's props from its one unpack (12)
    "0c5e422": "16", "99fa643": "16", "a3d580e": "13", "8428c1d": "12", "5c2bd12": "12", "a34f654": "12",
    "8597d0a": "16",
    # stop 21: locations that are only stored go by their values (issue 16 part 4 and issue 12's gateway A/B: the
    # CPU per stored report, as 0c5e422); the docstring examples' elided middles as comments (12)
    "e862929": "16", "f945989": "16", "fa71e26": "16", "2364f18": "12",
}
#: commits that mixed two issues: (commit, path prefix under src/jt808/) -> issue
BY_PATH: dict[tuple[str, str], str] = {
    ("1abd603", "http/errors.py"): "11", ("1abd603", "http/schemas.py"): "11", ("1abd603", "http/docs.py"): "11",
    ("a91cf30", "protocol/problems.py"): "9",
}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def label(commit: str, path: str, old: set[str]) -> str:
    if commit in old:
        return "old"
    short = commit[:7]
    rel = path.removeprefix("src/jt808/")
    for (c, prefix), issue in BY_PATH.items():
        if c == short and rel.startswith(prefix):
            return issue
    return LABELS.get(short, "?")


def group(path: str, by: str) -> str:
    parts = PurePosixPath(path.removeprefix("src/")).parts
    if by == "module":
        return "/".join(parts)
    if len(parts) > 2 and parts[1] == "protocol" and parts[2] == "messages":
        return "jt808/protocol/messages"
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0] + "/ (top-level modules)"


def code_lines(text: str) -> set[int]:
    """Line numbers (1-based) holding code: a token that is not a comment, and not inside a string that
    stands alone as a statement (docstrings)."""
    doc: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER}
    out: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in skip:
            out.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in doc)
    return out


def count(base: str, head: str, by: str, code: bool = False) -> tuple[Counter[str], dict[str, Counter[str]]]:
    before: Counter[str] = Counter()
    for path in git("ls-tree", "-r", "--name-only", base, "src").split():
        if path.endswith(".py"):
            text = git("show", f"{base}:{path}")
            before[group(path, by)] += len(code_lines(text)) if code else text.count("\n")
    old = set(git("rev-list", base).split())
    now: dict[str, Counter[str]] = defaultdict(Counter)
    for path in git("ls-tree", "-r", "--name-only", head, "src").split():
        if not path.endswith(".py"):
            continue
        keep = code_lines(git("show", f"{head}:{path}")) if code else None
        for line in git("blame", "--line-porcelain", head, "--", path).splitlines():
            words = line.split(" ")
            is_sha = len(words[0]) == 40 and len(words) >= 3 and all(c in "0123456789abcdef" for c in words[0])
            if is_sha and (keep is None or int(words[2]) in keep):  # words[2]: the line's number in the final file
                now[group(path, by)][label(words[0], path, old)] += 1
    return before, now


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="49c7a56")
    ap.add_argument("--head", default="HEAD")
    ap.add_argument("--by", choices=("package", "module"), default="package")
    ap.add_argument("--code", action="store_true", help="count only lines of code (no blanks, comments, docstrings)")
    args = ap.parse_args()
    before, now = count(args.base, args.head, args.by, args.code)
    cols = ["old", "12", "9", "10", "11", "13", "14", "15", "16", "?"]
    what = "lines of code" if args.code else "lines"
    print(f"src/**/*.py {what}: {args.base} -> {args.head}; now split by the issue that last wrote each line")
    print(f"{'':32} {'base':>6} {'now':>6} {'same':>6} | " + " ".join(f"{c:>5}" for c in cols))
    total_before = total_now = total_same = 0
    sums: Counter[str] = Counter()
    for key in sorted(set(before) | set(now)):
        c = now.get(key, Counter())
        n = sum(c.values())
        same = sum(c[s] for s in SAME_SCOPE)
        total_before += before[key]
        total_now += n
        total_same += same
        sums.update(c)
        print(f"{key:32} {before[key]:>6} {n:>6} {same:>6} | " + " ".join(f"{c[x]:>5}" for x in cols))
    print(f"{'total':32} {total_before:>6} {total_now:>6} {total_same:>6} | "
          + " ".join(f"{sums[x]:>5}" for x in cols))
    print()
    print(f"same scope (old + issue 12): {total_before} -> {total_same} ({total_same - total_before:+d}); "
          f"other issues' features: {total_now - total_same}")
    for c in cols:
        print(f"  {c:>4}: {ISSUES[c]}")


if __name__ == "__main__":
    main()
