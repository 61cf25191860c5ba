"""``jt808 decode`` / ``jt808 encode``: hex frames <-> EMQX JSON (seed 004), one per line.

``jt808 decode [HEX ...]``: each argument, or each line of stdin when there is none, is one frame in
hex (spaces, ``:`` separators and ``0x`` prefixes are tolerated; a frame given without its 0x7E flags
gets them added). Each prints exactly one line of compact JSON, in input order: the packet as
``{"header": …, "body": …}`` (plus ``"problems"`` when decoding had to tolerate something), or
``{"error": "<reason>"}`` when the frame cannot be decoded; the command goes on with the next line.
Blank lines are skipped; the exit status is 1 when any line could not be decoded. ``--pcap FILE``
reads the TCP/UDP payloads of a capture (pcap or pcapng) through the stream splitter instead, adding
``"flow"`` to each line.

``jt808 encode [JSON ...]``: each argument, or stdin line, is one JSON document (or a list of them);
prints each frame in hex, one per line, sub-packages one per line when the body exceeds 1023 bytes.
Undecodable input prints ``{"error": …}`` on its line; the exit status is then 1.

Throughput matters (a capture of a day is millions of lines): stdin is read in large chunks, and
the output of each chunk is written in one call.
"""

from __future__ import annotations

import binascii
import json
import struct
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import click

from jt808.errors import JT808Error
from jt808.protocol.exchange import from_json, to_json
from jt808.protocol.frame import decode
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.header import Version
from jt808.protocol.jsoncheck import json_problems
from jt808.protocol.packet import Packet, encode
from jt808.protocol.profiles import BUILTIN_PROFILES
from jt808.protocol.registry import DEFAULT_PROFILE, Profile

__all__ = ["decode_command", "decode_lines", "encode_command", "parse_hex", "read_capture"]

_VERSIONS = click.Choice(["2011", "2013", "2019"])
_CHUNK = 1 << 16
_unhexlify = binascii.unhexlify


def _profile(version: str | None, encoding: str | None, lenient: bool, base: str = "default") -> Profile:
    """The device profile of the command line: a built-in one (``--profile``) with the flags' changes."""
    from jt808.protocol.profiles import builtin_profile

    root = builtin_profile(base)
    if version is None and encoding in (None, "gbk") and not lenient:
        return root
    changes: dict[str, Any] = {}
    if version is not None:
        changes["force_version"] = Version.parse(version)
    if encoding is not None:
        try:
            "".encode(encoding)
        except LookupError:
            raise click.BadParameter(f"unknown encoding {encoding!r}", param_hint="--encoding") from None
        changes["encoding"] = encoding
    if lenient:
        changes["accept_bad_check"] = True
    return root.derive("cli", **changes)


def parse_hex(text: bytes | str) -> bytes:
    """One frame in hex -> bytes. Tolerates whitespace, ``:``/``,``/``-`` separators and ``0x``
    prefixes; adds the 0x7E flags when both are missing. Raises :class:`ValueError` with the reason."""
    if isinstance(text, str):
        text = text.encode("ascii", "replace")
    t = text.strip()
    try:
        data = _unhexlify(t)
    except (binascii.Error, ValueError):
        t = t.replace(b"0x", b"").replace(b"0X", b"")
        t = b"".join(t.split())
        for sep in (b":", b",", b"-"):
            t = t.replace(sep, b"")
        if not t:
            raise ValueError("no hex digits") from None
        bad = t.translate(None, b"0123456789abcdefABCDEF")
        if bad:
            raise ValueError(f"not hex: unexpected character {chr(bad[0])!r}") from None
        if len(t) % 2:
            raise ValueError(f"odd number of hex digits ({len(t)})") from None
        data = _unhexlify(t)
    if data and data[0] != 0x7E and data[-1] != 0x7E:
        data = b"\x7e" + data + b"\x7e"
    return data


# ---------------------------------------------------------------------------------------------
# Rendering one frame
# ---------------------------------------------------------------------------------------------
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _error(reason: str) -> str:
    return _dumps({"error": reason})


