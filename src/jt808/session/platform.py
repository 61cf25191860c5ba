"""The platform side of one terminal connection, sans-I/O.

:class:`PlatformSession` takes the bytes a terminal sent and returns events; the answers the
standard requires (0x8001, 0x8100 after a decision, 0x8004, 0x8800, 0x8003) are queued and read with
:meth:`~PlatformSession.data_to_send`. It never touches a socket or a clock: ``now`` is always an
argument (the adapter's monotonic time) and the wall clock needed for 0x8004 comes from
``wall_offset`` (wall time minus monotonic time, set by the adapter).

What is served in each state is a table (:data:`ALLOWED`): before authentication only 0x0100 and
0x0102; everything once authenticated. Decisions that need storage or a policy leave as events
(:class:`~jt808.session.events.RegisterRequested`, :class:`~jt808.session.events.AuthRequested`) and
come back as calls (:meth:`accept_register`, :meth:`reject_register`, :meth:`accept_auth`,
:meth:`reject_auth`). Acks of ids listed in ``deferred_acks`` (locations when the gateway answers
only after the row is durable) are left to the adapter: it calls :meth:`ack` / :meth:`ack_many`.

The per-frame path is kept short for the common case (an unescaped, unsplit 2011/2013 frame of the
bound phone): one ``split`` of the read into frames, one XOR, one header unpack, the body decode, and
a reply packed with one precompiled ``struct``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from jt808.errors import (
    BodyError,
    DecodeError,
    EncodeError,
    FrameError,
    FrameTooLong,
    JT808Error,
    ReassemblyError,
    SessionError,
)
from jt808.protocol.frame import Problem, decode_payload, problem_kind, read_frame
from jt808.protocol.framing import DEFAULT_MAX_FRAME, FrameSplitter, check_code, escape, unescape
from jt808.protocol.header import MAX_BODY, V2019, Header, Version, canonical_phone, pack_header
from jt808.protocol.messages.general import PlatformGeneralReply, ServerTimeReply
from jt808.protocol.messages.location import LocationReport as _Report
from jt808.protocol.messages.location import read_layout_values
from jt808.protocol.messages.media import MediaDataReply
from jt808.protocol.messages.register import ASCII_COMPATIBLE, RegisterReply
from jt808.protocol.packet import Packet, RawBody, decode_body, encode_body
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.replies import answers
from jt808.protocol.spec import Body
from jt808.protocol.subpackage import Reassembler, ReassemblyBudget, split
from jt808.session.events import (
    Authenticated,
    AuthRequested,
    Event,
    FragmentsMissing,
    FrameRejected,
    IdleTimeout,
    LocationValuesReceived,
    LoggedOut,
    MessageReceived,
    MessageRefused,
    ReassemblyAbandoned,
    RegisterRequested,
)

__all__ = ["ALLOWED", "NO_GENERAL_REPLY", "REPLY_IDS", "PlatformSession", "State"]


class State(IntEnum):
    CONNECTED = 0  # nothing proven yet: only register / authenticate are served
    AUTHENTICATED = 1


_AUTH = State.AUTHENTICATED

#: What each state serves (``None`` = everything).
ALLOWED: dict[State, frozenset[int] | None] = {
    State.CONNECTED: frozenset({0x0100, 0x0102}),
    State.AUTHENTICATED: None,
}

#: Uplinks not answered with a 0x8001 by the session's generic rule: those the message classes declare
#: answered otherwise or not at all (0x0001, 0x0100, 0x0004, 0x0801: :mod:`jt808.protocol.replies`), and
#: 0x0102 / 0x0003 / 0x0005, which the session answers with a 0x8001 in its own handling.
NO_GENERAL_REPLY = frozenset(
    {mid for (mid, _) in DEFAULT_PROFILE.messages.table if mid < 0x8000 and answers(mid) != (0x8001,)}
    | {0x0102, 0x0003, 0x0005})

#: Downlink id -> the uplink ids that answer it, where that is not the general reply alone (the
#: ``answered_by`` declarations of the message classes; PROTOCOL.md §3.1 "answered by").
REPLY_IDS: dict[int, tuple[int, ...]] = {
    mid: answers(mid) for mid in sorted({m for (m, _) in DEFAULT_PROFILE.messages.table})
    if mid >= 0x8000 and answers(mid) not in ((0x0001,), ())}

_ACK13 = struct.Struct(">BHH6sHHHBBB")  # 7E, 0x8001, props, phone, sn | seq, id, result | check, 7E
_FRAG = struct.Struct(">HH")
_H13 = struct.Struct(">HH6sH")  # 2011/2013 header: id, properties (body length), BCD phone, serial
_REG_OK = struct.Struct(">HB")  # 0x8100: serial answered, result (the code follows)
_UTC = UTC
_MEDIA = 0x0801
_SPLIT_KEEP = 16  # split downlinks kept for 0x0005 re-send requests


class PlatformSession:
    """One terminal's connection as seen by the platform.

    Parameters: ``profile`` (codec settings of the device type); ``anonymous`` (serve terminals
    that never authenticated, as if they had); ``unauth_reply`` (``"none"``: ignore messages before
    authentication, ``"fail"``: answer them with 0x8001 result 1); ``deferred_acks`` (ids whose
    0x8001 the adapter sends itself, e.g. after a durable write); ``idle_timeout`` (seconds without
    any uplink before :class:`IdleTimeout`); ``fragment_timeout`` / ``fragment_asks`` (how long a
    sub-packaged message may stall before the missing fragments are requested, and how often);
    ``max_frame`` (longest frame accepted); ``max_partials`` (sub-packaged messages collected at once);
    ``max_partial_bytes`` (their bytes together); ``fragment_budget`` (a
    :class:`~jt808.protocol.subpackage.ReassemblyBudget` shared with other sessions: sets and bytes over
    all of them); ``resend_frames`` (0x8003 / 0x8800 frames per request round at most, the ids split
    across them so that each fits its message);
    ``strict`` (refuse, with 0x8001 result 2, the frames the tolerant decoder would repair: docs/dialects.md);
    ``quiet`` (``{msg_id: minimum body length}``: ids that nobody consumes, e.g. 0x0002 and 0x0200 when
    the gateway keeps no data and has no listener — an authenticated, plain 2011/2013 frame of such an id
    is answered without decoding its body and without an event; a body shorter than the minimum is
    answered "message error" and rejected); ``location_values`` (an adapter whose only consumer of
    locations is storage: a deferred 0x0200 whose body the item layout remembered for its length reads is
    given as :class:`LocationValuesReceived`, its values, instead of being made into a report).
    """

    __slots__ = (
        "_ack_x",
        "_out",
        "_phone_raw",
        "_reasm",
        "_sn",
        "_splits",
        "_splitter",
        "_wire_phone",
        "anonymous",
        "authenticated_at",
        "deferred_acks",
        "fragment_asks",
        "fragment_budget",
        "fragment_timeout",
        "idle_timeout",
        "last_seen",
        "location_values",
        "max_frame",
        "max_partial_bytes",
        "max_partials",
        "phone",
        "profile",
        "quiet",
        "rejected",
        "repairs",
        "resend_frames",
        "rx_bytes",
        "rx_frames",
        "state",
        "strict",
        "tx_frames",
        "unauth_reply",
        "version",
        "wall_offset",
    )

    def __init__(self, profile: Profile = DEFAULT_PROFILE, *, anonymous: bool = False, unauth_reply: str = "none",
                 deferred_acks: Iterable[int] = (), idle_timeout: float | None = None,
                 fragment_timeout: float = 15.0, fragment_asks: int = 3, max_frame: int = DEFAULT_MAX_FRAME,
                 max_partials: int = 8, now: float = 0.0, wall_offset: float | None = None,
                 quiet: dict[int, int] | None = None, strict: bool = False, max_partial_bytes: int = 16 << 20,
                 fragment_budget: ReassemblyBudget | None = None, resend_frames: int = 4,
                 location_values: bool = False) -> None:
        if unauth_reply not in ("none", "fail"):
            raise ValueError("unauth_reply is 'none' or 'fail'")
        self.profile = profile
        self.anonymous = anonymous
        self.unauth_reply = unauth_reply
        self.deferred_acks = frozenset(deferred_acks)
        self.idle_timeout = idle_timeout
        self.fragment_timeout = fragment_timeout
        self.fragment_asks = fragment_asks
        self.max_frame = max_frame
        self.max_partials = max_partials
        self.max_partial_bytes = max_partial_bytes
        self.fragment_budget = fragment_budget
        self.resend_frames = resend_frames
        self.quiet: dict[int, int] = dict(quiet) if quiet else {}
        self.location_values = location_values
        self.strict = strict
        self.wall_offset = time.time() - now if wall_offset is None else wall_offset
        self.state = State.CONNECTED
        self.phone = ""
        self.version: Version = profile.default_version
        self.last_seen = now
        self.authenticated_at: float | None = None
        self.rx_bytes = self.rx_frames = self.tx_frames = self.rejected = 0
        #: Problems of the frames served, by kind (:data:`jt808.protocol.frame.PROBLEM_KINDS`): what the
        #: tolerant decoder repaired or flagged; the gateway exports them in /metrics.
        self.repairs: dict[str, int] = {}
        self._out: list[bytes] = []
        self._sn = 0
        self._phone_raw = b""
        self._wire_phone = ""  # the phone as the frames spell it (12 or 20 digits); ``phone`` is canonical
        self._ack_x = 0
        self._splitter: FrameSplitter | None = None
        self._reasm: Reassembler | None = None
        self._splits: dict[int, list[bytes]] | None = None

    def __repr__(self) -> str:
        return (f"<PlatformSession {self.phone or '?'} v{int(self.version)} {self.state.name} "
                f"rx={self.rx_frames} tx={self.tx_frames}>")

    @property
    def authenticated(self) -> bool:
        return self.state is State.AUTHENTICATED

    # ------------------------------------------------------------------------------------------
    # input
    # ------------------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Bytes from a stream (TCP): split into frames (sticky / half packets kept for the next
        call), serve each one, return the events in order."""
        self.last_seen = now
        self.rx_bytes += len(data)
        events: list[Event] = []
        sp = self._splitter
        if (sp is None or not sp.buffered) and data[0] == 0x7E and data[-1] == 0x7E:
            # Fast path: the read holds whole frames only, back to back.
            pieces = data[1:-1].split(b"\x7e\x7e")
            if data.count(b"\x7e") == 2 * len(pieces):
                frame = self._frame
                for piece in pieces:
                    if piece:
                        frame(piece, now, events)
                return events
        if sp is None:
            sp = self._splitter = FrameSplitter(self.max_frame, self._junk_noted)
        for f in sp.feed(data):
            self._frame(f[1:-1], now, events)
        return events

    def receive_datagram(self, data: bytes, now: float) -> list[Event]:
        """One UDP datagram: its frames are served; a partial frame is not kept for the next one."""
        self.last_seen = now
        self.rx_bytes += len(data)
        events: list[Event] = []
        sp = FrameSplitter(self.max_frame)
        frames = sp.feed(data) + sp.flush()
        for f in frames:
            if len(f) >= 3 and f[0] == 0x7E and f[-1] == 0x7E:
                self._frame(f[1:-1], now, events)
            else:
                self._reject(events, FrameError("datagram holds no complete frame"), f)
        if sp.junk_bytes and not frames:
            self._reject(events, FrameError(f"datagram of {len(data)} bytes holds no frame"), data)
        return events

    def _junk_noted(self, data: bytes, why: str) -> None:
        # Junk between frames is counted by the splitter; oversize pieces are reported as rejects.
        if "maximum" in why:
            self.rejected += 1

    def _reject(self, events: list[Event], error: JT808Error, raw: bytes, replied: bool = False) -> None:
        self.rejected += 1
        events.append(FrameRejected(error, raw if raw[:1] == b"\x7e" else b"\x7e" + raw + b"\x7e", replied))

    def _frame(self, piece: bytes, now: float, events: list[Event]) -> None:
        """One escaped frame without its flags: read by the one frame decoder
        (:func:`~jt808.protocol.frame.read_frame`, tolerant: repairs are listed in ``Packet.problems``),
        then served. A frame whose header could be read but not the rest is answered with 0x8001
        result 2 quoting its serial and id, so that the device retransmits at once; noise gets silence."""
        self.rx_frames += 1
        if len(piece) > self.max_frame:
            self._reject(events, FrameTooLong(f"frame of {len(piece) + 2} bytes exceeds {self.max_frame}"), piece)
            return
        c = piece
        if b"\x7d" in c:
            try:
                c = unescape(c)
            except FrameError as e:
                self._reject(events, e, piece)
                return
        profile = self.profile
        try:
            header, body, problems = read_frame(c, profile, self.version, self.strict)
        except JT808Error as e:
            self._reject(events, e, piece, self._nack(e.header))
            return
        if problems:
            self._count(problems)  # every repair counts, whatever becomes of the frame
        if header.phone != self._wire_phone and not self._bind_phone(header.phone, events, piece):
            return
        header.phone = self.phone  # one form everywhere downstream (re-encodes to the same bytes)
        msg_id = header.msg_id
        quiet = self.quiet
        if quiet and msg_id in quiet and self.state is _AUTH and not problems and not header.frag_total \
                and not header.encrypt:
            # nobody consumes it: answer from the header alone (one pack for a 2011/2013 0x8001)
            if header.length >= quiet[msg_id]:
                if header.version is not V2019 and len(self._phone_raw) == 6:
                    self._out.append(self._ack13(header.msg_sn, msg_id, 0))
                    self.tx_frames += 1
                else:
                    self._general(header, 0)
                return
            self._general(header, 2)
            self._reject(events, BodyError(f"body of {header.length} bytes is shorter than {quiet[msg_id]}",
                                           msg_id=msg_id, offset=0), piece, True)
            return
        # -- state table -------------------------------------------------------------------------
        if self.state is not _AUTH and msg_id not in ALLOWED[State.CONNECTED]:  # type: ignore[operator]  # ALLOWED maps states to id sets
            if self.anonymous:
                self._authenticate(header.version, now)
                events.append(Authenticated(self.phone, header.version, anonymous=True))
            else:
                events.append(MessageRefused(header, "not authenticated"))
                if self.unauth_reply == "fail":
                    self._general(header, 1)
                return
        if header.frag_total:
            self._fragment(header, body, problems, now, events, piece)
            return
        if msg_id == 0x0200 and self.location_values and not problems and not header.encrypt:
            values = read_layout_values(body, profile, header.version)
            if values is not None and 0x0200 in self.deferred_acks \
                    and profile.messages.table.get((0x0200, header.version)) is _Report:
                events.append(LocationValuesReceived(header, body, values))
                return
        read = len(problems)
        last = problems[-1] if read else None
        try:
            packet = decode_payload(header, body, problems, profile)
        except JT808Error as e:
            self._general(header, 2)
            self._reject(events, e, piece, True)
            return
        if problems:
            if last is not None and problems[read - 1] is not last:  # the frame decoder took its other reading
                self._count([last, problems[read - 1]], (-1, 1))
            if len(problems) > read:
                self._count(problems[read:])
        if msg_id in self.deferred_acks and msg_id not in NO_GENERAL_REPLY and type(packet.body) is not RawBody:
            events.append(MessageReceived(packet, True))  # what _dispatch does with it, one call less per report
            return
        self._dispatch(packet, now, events, piece)

    def _count(self, problems: list[str], signs: tuple[int, ...] = ()) -> None:
        """Count repairs by kind (``signs``: +1 or -1 per problem, default +1 each)."""
        repairs = self.repairs
        for i, p in enumerate(problems):
            k = problem_kind(p)
            n = repairs[k] = repairs.get(k, 0) + (signs[i] if signs else 1)
            if not n:
                del repairs[k]

    def _nack(self, header: Header | None) -> bool:
        """0x8001 result 2 for a frame whose header was read but whose body or check code was not
        (never to a phone other than the one this connection authenticated). True when answered."""
        if header is None or (self.state is _AUTH and canonical_phone(header.phone) != self.phone):
            return False
        body = self._body(PlatformGeneralReply(header.msg_sn, header.msg_id, 2), header.version)
        self._out.append(self._encode(0x8001, body, header.version, self.next_serial(), phone=header.phone))
        self.tx_frames += 1
        return True

    def _bind_phone(self, wire: str, events: list[Event], piece: bytes) -> bool:
        """A frame names a phone other than the session's: fine until authenticated (the terminal
        introduces itself), refused afterwards. ``phone`` becomes its canonical form
        (:func:`~jt808.protocol.header.canonical_phone`)."""
        phone = canonical_phone(wire)
        if self.state is State.AUTHENTICATED and self.phone and phone != self.phone:
            self._reject(events, SessionError(f"frame from phone {wire} on the connection authenticated as "
                                              f"{self.phone}"), piece)
            return False
        self._wire_phone = wire
        if phone != self.phone:
            self.phone = phone
            self._set_phone_raw(bytes.fromhex(phone) if len(phone) == 12 else b"")
        return True

    def _set_phone_raw(self, raw: bytes) -> None:
        self._phone_raw = raw
        x = 0x80 ^ 0x01 ^ 0x00 ^ 0x05
        for b in raw:
            x ^= b
        self._ack_x = x

    # ------------------------------------------------------------------------------------------
    # per message
    # ------------------------------------------------------------------------------------------
    def _dispatch(self, packet: Packet, now: float, events: list[Event], piece: bytes, acked: bool = False) -> None:
        header = packet.header
        msg_id = header.msg_id
        body = packet.body
        if msg_id == 0x0100:
            if header.version is not V2019:  # 2011 or 2013, as its field widths said: frames after it too
                self.version = header.version
            events.append(RegisterRequested(packet))
            return
        if msg_id == 0x0102:
            events.append(AuthRequested(packet, getattr(body, "code", ""), getattr(body, "imei", ""),
                                        getattr(body, "software_version", ""),
                                        _alt_code(packet, self.profile) if packet.problems else ""))
            return
        if msg_id not in NO_GENERAL_REPLY:
            if acked:
                pass
            elif type(body) is RawBody and body.reason == "unknown":
                self._general(header, 3)
            elif msg_id in self.deferred_acks:
                events.append(MessageReceived(packet, True))
                return
            else:
                self._general(header, 0)
            events.append(MessageReceived(packet))
            return
        if msg_id == 0x0003:
            self._general(header, 0)
            self.state = State.CONNECTED
            self.authenticated_at = None
            events.append(LoggedOut(packet))
            return
        if msg_id == 0x0004:
            t = datetime.fromtimestamp(now + self.wall_offset, _UTC).strftime("%y%m%d%H%M%S")
            self._reply(ServerTimeReply(t), header.version)
            events.append(MessageReceived(packet))
            return
        if msg_id == 0x0005:
            self._general(header, 0)
            self._resend(body)
            events.append(MessageReceived(packet))
            return
        # 0x0001 (no answer) and completed 0x0801 (answered in _fragment / below)
        if msg_id == _MEDIA:
            if _MEDIA in self.deferred_acks:
                events.append(MessageReceived(packet, True))
                return
            self._media_done(packet)
        events.append(MessageReceived(packet))

    def _media_done(self, packet: Packet) -> None:
        raw = packet.raw_body or b""
        mm_id = int.from_bytes(raw[0:4], "big") if len(raw) >= 4 else 0
        self._reply(MediaDataReply(mm_id, []), packet.header.version)

    def _resend(self, body: Body) -> None:
        seq = getattr(body, "seq", None)
        ids = getattr(body, "ids", None) or []
        frames = self._splits.get(seq) if self._splits and seq is not None else None
        if not frames:
            return
        for i in ids:
            if 1 <= i <= len(frames):
                self._out.append(frames[i - 1])
                self.tx_frames += 1

    # -- sub-packages ----------------------------------------------------------------------------
    def _fragment(self, header: Header, body: bytes, problems: list[str], now: float, events: list[Event],
                  piece: bytes) -> None:
        """One fragment: every fragment gets its 0x8001 except the one completing a 0x0801 (answered
        with 0x8800 once the whole upload is there: answering 0x8800 early makes devices stop)."""
        r = self._reasm
        if r is None:
            r = self._reasm = Reassembler(self.profile, timeout=self.fragment_timeout, retries=self.fragment_asks,
                                          max_sets=self.max_partials, max_bytes=min(8 << 20, self.max_partial_bytes),
                                          max_total_bytes=self.max_partial_bytes, budget=self.fragment_budget)
        try:
            merged = r.add(Packet(header, RawBody(body, "fragment"), body, problems), now)
        except (ReassemblyError, DecodeError) as e:
            self._general(header, 2)
            self._reject(events, e, piece, True)
            return
        if merged is None:
            self._general(header, 0)
            return
        if header.msg_id != _MEDIA:
            self._general(header, 0)
        self._dispatch(merged, now, events, piece, acked=True)

    # ------------------------------------------------------------------------------------------
    # decisions coming back
    # ------------------------------------------------------------------------------------------
    def accept_register(self, event: RegisterRequested, auth_code: str) -> None:
        """Answer 0x0100 with 0x8100 result 0 and ``auth_code`` (never empty)."""
        if not auth_code:
            raise EncodeError("an empty auth code makes many devices fail: give a real one", field="auth_code")
        h = event.packet.header
        if h.version is not V2019 and len(self._phone_raw) == 6 and h.phone == self.phone and len(auth_code) < 1000 \
                and auth_code.isascii() and self.profile.encoding.lower() in ASCII_COMPATIBLE:
            # a 2011/2013 reply with an ASCII code (what the gateway issues): two packs, as _reply would encode it
            body = _REG_OK.pack(h.msg_sn, 0) + auth_code.encode()
            content = _H13.pack(0x8100, len(body), self._phone_raw, self.next_serial()) + body
            self._out.append(b"\x7e" + escape(content + bytes((check_code(content),))) + b"\x7e")
            self.tx_frames += 1
            return
        self._reply(RegisterReply(h.msg_sn, 0, auth_code), h.version, h.phone)

    def reject_register(self, event: RegisterRequested, result: int) -> None:
        """Answer 0x0100 with 0x8100 ``result`` (1 vehicle registered, 2 vehicle unknown, 3 terminal
        registered, 4 terminal unknown)."""
        if not 1 <= result <= 255:
            raise EncodeError("a refused registration needs a result of 1..255", field="result", value=result)
        h = event.packet.header
        self._reply(RegisterReply(h.msg_sn, result), h.version, h.phone)

    def accept_auth(self, event: AuthRequested, now: float | None = None, version: Version | None = None) -> None:
        """Answer 0x0102 with 0x8001 result 0; the session is authenticated from now on. ``version``: the
        terminal's remembered version (its 0x0100 said 2011) when the frame's header cannot tell 2011 from
        2013; every reply and command is then encoded in it."""
        h = event.packet.header
        if h.phone != self.phone:  # another phone spoke on this connection meanwhile: bind the one authenticated
            self.phone = h.phone
            self._set_phone_raw(bytes.fromhex(h.phone) if len(h.phone) == 12 else b"")
        v = h.version
        if version is not None and version is not V2019 and v is not V2019:
            v = h.version = version
        elif v is not V2019 and self.version is not V2019:
            v = h.version = self.version  # a 0x0100 earlier on this connection said which
        self._authenticate(v, self.last_seen if now is None else now)
        self._general(h, 0)

    def reject_auth(self, event: AuthRequested) -> None:
        """Answer 0x0102 with 0x8001 result 1; the session stays unauthenticated."""
        self._general(event.packet.header, 1)

    def _authenticate(self, version: Version, now: float) -> None:
        self.state = State.AUTHENTICATED
        self.version = version
        self.authenticated_at = now

    def ack(self, packet: Packet, result: int = 0) -> None:
        """Answer a message whose ack was deferred (see ``deferred_acks``): 0x8001 with ``result``; for a
        completed 0x0801, 0x8800 when ``result`` is 0 and nothing otherwise (the terminal uploads again)."""
        if packet.header.msg_id == _MEDIA:
            if result == 0:
                self._media_done(packet)
            return
        self._general(packet.header, result)

    def ack_many(self, headers: Iterable[Header], result: int = 0) -> None:
        """0x8001 with ``result`` to each deferred message, by its header (a gateway keeps only the headers
        of the messages whose storage it awaits)."""
        ack13 = self._ack13 if len(self._phone_raw) == 6 else None
        out = self._out
        n = 0
        for h in headers:
            if ack13 is not None and h.version is not V2019:
                out.append(ack13(h.msg_sn, h.msg_id, result))
                n += 1
            else:
                self._general(h, result)
        self.tx_frames += n

    # ------------------------------------------------------------------------------------------
    # output
    # ------------------------------------------------------------------------------------------
    def next_serial(self) -> int:
        sn = self._sn
        self._sn = (sn + 1) & 0xFFFF
        return sn

    def _ack13(self, seq: int, msg_id: int, result: int) -> bytes:
        """A 2011/2013 0x8001 frame: one pack, the check code from the session's precomputed part."""
        sn = self._sn
        self._sn = (sn + 1) & 0xFFFF
        v = sn ^ seq ^ msg_id  # the XOR of the three WORDs' bytes is the XOR of the bytes of their XOR
        x = self._ack_x ^ (v >> 8) ^ (v & 0xFF) ^ result
        f = _ACK13.pack(0x7E, 0x8001, 5, self._phone_raw, sn, seq, msg_id, result, x, 0x7E)
        if f.count(b"\x7e") != 2 or b"\x7d" in f:
            f = b"\x7e" + escape(f[1:-1]) + b"\x7e"
        return f

    def _encode_general(self, seq: int, msg_id: int, result: int, version: Version, phone: str | None = None) -> bytes:
        if version is not V2019 and len(self._phone_raw) == 6 and (phone is None or phone == self.phone):
            return self._ack13(seq, msg_id, result)
        return self._encode(0x8001, self._body(PlatformGeneralReply(seq, msg_id, result), version), version,
                            self.next_serial(), phone=phone)

    def _general(self, header: Header, result: int) -> None:
        """0x8001 to the phone and in the version of ``header`` (a read may hold frames of several)."""
        self._out.append(self._encode_general(header.msg_sn, header.msg_id, result, header.version, header.phone))
        self.tx_frames += 1

    def _encode(self, msg_id: int, body: bytes, version: Version, sn: int,
                frag: tuple[int, int] | None = None, phone: str | None = None) -> bytes:
        h = Header(msg_id, self.phone if phone is None else phone, sn, version)
        if frag:
            h.frag_total, h.frag_sn = frag
        content = pack_header(h, len(body)) + body
        return b"\x7e" + escape(content + bytes((check_code(content),))) + b"\x7e"

    def _body(self, body: Body, version: Version) -> bytes:
        return encode_body(body, version, self.profile)

    def _reply(self, body: Body, version: Version, phone: str | None = None) -> int:
        """Queue one of the session's own replies (0x8100, 0x8004, 0x8800), encoded by its message class."""
        return self._queue(body.msg_id, self._body(body, version), version, phone)

    def _queue(self, msg_id: int, body: bytes, version: Version, phone: str | None = None) -> int:
        sn = self.next_serial()
        self._out.append(self._encode(msg_id, body, version, sn, phone=phone))
        self.tx_frames += 1
        return sn

    def send(self, body: Body, *, msg_id: int | None = None, version: Version | None = None) -> list[int]:
        """Queue a platform message for the terminal; returns its serial number(s).

        A body longer than 1023 bytes is sub-packaged into consecutive serials (one per fragment);
        all of them are returned, since terminals quote either the first or the last in their reply.
        """
        if not self.phone:
            raise SessionError("the terminal has not introduced itself yet: no phone to address")
        v = self.version if version is None else version
        mid = body.msg_id if msg_id is None else msg_id
        if mid < 0:
            raise EncodeError("a raw body needs an explicit msg_id", field="msg_id")
        data = body.data if isinstance(body, RawBody) else encode_body(body, v, self.profile, mid)
        return self.send_raw(mid, data, v)

    def send_raw(self, msg_id: int, data: bytes, version: Version | None = None) -> list[int]:
        """Queue an already encoded body (split when longer than 1023 bytes)."""
        v = self.version if version is None else version
        if len(data) <= MAX_BODY:
            return [self._queue(msg_id, data, v)]
        first = self._sn
        parts = split(Packet(Header(msg_id, self.phone, first, v), RawBody(data, "whole")), MAX_BODY, first,
                      profile=self.profile)
        self._sn = (first + len(parts)) & 0xFFFF
        frames = [self._encode(msg_id, pk.body.data, v, pk.header.msg_sn,  # type: ignore[attr-defined]  # split() gives RawBody fragments
                               (pk.header.frag_total, pk.header.frag_sn)) for pk in parts]
        serials = [pk.header.msg_sn for pk in parts]
        self._out.extend(frames)
        self.tx_frames += len(frames)
        splits = self._splits
        if splits is None:
            splits = self._splits = {}
        splits[serials[0]] = frames
        if len(splits) > _SPLIT_KEEP:
            del splits[next(iter(splits))]
        return serials

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one write."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # ------------------------------------------------------------------------------------------
    # timers
    # ------------------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should run next (monotonic), or ``None``."""
        t = self.last_seen + self.idle_timeout if self.idle_timeout else None
        if self._reasm is not None and len(self._reasm):
            d = self._reasm.next_deadline()
            if d is not None and (t is None or d < t):
                t = d
        return t

    def handle_timer(self, now: float) -> list[Event]:
        """Ask for the missing fragments of stalled messages (0x8800 for media, else 0x8003); report
        idleness."""
        events: list[Event] = []
        r = self._reasm
        if r is not None and len(r):
            for rep in r.expire(now):
                if rep.dropped:
                    events.append(ReassemblyAbandoned(rep.msg_id, rep.first_sn, rep.missing))
                    continue
                for body in rep.replies(self.resend_frames):
                    self._queue(body.msg_id, encode_body(body, rep.version, self.profile), rep.version)
                events.append(FragmentsMissing(rep.msg_id, rep.first_sn, rep.missing))
        if self.idle_timeout and now - self.last_seen >= self.idle_timeout:
            events.append(IdleTimeout(now - self.last_seen))
        return events

    def release(self) -> None:
        """The connection is gone: give buffered fragments (and their share of a shared budget) back."""
        if self._reasm is not None:
            self._reasm.clear()

    def stats(self) -> dict[str, Any]:
        return {"rx_bytes": self.rx_bytes, "rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
                "rejected": self.rejected, "repairs": dict(self.repairs)}


def _alt_code(packet: Packet, profile: Profile) -> str:
    """The 0x0102 code read with the frame's last byte as the code's last character rather than as the
    check code (:attr:`AuthRequested.alt_code`): the frame decoder's other reading of a frame whose last byte
    is a valid check code (a zero XOR) and whose body-length field counts it in the body
    (:attr:`Problem.other_reading <jt808.protocol.problems.Problem.other_reading>`). Empty without one."""
    h = packet.header
    other = next((p.other_reading for p in packet.problems if type(p) is Problem and p.other_reading), b"")
    if not other or h.version is V2019 or packet.raw_body is None:
        return ""
    try:
        return str(getattr(decode_body(0x0102, h.version, packet.raw_body + other, profile)[0], "code", ""))
    except JT808Error:
        return ""
