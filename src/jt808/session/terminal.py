"""The terminal side of a JT/T 808 conversation, sans-I/O.

:class:`TerminalSession` turns message bodies into frames and received bytes into events; it owns no
socket, thread or clock (``now`` is always an argument). An adapter (:mod:`jt808.client.aio`, the
simulator) feeds it bytes and writes what it queues::

    s = TerminalSession("13912345678", V2019)
    sn = s.send(HeartBeat(), expect_reply=True)[0]
    transport.write(s.data_to_send())
    for event in s.receive_data(chunk, now=loop.time()):
        if isinstance(event, ReplyReceived) and event.request_sn == sn: ...

What it does by itself:

- **serial numbers**: one counter per terminal, ``0 → 0xFFFF → 0`` (every fragment consumes one);
- **sub-packages up**: bodies over ``max_body`` bytes are cut with :func:`jt808.protocol.subpackage.split`
  (encrypt first, then split); the last few split messages are kept so that a platform's 0x8003
  re-send request is served at once, with the same fragment indexes;
- **sub-packages down**: fragments go through a :class:`~jt808.protocol.subpackage.Reassembler`; when a
  set stays incomplete past ``reassembly_timeout``, a 0x0005 (2019) names **every** missing index;
- **replies**: 0x8001 / 0x8100 (by ``seq``), 0x8004 (oldest pending 0x0004) and 0x8800 (by media id)
  are matched to the request they answer and reported as :class:`ReplyReceived`; a reply quoting any
  serial of a split message is matched to that message (PROTOCOL.md §1.7);
- **general answers**: server messages whose id is in ``auto_answer`` (e.g. ``GENERAL_ANSWER_MSG_ID``, the
  ids seed 001 answers with 0x0001) are answered with result 0 before the event is returned;
- **RSA**: bodies of ids in ``encrypt_ids`` are encrypted with the platform key once one is set
  (:meth:`set_platform_key`); downlinks with bit 10 set are decrypted with the terminal's private key.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jt808.errors import DecodeError, FrameError, JT808Error, SessionError
from jt808.protocol.frame import decode
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.header import MAX_BODY, V2013, V2019, Header, Version
from jt808.protocol.messages.general import ResendRequest, TerminalGeneralReply
from jt808.protocol.packet import Packet, RawBody, encode, encode_body
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.replies import reply_ids
from jt808.protocol.spec import Body
from jt808.session.events import Event, FrameRejected

if TYPE_CHECKING:
    from jt808.protocol.subpackage import Reassembler

__all__ = [
    "ENCRYPTABLE_IDS",
    "DownlinkReceived",
    "FragmentsRequested",
    "ReassemblyFailed",
    "ReplyReceived",
    "TerminalSession",
]

#: Uplinks seed 001 encrypts when encryption is on (``set_encryption``): everything but the
#: connection-management messages (register, auth, heartbeat, logout, general reply, key exchange).
ENCRYPTABLE_IDS: frozenset[int] = frozenset({
    0x0104, 0x0107, 0x0108, 0x0200, 0x0201, 0x0500, 0x0301, 0x0302, 0x0303, 0x0608, 0x0700, 0x0701, 0x0702,
    0x0704, 0x0705, 0x0800, 0x0801, 0x0802, 0x0805, 0x0900, 0x0901,
})

#: platform replies that quote the serial of the terminal's request (0x8001, 0x8100: the declarations)
_REPLY_IDS = tuple(mid for mid, q in reply_ids().items() if mid >= 0x8000 and q == "seq")


@dataclass(slots=True, eq=False, repr=False)
class ReplyReceived(Event):
    """A platform reply matched to the request it answers.

    ``request_sn`` is the serial of the request (fragment 1's serial for a split message), ``request_id``
    its message id (``None`` when no pending request matched: a late or unsolicited reply);
    ``final`` is false for a per-fragment 0x8001 of a split message that has more fragments to answer.
    """

    packet: Packet
    request_sn: int
    request_id: int | None
    final: bool = True


@dataclass(slots=True, eq=False, repr=False)
class DownlinkReceived(Event):
    """A complete server message (reassembled and decrypted). ``answered``: the session already queued
    the 0x0001 general answer for it (its id is in ``auto_answer``)."""

    packet: Packet
    answered: bool = False


@dataclass(slots=True, eq=False, repr=False)
class FragmentsRequested(Event):
    """The platform asked (0x8003) for fragments of a split message. ``resent`` lists the indexes the
    session re-queued; ``unknown`` those it no longer holds (the message is too old)."""

    seq: int
    resent: list[int]
    unknown: list[int]


@dataclass(slots=True, eq=False, repr=False)
class ReassemblyFailed(Event):
    """A split downlink stayed incomplete. ``requested``: a 0x0005 naming ``missing`` was queued
    (2019 only; earlier versions have no terminal re-send request)."""

    msg_id: int
    seq: int
    missing: list[int]
    requested: bool


class _Sent:
    """A request waiting for its reply: serials of its frames, and the per-fragment acks seen."""

    __slots__ = ("acked", "msg_id", "serials")

    def __init__(self, msg_id: int, serials: list[int]) -> None:
        self.msg_id = msg_id
        self.serials = serials
        self.acked: set[int] = set()


class TerminalSession:
    """One terminal's protocol state. See the module docstring.

    :param phone: the terminal phone / client id (digits; left-padded to 12 or 20 on the wire).
    :param version: protocol version of every frame sent (2011, 2013 or 2019).
    :param profile: codec profile (string encoding, vendor quirks). A private copy is made when keys
        are set, so the shared profile is never changed.
    :param max_body: bodies longer than this are sub-packaged (≤ 1023).
    :param auto_answer: server message ids answered with 0x0001 (result 0) by the session.
    :param encrypt_ids: uplink ids encrypted once a platform key is set.
    :param reassembly_timeout: seconds a split downlink may stay incomplete before 0x0005 is sent.
    :param keep_split: how many split uplinks to keep for 0x8003 re-send requests.
    """

    def __init__(self, phone: str, version: Version | int | str = V2013, profile: Profile | None = None, *,
                 max_body: int = MAX_BODY, auto_answer: Iterable[int] = (),
                 encrypt_ids: Iterable[int] = ENCRYPTABLE_IDS, reassembly_timeout: float = 30.0,
                 keep_split: int = 16) -> None:
        self.version = Version.parse(version)
        width = 20 if self.version is V2019 else 12
        if not phone or len(phone) > width or not phone.isdigit():
            raise SessionError(f"client id {phone!r} must be 1-{width} digits for version {self.version}")
        self.phone = phone.rjust(width, "0")
        self.profile = profile or DEFAULT_PROFILE
        if not 1 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be 1..{MAX_BODY}")
        self.max_body = max_body
        self.auto_answer = frozenset(auto_answer)
        self.encrypt_ids = frozenset(encrypt_ids)
        self.reassembly_timeout = reassembly_timeout
        self.encrypting = False
        self._sn = 0
        self._out: list[bytes] = []
        self._splitter = FrameSplitter()
        self._pending: dict[int, _Sent] = {}  # every serial of a pending request -> its record
        self._time_requests: deque[int] = deque()  # serials of pending 0x0004
        self._media_requests: dict[int, int] = {}  # media id of a pending 0x0801 -> its first serial
        self._split_sent: OrderedDict[int, dict[int, bytes]] = OrderedDict()  # first serial -> {frag_sn: frame}
        self._keep_split = keep_split
        self._reassembler: Reassembler | None = None

    # -- configuration ----------------------------------------------------------------------------
    def _own_profile(self) -> Profile:
        if not getattr(self.profile, "_terminal_copy", False):
            self.profile = self.profile.derive(f"{self.profile.name} / terminal {self.phone}")
            self.profile._terminal_copy = True  # type: ignore[attr-defined]  # a marker on the session's own copy
        return self.profile

    def set_platform_key(self, key: Any, enabled: bool = True) -> None:
        """Encrypt the bodies of ``encrypt_ids`` with the platform's RSA public key (from 0x8A00)."""
        self._own_profile().rsa_peer_public_key = key
        self.encrypting = enabled and key is not None

    def set_private_key(self, key: Any) -> None:
        """The terminal's RSA private key, to decrypt downlinks encrypted with its public key (0x0A00)."""
        self._own_profile().rsa_private_key = key

    # -- serials ----------------------------------------------------------------------------------
    @property
    def next_serial(self) -> int:
        """The serial the next frame will carry."""
        return self._sn

    def _take_serial(self) -> int:
        sn = self._sn
        self._sn = (sn + 1) & 0xFFFF
        return sn

    # -- sending ----------------------------------------------------------------------------------
    def send(self, body: Body, *, expect_reply: bool = False, encrypt: bool | None = None,
             msg_id: int | None = None) -> list[int]:
        """Queue ``body`` (split when long). Returns the serials used, fragment 1's first.

        ``expect_reply`` registers the request so that its reply comes back as :class:`ReplyReceived`
        with this request's serial. ``encrypt`` overrides the ``encrypt_ids`` rule.
        """
        mid = body.msg_id if msg_id is None else msg_id
        if encrypt is None:
            encrypt = self.encrypting and mid in self.encrypt_ids
        version = self.version
        profile = self.profile
        data = body.data if isinstance(body, RawBody) else encode_body(body, version, profile, mid)
        if encrypt:
            if profile.rsa_peer_public_key is None:
                raise SessionError("encryption requested but no platform public key is set")
            from jt808.protocol.crypto import rsa_encrypt

            data = rsa_encrypt(profile.rsa_peer_public_key, data)
        enc = 1 if encrypt else 0
        if len(data) <= self.max_body:
            sn = self._take_serial()
            frame = encode(Packet(Header(mid, self.phone, sn, version, encrypt=enc), RawBody(data, "encoded")),
                           profile)
            self._out.append(frame)
            serials = [sn]
        else:
            serials = self._send_split(mid, data, enc)
        if expect_reply:
            rec = _Sent(mid, serials)
            for sn in serials:
                self._pending[sn] = rec
            if mid == 0x0004:
                self._time_requests.append(serials[0])
            elif mid == 0x0801 and len(data) >= 4 and not enc:
                self._media_requests[int.from_bytes(data[:4], "big")] = serials[0]
        return serials

    def _send_split(self, mid: int, data: bytes, enc: int) -> list[int]:
        from jt808.protocol.subpackage import split

        first = self._sn
        whole = Packet(Header(mid, self.phone, first, self.version, encrypt=enc), RawBody(data, "encoded"))
        parts = split(whole, self.max_body, first, profile=self.profile)
        self._sn = (first + len(parts)) & 0xFFFF
        frames: dict[int, bytes] = {}
        for p in parts:
            frame = encode(p, self.profile)
            frames[p.header.frag_sn] = frame
            self._out.append(frame)
        self._split_sent[first] = frames
        while len(self._split_sent) > self._keep_split:
            self._split_sent.popitem(last=False)
        return [p.header.msg_sn for p in parts]

    def reply(self, seq: int, msg_id: int, result: int = 0) -> int:
        """Queue a terminal general reply (0x0001) to the server message ``msg_id`` / ``seq``."""
        return self.send(TerminalGeneralReply(seq, msg_id, result))[0]

    def forget(self, request_sn: int) -> None:
        """Stop waiting for the reply of ``request_sn`` (the adapter gave up)."""
        rec = self._pending.get(request_sn)
        if rec is None:
            return
        for sn in rec.serials:
            self._pending.pop(sn, None)
        if request_sn in self._time_requests:
            self._time_requests.remove(request_sn)
        for mm, sn in list(self._media_requests.items()):
            if sn == request_sn:
                del self._media_requests[mm]

    def frames_of(self, request_sn: int) -> list[bytes]:
        """The frames of a split message still held for re-sending, in fragment order."""
        frames = self._split_sent.get(request_sn, {})
        return [frames[k] for k in sorted(frames)]

    def resend(self, request_sn: int, ids: Iterable[int] | None = None) -> list[int]:
        """Queue again fragments ``ids`` (all when ``None``) of split message ``request_sn``;
        returns the indexes queued."""
        frames = self._split_sent.get(request_sn)
        if frames is None:
            return []
        wanted = sorted(frames) if ids is None else [i for i in ids if i in frames]
        self._out.extend(frames[i] for i in wanted)
        return wanted

    def data_to_send(self) -> bytes:
        """Everything queued, as one byte string (stream transports)."""
        if not self._out:
            return b""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def frames_to_send(self) -> list[bytes]:
        """Everything queued, one frame per item (datagram transports)."""
        out = self._out
        self._out = []
        return out

    # -- receiving --------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Bytes from a stream (TCP); any chunking. Returns the events, in order."""
        events: list[Event] = []
        for frame in self._splitter.feed(data):
            self._receive_frame(frame, now, events)
        return events

    def receive_datagram(self, data: bytes, now: float) -> list[Event]:
        """One datagram (UDP): one or more complete frames."""
        events: list[Event] = []
        splitter = FrameSplitter()
        for frame in splitter.feed(data) + splitter.flush():
            self._receive_frame(frame, now, events)
        return events

    def _receive_frame(self, frame: bytes, now: float, events: list[Event]) -> None:
        try:
            packet = decode(frame, self.profile)
        except (FrameError, DecodeError) as e:
            events.append(FrameRejected(e, frame))
            return
        h = packet.header
        if h.frag_total > 1:
            whole = self._reassemble(packet, now, events)
            if whole is None:
                return
            packet = whole
        self._dispatch(packet, events)

    def _reassemble(self, packet: Packet, now: float, events: list[Event]) -> Packet | None:
        if self._reassembler is None:
            from jt808.protocol.subpackage import Reassembler

            self._reassembler = Reassembler(self.profile, timeout=self.reassembly_timeout, strict=False)
        try:
            return self._reassembler.add(packet, now, self.profile)
        except JT808Error as e:
            events.append(FrameRejected(e, b""))
            return None

    def _dispatch(self, packet: Packet, events: list[Event]) -> None:
        mid = packet.header.msg_id
        body = packet.body
        if mid in _REPLY_IDS and hasattr(body, "seq"):
            events.append(self._match(packet, body.seq))
            return
        if mid == 0x8004:
            sn = self._time_requests.popleft() if self._time_requests else -1
            rec = self._pending.get(sn)
            if rec is not None:
                self.forget(sn)
            events.append(ReplyReceived(packet, sn, 0x0004 if rec is not None else None))
            return
        if mid == 0x8800 and hasattr(body, "mm_id"):
            sn = self._media_requests.get(body.mm_id, -1)
            rec = self._pending.get(sn)
            missing = list(getattr(body, "retx_ids", []) or [])
            if rec is not None and not missing:
                self.forget(sn)
            events.append(ReplyReceived(packet, sn, 0x0801 if rec is not None else None, final=not missing))
            return
        if mid == 0x8003 and isinstance(body, ResendRequest):
            seq = body.seq
            ids = list(body.ids)
            if not ids:  # an empty list asks for the whole message again
                resent = self.resend(seq)
                unknown: list[int] = []
            else:
                resent = self.resend(seq, ids)
                unknown = [i for i in ids if i not in resent]
            events.append(FragmentsRequested(seq, resent, unknown))
            return
        answered = False
        if mid in self.auto_answer:
            self.reply(packet.header.msg_sn, mid, 0)
            answered = True
        events.append(DownlinkReceived(packet, answered))

    def _match(self, packet: Packet, seq: int) -> ReplyReceived:
        rec = self._pending.get(seq)
        if rec is None:
            return ReplyReceived(packet, seq, None)
        first = rec.serials[0]
        result = getattr(packet.body, "result", 0)
        if len(rec.serials) > 1 and result == 0 and rec.msg_id != 0x0801:
            # Per-fragment acks: the message is answered once its last fragment is (or once every
            # fragment is, whichever serial the platform quotes for the whole message).
            rec.acked.add(seq)
            final = seq == rec.serials[-1] or len(rec.acked) == len(rec.serials)
            if not final:
                return ReplyReceived(packet, first, rec.msg_id, final=False)
        elif len(rec.serials) > 1 and rec.msg_id == 0x0801 and packet.header.msg_id == 0x8001 and result == 0:
            return ReplyReceived(packet, first, rec.msg_id, final=False)  # media: 0x8800 closes it
        self.forget(first)
        return ReplyReceived(packet, first, rec.msg_id)

    # -- timers -----------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should next run (incomplete downlink fragments), or ``None``."""
        if self._reassembler is None:
            return None
        return self._reassembler.next_deadline()

    def handle_timer(self, now: float) -> list[Event]:
        """Expire incomplete downlinks; in 2019 ask for every missing fragment with 0x0005."""
        events: list[Event] = []
        if self._reassembler is None:
            return events
        for item in self._reassembler.expire(now):
            missing = list(item.missing)
            requested = self.version is V2019 and bool(missing) and not item.dropped
            if requested:
                self.send(item.resend_request(terminal=True))
            events.append(ReassemblyFailed(item.msg_id, item.first_sn, missing, requested))
        return events

    @property
    def pending(self) -> int:
        """Requests still waiting for a reply."""
        return len({id(r) for r in self._pending.values()})