def _render_factory(profile: Profile, mode: str, pretty: bool, explain: bool) -> Callable[[bytes, dict], str]:
    """frame -> one output record (compact JSON line, or pretty/explain text)."""
    prof = profile

    def decoded(frame: bytes, extra: dict) -> tuple[Packet | None, dict[str, Any] | str]:
        """The packet (when it decoded) and its JSON document, or the error line instead of the document."""
        p = None
        try:
            p = decode(frame, prof, mode=mode)
            j = to_json(p, prof)
        except JT808Error as e:
            return p, _error(str(e))
        except Exception as e:  # a body codec's slip must not stop the stream
            return p, _error(f"internal error: {type(e).__name__}: {e}")
        if p.problems:
            j["problems"] = p.problems
        j.update(extra)
        return p, j

    def compact(frame: bytes, extra: dict) -> str:
        p, j = decoded(frame, extra)
        if isinstance(j, str):
            return j
        try:
            return _dumps(j)
        except (TypeError, ValueError) as e:
            assert p is not None
            return _error(f"internal error: JSON of 0x{p.header.msg_id:04X}: {e}")

    if not pretty and not explain:
        return compact

    from jt808.commands.explain import explain as explain_frame
    from jt808.commands.explain import pretty as pretty_packet

    def human(frame: bytes, extra: dict) -> str:
        p, j = decoded(frame, extra)
        parts = []
        if explain:
            try:
                parts.append(explain_frame(frame, p, prof))
            except Exception as e:
                parts.append(f"(no dump: {e})")
        if isinstance(j, str):
            parts.append(j)
        elif pretty:
            assert p is not None
            parts.append(pretty_packet(p, j, prof))
        else:
            parts.append(_dumps(j))
        return "\n".join(parts) + ("\n" if explain else "")

    return human


def decode_lines(lines: Iterable[bytes | str], profile: Profile = DEFAULT_PROFILE, *, strict: bool = True,
                 pretty: bool = False, explain: bool = False, mode: str | None = None) -> Iterator[str]:
    """One output record per non-blank input line (the engine of ``jt808 decode``); ``mode`` as in
    :func:`jt808.protocol.frame.decode` (default: ``strict`` or ``lenient`` after ``strict``)."""
    render = _render_factory(profile, mode or ("strict" if strict else "lenient"), pretty, explain)
    for line in lines:
        if isinstance(line, str):
            line = line.encode("ascii", "replace")
        s = line.strip()
        if not s:
            continue
        try:
            frame = parse_hex(s)
        except ValueError as e:
            yield _error(str(e))
            continue
        yield render(frame, {})


def _chunks_of_lines(stream: BinaryIO) -> Iterator[list[bytes]]:
    """Complete lines, a chunk at a time (so output can be flushed per chunk without per-line I/O)."""
    read = getattr(stream, "read1", None) or stream.read
    rest = b""
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        if lines:
            yield lines
    if rest.strip():
        yield [rest]


def _binary(stream: Any) -> BinaryIO:
    """The bytes under a text stream (click deprecates ``get_binary_stream`` from 8.5 on)."""
    return stream.buffer if hasattr(stream, "buffer") else stream  # type: ignore[no-any-return]  # a test's byte stream


class _Out:
    """Writes records to binary stdout: one write per batch, UTF-8, lone surrogates (undecodable
    device bytes kept by ``surrogateescape``) escaped as JSON ``\\udcXX`` instead of failing."""

    def __init__(self) -> None:
        self.stream = _binary(sys.stdout)
        self.errors = 0  # records that are an error line (the exit status is then 1)

    def write(self, records: list[str]) -> None:
        if not records:
            return
        self.errors += sum(1 for r in records if r.rsplit("\n", 1)[-1].startswith('{"error":'))
        text = "\n".join(records) + "\n"
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            data = ("\n".join(self._safe(r) for r in records) + "\n").encode("utf-8", "replace")
        self.stream.write(data)
        self.stream.flush()

    @staticmethod
    def _safe(record: str) -> str:
        try:
            record.encode("utf-8")
            return record
        except UnicodeEncodeError:
            pass
        try:
            return _dumps_ascii(json.loads(record))
        except ValueError:  # pretty/explain text: not JSON
            return record.encode("utf-8", "backslashreplace").decode("utf-8")


