"""Sub-packages (分包): split a long body into fragments, and reassemble fragments into one message.

Sending (PROTOCOL.md §1.7): the complete body — after RSA encryption when the header's bit 10 is set —
is cut into consecutive slices of at most ``max_body`` bytes (1023, the 10-bit length field's limit;
any smaller size works, the trade often uses multiples of 256). Fragment ``k`` of ``N`` carries bit 13,
``frag_total = N``, ``frag_sn = k`` and its own serial: serials are consecutive, one per fragment,
starting at ``first_sn`` (default: the packet's ``msg_sn``). The message is known by fragment 1's serial
(0x8003 / 0x0005 quote it); the caller's serial counter advances by ``len(fragments)``.

Receiving: :class:`Reassembler` is sans-I/O — the clock is always an argument (``now``, seconds, any
monotonic origin). Fragments are grouped by ``(phone, msg_id, frag_total)``; duplicates are ignored (the
first copy wins), arrival order and serial continuity do not matter. When the last missing fragment
arrives, :meth:`Reassembler.add` returns the merged :class:`~jt808.protocol.packet.Packet`: fragment 1's
header with the fragment fields cleared, the body decrypted (profile private key) and decoded. A set idle
for ``timeout`` seconds is reported by :meth:`Reassembler.expire` as an :class:`Incomplete` naming fragment
1's serial and the missing indexes, so that a platform can send 0x8003 (0x8800 for 0x0801 media) and a
terminal 0x0005; after ``retries`` reports the set is dropped. A fragment that repeats an index already
held, with other bytes and another serial, or one arriving after ``window`` seconds of silence, starts a
new message with the same key (the old set is reported as dropped, reason ``"superseded"``). A late copy of
a fragment of a message completed less than ``window`` seconds ago is ignored (counted in
``late_duplicates``) rather than opening a set that would ask for the rest.

Memory is bounded: at most ``max_sets`` open sets (the least recently active one is evicted), at most
``max_bytes`` per set and ``max_total_bytes`` over all sets; a :class:`ReassemblyBudget` shared by many
reassemblers (one per connection) bounds sets and bytes over all of them. Missing-index lists are never
built ahead: :class:`Missing` computes them when read, so a set announcing 65,535 fragments costs what its
received fragments cost. Fragment indexes outside ``1..frag_total``, one serial claimed for two different
totals and a full budget raise :class:`~jt808.errors.ReassemblyError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import overload

from jt808.errors import EncodeError, ReassemblyError
from jt808.protocol.header import MAX_BODY, V2019, Version
from jt808.protocol.packet import Packet, RawBody, body_bytes, decode_body, encode
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import Body

__all__ = ["Incomplete", "Missing", "Reassembler", "ReassemblyBudget", "SetKey", "encode_many", "split"]

#: ``(phone, msg_id, frag_total)``
SetKey = tuple[str, int, int]


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------
def split(packet: Packet, max_body: int = MAX_BODY, first_sn: int | None = None, *,
          profile: Profile = DEFAULT_PROFILE) -> list[Packet]:
    """Cut ``packet`` into sub-package fragments when its (encrypted) body exceeds ``max_body`` bytes.

    Returns ``[packet]`` unchanged when the body fits (with ``msg_sn = first_sn`` when that is given).
    Otherwise ``N`` fragment packets, each a
    :class:`RawBody` (reason ``"fragment"``) with ``frag_total = N``, ``frag_sn = 1..N`` and serials
    ``first_sn, first_sn + 1, …`` (wrapping at 0xFFFF). Fragments of an encrypted body keep the RSA bit
    and are not encrypted again by :func:`~jt808.protocol.packet.encode`.
    """
    if isinstance(max_body, bool) or not isinstance(max_body, int) or not 1 <= max_body <= MAX_BODY:
        raise EncodeError(f"fragment size must be 1..{MAX_BODY}", field="max_body", value=max_body)
    data = body_bytes(packet, profile)
    if len(data) <= max_body:
        if first_sn is None or first_sn == packet.header.msg_sn:
            return [packet]
        return [Packet(packet.header.copy(msg_sn=first_sn), packet.body, packet.raw_body, packet.problems,
                       packet.tail)]
    n = -(-len(data) // max_body)
    if n > 0xFFFF:
        raise EncodeError(f"{len(data)} bytes need {n} fragments of {max_body}, more than 65535",
                          field="frag_total", msg_id=packet.header.msg_id)
    h = packet.header
    sn = h.msg_sn if first_sn is None else first_sn
    if isinstance(sn, bool) or not isinstance(sn, int) or not 0 <= sn <= 0xFFFF:
        raise EncodeError("serial must be 0..65535", field="msg_sn", value=sn, msg_id=h.msg_id)
    out = []
    for k in range(n):
        chunk = data[k * max_body:(k + 1) * max_body]
        fh = h.copy(msg_sn=(sn + k) & 0xFFFF, frag_total=n, frag_sn=k + 1, length=len(chunk))
        out.append(Packet(fh, RawBody(chunk, "fragment"), chunk))
    return out


def encode_many(packet: Packet, profile: Profile = DEFAULT_PROFILE, max_body: int = MAX_BODY,
                first_sn: int | None = None) -> list[bytes]:
    """Frames for ``packet``: one frame when the body fits, else one per fragment (see :func:`split`)."""
    return [encode(p, profile) for p in split(packet, max_body, first_sn, profile=profile)]


# ---------------------------------------------------------------------------------------------
# Receiving
# ---------------------------------------------------------------------------------------------
class Missing(Sequence[int]):
    """The indexes ``1..total`` not in ``present``, in order, computed when read (a list is never kept).

    Compares equal to a list of the same numbers.
    """

    __slots__ = ("_present", "total")

    def __init__(self, total: int, present: Iterable[int]) -> None:
        self.total = total
        self._present = frozenset(present)

    def __len__(self) -> int:
        return self.total - sum(1 for k in self._present if 1 <= k <= self.total)

    def __iter__(self) -> Iterator[int]:
        present = self._present
        return (k for k in range(1, self.total + 1) if k not in present)

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> list[int]: ...

    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1:
                return list(islice(iter(self), start, stop))
            return list(self)[i]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("missing index out of range")
        return next(islice(iter(self), i, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Missing | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value: unhashable

    def __repr__(self) -> str:
        head = self[:8]
        return f"Missing({head}{'…' if len(self) > 8 else ''}, {len(self)} of {self.total})"


def _chunks(ids: Sequence[int], size: int, limit: int) -> list[list[int]]:
    """The first ``size * limit`` of ``ids`` in lists of ``size``."""
    it = iter(ids)
    out: list[list[int]] = []
    while len(out) < limit:
        part = list(islice(it, size))
        if not part:
            break
        out.append(part)
    return out


#: ids per resend request: 0x8003 counts with a BYTE in 2011/2013; in 2019 the body limit (1023 bytes:
#: serial 2 + count 2 + 2 per id) is reached first; 0x8800 counts with a BYTE; 0x0005 like 2019 0x8003.
RESEND_IDS_2013 = 0xFF
RESEND_IDS_2019 = (MAX_BODY - 4) // 2
MEDIA_RETX_IDS = 0xFF


@dataclass(slots=True)
class ReassemblyBudget:
    """Sets and bytes that all the reassemblers sharing it may hold together (a gateway has one for all its
    connections). :class:`Reassembler` takes from it and gives back; a full budget refuses new sets/bytes."""

    max_sets: int = 16384
    max_bytes: int = 256 << 20
    sets: int = 0
    bytes: int = 0
    refused: int = 0


@dataclass(slots=True)
class Incomplete:
    """A fragment set that is still missing fragments after ``timeout`` (or was dropped).

    ``first_sn`` is fragment 1's serial (the one 0x8003 / 0x0005 / 0x8800 quote) — estimated from another
    fragment, assuming consecutive serials, when fragment 1 itself is missing (``first_sn_known`` False).
    ``missing`` lists the absent ``frag_sn`` values (1-based; a lazy :class:`Missing` from a
    reassembler). ``attempts`` counts the reports so far;
    ``dropped`` is True when the set was given up (``reason``: ``"timeout"``, ``"superseded"``,
    ``"evicted"``) — ask for nothing more then. ``media_id`` is the 0x0801 multimedia id when fragment 1
    is present.
    """

    key: SetKey
    first_sn: int
    first_sn_known: bool
    missing: Sequence[int]
    received: int
    version: Version
    attempts: int = 1
    dropped: bool = False
    reason: str = "timeout"
    media_id: int | None = None

    @property
    def phone(self) -> str:
        return self.key[0]

    @property
    def msg_id(self) -> int:
        return self.key[1]

    @property
    def frag_total(self) -> int:
        return self.key[2]

    def resend_request(self, *, terminal: bool = False) -> Body:
        """The body asking for the (first) missing fragments: 0x8003 from a platform, 0x0005 from a terminal
        (2019). 0x8003 counts with a BYTE in 2011/2013: at most 255 ids per request; 509 in 2019."""

        return self.resend_requests(terminal=terminal)[0]

    def resend_requests(self, *, terminal: bool = False, max_requests: int = 1) -> list[Body]:
        """Requests naming the missing ids, split so that each fits its message (at most 255 ids per 2011/2013
        0x8003, 509 per 2019 0x8003 or 0x0005 to stay within the 1023-byte body); at most ``max_requests``
        of them (the ids beyond are asked for on the next round)."""
        from jt808.protocol.messages.general import ResendRequest, TerminalResendRequest

        if terminal:
            return [TerminalResendRequest(seq=self.first_sn, ids=part)
                    for part in _chunks(self.missing, RESEND_IDS_2019, max_requests)] or \
                [TerminalResendRequest(seq=self.first_sn, ids=[])]
        size = RESEND_IDS_2019 if self.version is V2019 else RESEND_IDS_2013
        return [ResendRequest(seq=self.first_sn, ids=part) for part in _chunks(self.missing, size, max_requests)] \
            or [ResendRequest(seq=self.first_sn, ids=[])]

    def media_reply(self) -> Body:
        """0x8800 naming the missing fragments of a 0x0801 (needs fragment 1 for the multimedia id)."""
        from jt808.protocol.messages.media import MediaDataReply

        if self.media_id is None:
            raise ReassemblyError("fragment 1 of the 0x0801 is missing: its multimedia id is unknown; "
                                  "use resend_request()")
        return MediaDataReply(mm_id=self.media_id, retx_ids=list(self.missing[:MEDIA_RETX_IDS]))

    def reply(self) -> Body:
        """What a platform sends: 0x8800 for 0x0801 media when the id is known, else 0x8003."""
        return self.replies()[0]

    def replies(self, max_requests: int = 1) -> list[Body]:
        """:meth:`reply` split like :meth:`resend_requests` (255 ids per 0x8800), at most ``max_requests``."""
        if self.msg_id == 0x0801 and self.media_id is not None:
            from jt808.protocol.messages.media import MediaDataReply

            media_id = self.media_id
            return [MediaDataReply(mm_id=media_id, retx_ids=part)
                    for part in _chunks(self.missing, MEDIA_RETX_IDS, max_requests)] or [self.media_reply()]
        return self.resend_requests(max_requests=max_requests)


class _Set:
    __slots__ = ("attempts", "frags", "last_seen", "nbytes", "problems", "serials")

    def __init__(self, now: float) -> None:
        self.frags: dict[int, Packet] = {}
        self.serials: set[int] = set()
        self.nbytes = 0
        self.last_seen = now
        self.attempts = 0
        self.problems: list[str] = []


def _fragment_bytes(p: Packet) -> bytes:
    body = p.body
    if isinstance(body, RawBody):
        return body.data
    if p.raw_body is not None:
        return p.raw_body
    raise ReassemblyError(f"0x{p.header.msg_id:04X} fragment {p.header.frag_sn}/{p.header.frag_total} carries "
                          "no bytes (decode fragments with jt808.decode: their body stays raw)")


class Reassembler:
    """Merges sub-package fragments (sans-I/O; see the module docstring).

    ``profile`` decodes (and decrypts) merged bodies unless :meth:`add` is given another one; ``strict``
    is passed to :func:`~jt808.protocol.packet.decode_body` (False keeps an undecodable merged body raw
    and lists the error in ``problems``).
    """

    def __init__(self, profile: Profile = DEFAULT_PROFILE, *, timeout: float = 30.0, retries: int = 2,
                 window: float = 300.0, max_sets: int = 256, max_bytes: int = 8 << 20,
                 max_total_bytes: int = 64 << 20, strict: bool = True,
                 budget: ReassemblyBudget | None = None) -> None:
        if timeout <= 0 or window <= 0 or max_sets < 1 or max_bytes < 1 or max_total_bytes < 1 or retries < 0:
            raise ValueError("timeout/window > 0, max_sets/max_bytes/max_total_bytes >= 1, retries >= 0")
        self.profile = profile
        self.timeout = timeout
        self.retries = retries
        self.window = window
        self.max_sets = max_sets
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.strict = strict
        self.budget = budget
        self._sets: dict[SetKey, _Set] = {}  # insertion order = least recently active first
        self._by_pm: dict[tuple[str, int], set[int]] = {}
        self._dropped: list[Incomplete] = []
        self._total = 0
        # recently completed messages: key -> (time, {frag_sn: hash of its bytes}), so that a late copy
        # of one of their fragments is recognised instead of opening a set that would ask for the rest
        self._done: dict[SetKey, tuple[float, dict[int, int]]] = {}
        self.late_duplicates = 0

    # -- introspection ---------------------------------------------------------------------------
    @staticmethod
    def key_of(packet: Packet) -> SetKey:
        h = packet.header
        return (h.phone, h.msg_id, h.frag_total)

    def __len__(self) -> int:
        return len(self._sets)

    def __contains__(self, key: object) -> bool:
        return key in self._sets

    def __iter__(self) -> Iterator[SetKey]:
        return iter(list(self._sets))

    @property
    def buffered_bytes(self) -> int:
        return self._total

    def missing(self, key: SetKey) -> Missing | None:
        """Missing fragment indexes (1-based) of the open set ``key``; ``None`` when no set is open
        (never started, completed, or dropped)."""
        s = self._sets.get(key)
        if s is None:
            return None
        return Missing(key[2], s.frags)

    def clear(self) -> None:
        """Forget every open set (no reports), giving their share of the budget back."""
        for key, s in list(self._sets.items()):
            self._remove(key, s)
        self._dropped.clear()

    def incomplete(self, key: SetKey) -> Incomplete | None:
        """The report :meth:`expire` would give for ``key`` now (e.g. to answer a 0x0801 whose last
        fragment arrived while others are missing: PROTOCOL.md §1.7 sends 0x8800 then)."""
        s = self._sets.get(key)
        return None if s is None else self._report(key, s)

    def discard(self, key: SetKey) -> bool:
        """Forget the set ``key`` (no report). True if there was one."""
        s = self._sets.get(key)
        if s is None:
            return False
        self._remove(key, s)
        return True

    # -- core ------------------------------------------------------------------------------------
    def add(self, packet: Packet, now: float, profile: Profile | None = None) -> Packet | None:
        """Take one decoded frame. Returns the complete message when this fragment completes it, the
        packet itself when it is not a fragment, and ``None`` while fragments are missing."""
        h = packet.header
        total, idx = h.frag_total, h.frag_sn
        if total == 0:
            return packet
        if not 1 <= idx <= total:
            raise ReassemblyError(f"0x{h.msg_id:04X} from {h.phone}: fragment index {idx} outside 1..{total}")
        prof = profile if profile is not None else self.profile
        if total == 1:
            if isinstance(packet.body, RawBody) and packet.body.reason == "fragment":
                return self._merge(packet, [_fragment_bytes(packet)], list(packet.problems), prof)
            return Packet(h.copy(frag_total=0, frag_sn=0), packet.body, packet.raw_body, list(packet.problems),
                          packet.tail)
        data = _fragment_bytes(packet)
        key = (h.phone, h.msg_id, total)
        self._check_conflict(h.phone, h.msg_id, total, h.msg_sn)
        s = self._sets.get(key)
        if s is None:
            done = self._done.get(key)
            if done is not None and now - done[0] <= self.window and done[1].get(idx) == hash(data):
                self.late_duplicates += 1
                return None
        else:
            if now - s.last_seen > self.window:
                self._supersede(key, s, f"no fragment for {now - s.last_seen:.0f} s")
                s = None
            else:
                old = s.frags.get(idx)
                if old is not None:
                    if _fragment_bytes(old) == data:
                        s.problems.append(f"duplicate fragment {idx}/{total} (serial {h.msg_sn}) ignored")
                        self._touch(key, s, now)
                        return None
                    if old.header.msg_sn == h.msg_sn:
                        raise ReassemblyError(f"0x{h.msg_id:04X} from {h.phone}: fragment {idx}/{total} serial "
                                              f"{h.msg_sn} arrived twice with different bytes")
                    self._supersede(key, s, f"fragment {idx} repeated with serial {h.msg_sn} and other bytes")
                    s = None
        budget = self.budget
        if budget is not None and budget.bytes + len(data) > budget.max_bytes:
            budget.refused += 1
            raise ReassemblyError(f"0x{h.msg_id:04X} from {h.phone}: fragments buffered in all reach "
                                  f"{budget.max_bytes} bytes (fragment refused)")
        if s is None:
            s = self._open(key, now)
        if s.nbytes + len(data) > self.max_bytes:
            self._remove(key, s)
            raise ReassemblyError(f"0x{h.msg_id:04X} from {h.phone}: fragment set exceeds {self.max_bytes} bytes "
                                  "(dropped)")
        s.frags[idx] = packet
        s.serials.add(h.msg_sn)
        s.nbytes += len(data)
        self._total += len(data)
        if budget is not None:
            budget.bytes += len(data)
        if packet.problems:
            s.problems.extend(f"fragment {idx}: {p}" for p in packet.problems)
        self._touch(key, s, now)
        if len(s.frags) < total:
            self._enforce_total(key)
            return None
        self._remove(key, s)
        self._remember(key, s, now)
        first = s.frags[1]
        return self._merge(first, [_fragment_bytes(s.frags[k]) for k in range(1, total + 1)], s.problems, prof)

    def expire(self, now: float) -> list[Incomplete]:
        """Sets idle for more than ``timeout`` seconds: each is reported (``attempts`` counts the reports)
        and its idle clock restarts; after ``retries`` reports it is dropped (``dropped`` True). Sets dropped
        for other reasons since the last call (superseded, evicted) are included."""
        out, self._dropped = self._dropped, []
        for key, s in list(self._sets.items()):
            if now - s.last_seen <= self.timeout:
                continue
            s.attempts += 1
            rep = self._report(key, s)
            if s.attempts > self.retries:
                rep.dropped = True
                self._remove(key, s)
            else:
                s.last_seen = now
            out.append(rep)
        return out

    def next_deadline(self) -> float | None:
        """The earliest ``now`` at which :meth:`expire` will have something to report (for a timer)."""
        if self._dropped:
            return float("-inf")
        if not self._sets:
            return None
        return min(s.last_seen for s in self._sets.values()) + self.timeout

    # -- internals -------------------------------------------------------------------------------
    def _merge(self, first: Packet, parts: list[bytes], problems: list[str], prof: Profile) -> Packet:
        h = first.header
        data = b"".join(parts)
        header = h.copy(frag_total=0, frag_sn=0, length=len(data))
        problems = list(problems)
        if h.encrypt & 1:
            if prof.rsa_private_key is None:
                problems.append("RSA-encrypted body and no private key in the profile: kept raw")
                return Packet(header, RawBody(data, "encrypted"), data, problems)
            from jt808.protocol.crypto import rsa_decrypt

            data = rsa_decrypt(prof.rsa_private_key, data)
        body, tail, version = decode_body(h.msg_id, h.version, data, prof, strict=self.strict, problems=problems)
        header.version = version
        return Packet(header, body, data, problems, tail)

    def _remember(self, key: SetKey, s: _Set, now: float) -> None:
        done = self._done
        done.pop(key, None)
        done[key] = (now, {k: hash(_fragment_bytes(p)) for k, p in s.frags.items()})
        while len(done) > self.max_sets:
            del done[next(iter(done))]

    def _open(self, key: SetKey, now: float) -> _Set:
        while len(self._sets) >= self.max_sets:
            old_key = next(iter(self._sets))
            self._evict(old_key)
        budget = self.budget
        if budget is not None:
            if budget.sets >= budget.max_sets:
                budget.refused += 1
                raise ReassemblyError(f"0x{key[1]:04X} from {key[0]}: {budget.max_sets} fragment sets open in all "
                                      "(fragment refused)")
            budget.sets += 1
        s = self._sets[key] = _Set(now)
        self._by_pm.setdefault((key[0], key[1]), set()).add(key[2])
        return s

    def _touch(self, key: SetKey, s: _Set, now: float) -> None:
        s.last_seen = max(s.last_seen, now)
        # move to the end: the dict's order is least recently active first
        del self._sets[key]
        self._sets[key] = s

    def _enforce_total(self, keep: SetKey) -> None:
        while self._total > self.max_total_bytes:
            victim = next((k for k in self._sets if k != keep), None)
            if victim is None:
                s = self._sets[keep]
                self._remove(keep, s)
                raise ReassemblyError(f"fragment sets exceed {self.max_total_bytes} bytes in all (set dropped)")
            self._evict(victim)

    def _evict(self, key: SetKey) -> None:
        s = self._sets[key]
        rep = self._report(key, s)
        rep.dropped, rep.reason = True, "evicted"
        self._dropped.append(rep)
        self._remove(key, s)

    def _supersede(self, key: SetKey, s: _Set, why: str) -> None:
        rep = self._report(key, s)
        rep.dropped, rep.reason = True, "superseded"
        self._dropped.append(rep)
        self._remove(key, s)

    def _remove(self, key: SetKey, s: _Set) -> None:
        if self._sets.pop(key, None) is not None and self.budget is not None:
            self.budget.sets -= 1
            self.budget.bytes -= s.nbytes
        self._total -= s.nbytes
        totals = self._by_pm.get((key[0], key[1]))
        if totals is not None:
            totals.discard(key[2])
            if not totals:
                del self._by_pm[(key[0], key[1])]

    def _check_conflict(self, phone: str, msg_id: int, total: int, sn: int) -> None:
        for other in self._by_pm.get((phone, msg_id), ()):
            if other != total and sn in self._sets[(phone, msg_id, other)].serials:
                raise ReassemblyError(f"0x{msg_id:04X} from {phone}: serial {sn} belongs to a set of {other} "
                                      f"fragments and now claims {total}")

    def _report(self, key: SetKey, s: _Set) -> Incomplete:
        missing = Missing(key[2], s.frags)
        first = s.frags.get(1)
        if first is not None:
            first_sn, known = first.header.msg_sn, True
        else:
            k, p = min(s.frags.items())
            first_sn, known = (p.header.msg_sn - (k - 1)) & 0xFFFF, False
        any_frag = next(iter(s.frags.values()))
        media_id = None
        if key[1] == 0x0801 and first is not None and not first.header.encrypt & 1:
            head = _fragment_bytes(first)
            if len(head) >= 4:
                media_id = int.from_bytes(head[:4], "big")
        return Incomplete(key, first_sn, known, missing, len(s.frags), any_frag.header.version,
                          attempts=max(s.attempts, 1), media_id=media_id)