def _guard_pipe(fn: Callable[[], None]) -> None:
    try:
        fn()
    except BrokenPipeError:  # `jt808 decode | head`: stop quietly
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        sys.exit(0)


@click.command("decode")
@click.argument("frames", nargs=-1)
@click.option("--version", "version", type=_VERSIONS, default=None,
              help="Decode every frame as this version, whatever its header says.")
@click.option("--encoding", default=None, help="String encoding of the device (default gbk; e.g. utf-8).")
@click.option("--strict", is_flag=True,
              help="Only frames as the standard lays them out (default: tolerant, as the gateway: wrong "
                   "lengths, overflowing lengths and missing check codes are repaired and listed in problems).")
@click.option("--lenient", is_flag=True,
              help="Also accept wrong check codes and keep undecodable bodies raw, listing the problems.")
@click.option("--pretty", is_flag=True,
              help="Indented output with each field's meaning and the names of set alarm/status bits.")
@click.option("--explain", is_flag=True, help="Annotated hex dump of header and body before the JSON.")
@click.option("--pcap", "pcap", type=click.Path(exists=True, dir_okay=False),
              help="Read frames from the TCP/UDP payloads of a pcap/pcapng capture.")
@click.option("--profile", "profile_name", type=click.Choice(list(BUILTIN_PROFILES)),
              default="default", show_default=True,
              help="Device profile: JT/T 1078 items and parameters, SuBiao / YueBiao active-safety layouts.")
def decode_command(frames: tuple[str, ...], version: str | None, encoding: str | None, strict: bool,
                   lenient: bool, pretty: bool, explain: bool, pcap: str | None, profile_name: str = "default") -> None:
    """Decode hex frames (arguments, or stdin lines) to EMQX JSON, one line per frame.

    \b
    Examples:
      jt808 decode 7e000200000857502162890001c67e
      printf '%s\\n' HEX1 HEX2 | jt808 decode
      jt808 decode --pretty --explain 7e0200...7e
      jt808 decode --pcap capture.pcap
    """
    if strict and lenient:
        raise click.UsageError("--strict and --lenient exclude each other")
    profile = _profile(version, encoding, lenient, profile_name)
    mode = "strict" if strict else "lenient" if lenient else "tolerant"
    out = _Out()

    def run() -> None:
        if pcap is not None:
            render = _render_factory(profile, mode, pretty, explain)
            batch: list[str] = []
            for flow, frame in read_capture(pcap):
                batch.append(render(frame, {"flow": flow}))
                if len(batch) >= 2048:
                    out.write(batch)
                    batch = []
            out.write(batch)
            return
        chunks: Iterable[Iterable[bytes | str]] = [frames] if frames else _chunks_of_lines(_binary(sys.stdin))
        for lines in chunks:
            out.write(list(decode_lines(lines, profile, pretty=pretty, explain=explain, mode=mode)))

    _guard_pipe(run)
    if out.errors:
        sys.exit(1)


@click.command("encode")
@click.argument("documents", nargs=-1)
@click.option("--version", "version", type=_VERSIONS, default=None,
              help="Version of JSON without 'proto_ver' (default 2013; 'proto_ver' means 2019).")
@click.option("--encoding", default=None, help="String encoding of the device (default gbk).")
@click.option("--max-body", type=click.IntRange(1, 1023), default=1023, show_default=True,
              help="Largest body per frame; longer bodies are sent as sub-packages.")
@click.option("--upper", is_flag=True, help="Upper-case hex.")
@click.option("--profile", "profile_name", type=click.Choice(list(BUILTIN_PROFILES)),
              default="default", show_default=True, help="Device profile (as for decode).")
def encode_command(documents: tuple[str, ...], version: str | None, encoding: str | None, max_body: int,
                   upper: bool, profile_name: str = "default") -> None:
    """Encode EMQX JSON (arguments, or stdin lines) to hex frames, one per line.

    \b
    Example:
      jt808 encode '{"header":{"msg_id":32769,"encrypt":0,"phone":"013912345678","msg_sn":1},
                     "body":{"seq":1,"id":2,"result":0}}'
    """
    profile = _profile(None, encoding, False, profile_name)
    forced = Version.parse(version) if version is not None else None
    out = _Out()
    failed = False

    def frames_of(text: str | bytes) -> list[str]:
        nonlocal failed
        try:
            doc = json.loads(text)
        except ValueError as e:
            failed = True
            return [_error(f"invalid JSON: {e}")]
        docs = doc if isinstance(doc, list) else [doc]
        if not docs:
            failed = True
            return [_error("an empty list: expects a JSON object {\"header\": …, \"body\": …} or a list of them")]
        lines: list[str] = []
        for d in docs:
            try:
                if not isinstance(d, dict):
                    raise JT808Error(f"expects a JSON object {{\"header\": …, \"body\": …}}, got "
                                     f"{_json_type(d)}")
                packet = from_json(d, profile, version=forced)
                problems = json_problems(d, packet, profile=profile)
                if problems:
                    raise JT808Error(f"0x{packet.header.msg_id:04X} " + "; ".join(problems))
                hexes = [f.hex() for f in _encode_all(packet, profile, max_body)]
            except JT808Error as e:
                failed = True
                lines.append(_error(str(e)))
                continue
            lines.extend(h.upper() for h in hexes) if upper else lines.extend(hexes)
        return lines

    def run() -> None:
        if documents:
            out.write([x for d in documents for x in frames_of(d)])
        else:
            for lines in _chunks_of_lines(_binary(sys.stdin)):
                out.write([x for line in lines if line.strip() for x in frames_of(line)])

    _guard_pipe(run)
    if failed:
        sys.exit(1)


def _json_type(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(v), "a number")


def _encode_all(packet: Packet, profile: Profile, max_body: int) -> list[bytes]:
    from jt808.protocol.subpackage import encode_many

    if packet.header.frag_total:  # the JSON names its fragment itself: one frame as given
        return [encode(packet, profile)]
    return encode_many(packet, profile, max_body)


# ---------------------------------------------------------------------------------------------
# Captures: pcap / pcapng -> TCP/UDP payloads -> frames
# ---------------------------------------------------------------------------------------------
def _ip_payload(linktype: int, pkt: bytes) -> tuple[str, str, int, bytes] | None:
    """(src, dst, ip protocol, transport segment) of one captured packet, or None."""
    if linktype == 1:  # Ethernet (with VLAN tags)
        if len(pkt) < 14:
            return None
        et = pkt[12] << 8 | pkt[13]
        off = 14
        while et in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            et = pkt[off + 2] << 8 | pkt[off + 3]
            off += 4
    elif linktype == 113:  # Linux cooked (SLL)
        if len(pkt) < 16:
            return None
        et, off = pkt[14] << 8 | pkt[15], 16
    elif linktype == 276:  # Linux cooked v2
        if len(pkt) < 20:
            return None
        et, off = pkt[0] << 8 | pkt[1], 20
    elif linktype == 0:  # BSD loopback: 4-byte address family in host order
        if len(pkt) < 4:
            return None
        fam = int.from_bytes(pkt[:4], "little") if pkt[0] else int.from_bytes(pkt[:4], "big")
        et, off = (0x0800 if fam == 2 else 0x86DD), 4
    elif linktype in (101, 12, 14, 228, 229):  # raw IP
        if not pkt:
            return None
        et, off = (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), 0
    else:
        return None
    ip = pkt[off:]
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = ip[2] << 8 | ip[3]
        if (ip[6] & 0x1F) or ip[7]:  # a non-first fragment
            return None
        src = ".".join(map(str, ip[12:16]))
        dst = ".".join(map(str, ip[16:20]))
        return src, dst, ip[9], ip[ihl:total if total >= ihl else len(ip)]
    if et == 0x86DD and len(ip) >= 40:
        import ipaddress

        nxt = ip[6]
        plen = ip[4] << 8 | ip[5]
        src = f"[{ipaddress.IPv6Address(ip[8:24])}]"
        dst = f"[{ipaddress.IPv6Address(ip[24:40])}]"
        seg = ip[40:40 + plen] if plen else ip[40:]
        while nxt in (0, 43, 60) and len(seg) >= 8:  # hop-by-hop, routing, destination options
            nxt, seg = seg[0], seg[(seg[1] + 1) * 8:]
        return src, dst, nxt, seg
    return None


def _capture_packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(linktype, packet bytes) of every packet of a pcap or pcapng file."""
    if len(data) < 24:
        raise click.ClickException("not a capture file: too short")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        rec = struct.Struct(e + "IIII")
        p = 24
        while p + 16 <= len(data):
            _, _, incl, _ = rec.unpack_from(data, p)
            p += 16
            yield linktype, data[p:p + incl]
            p += incl
        return
    if magic == b"\x0a\x0d\x0d\x0a":
        links: list[int] = []
        e = "<"
        p = 0
        while p + 12 <= len(data):
            btype = struct.unpack_from(e + "I", data, p)[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[p + 8:p + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            blen = struct.unpack_from(e + "I", data, p + 4)[0]
            if blen < 12 or p + blen > len(data):
                break
            body = data[p + 8:p + blen - 4]
            if btype == 1 and len(body) >= 2:
                links.append(struct.unpack_from(e + "H", body, 0)[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap, _ = struct.unpack_from(e + "IIIII", body, 0)
                if iface < len(links):
                    yield links[iface], body[20:20 + cap]
            elif btype == 3 and links:
                yield links[0], body[4:]
            p += blen
        return
    raise click.ClickException("not a pcap or pcapng capture (unknown magic number)")


def read_capture(path: str) -> Iterator[tuple[str, bytes]]:
    """``(flow, frame)`` for every JT/T 808 frame in the TCP/UDP payloads of a capture, in capture
    order; each direction of each connection has its own splitter. TCP retransmissions (bytes
    already seen) are dropped; overlapping segments are trimmed."""
    with open(path, "rb") as fh:
        data = fh.read()
    splitters: dict[str, FrameSplitter] = {}
    next_seq: dict[str, int] = {}
    for linktype, pkt in _capture_packets(data):
        got = _ip_payload(linktype, pkt)
        if got is None:
            continue
        src, dst, proto, seg = got
        if proto == 6 and len(seg) >= 20:
            sport, dport, seq = struct.unpack_from(">HHI", seg, 0)
            payload = seg[(seg[12] >> 4) * 4:]
            flow = f"tcp {src}:{sport}>{dst}:{dport}"
            if seg[13] & 0x02:  # SYN: the next byte is seq + 1
                next_seq[flow] = (seq + 1) & 0xFFFFFFFF
            if not payload:
                continue
            exp = next_seq.get(flow)
            if exp is not None:
                behind = (exp - seq) & 0xFFFFFFFF
                if behind < 0x80000000:  # starts at or before what we have
                    if behind >= len(payload):
                        continue  # a retransmission
                    payload = payload[behind:]
                    seq = exp
            next_seq[flow] = (seq + len(payload)) & 0xFFFFFFFF
        elif proto == 17 and len(seg) >= 8:
            sport, dport = struct.unpack_from(">HH", seg, 0)
            payload = seg[8:]
            flow = f"udp {src}:{sport}>{dst}:{dport}"
        else:
            continue
        sp = splitters.get(flow)
        if sp is None:
            sp = splitters[flow] = FrameSplitter()
        for frame in sp.feed(payload):
            yield flow, frame
