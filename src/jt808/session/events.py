"""What a :class:`~jt808.session.platform.PlatformSession` tells its adapter.

Small slotted records (h11 style). Decisions that need storage or a policy leave the session as an
event and come back as a call: on :class:`RegisterRequested` the adapter calls
``accept_register(event, auth_code)`` or ``reject_register(event, result)``; on
:class:`AuthRequested` it calls ``accept_auth(event)`` or ``reject_auth(event)``. A frame that cannot
be used becomes a :class:`FrameRejected` event and the session goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jt808.errors import JT808Error
    from jt808.protocol.header import Header, Version
    from jt808.protocol.messages.location import LayoutValues
    from jt808.protocol.packet import Packet

__all__ = [
    "AuthRequested",
    "Authenticated",
    "Event",
    "FragmentsMissing",
    "FrameRejected",
    "IdleTimeout",
    "LocationValuesReceived",
    "LoggedOut",
    "MessageReceived",
    "MessageRefused",
    "ReassemblyAbandoned",
    "RegisterRequested",
]


class Event:
    """Base of session events: slotted dataclasses compared by identity, shown by this ``__repr__``."""

    __slots__ = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in getattr(self, "__slots__", ()))
        return f"{type(self).__name__}({fields})"


@dataclass(slots=True, eq=False, repr=False)
class FrameRejected(Event):
    """Bytes that could not be used: a broken frame (escape, check code, length, header) or a body
    that failed to decode. ``raw`` is the frame as received (flags included) for the log's hex dump;
    ``replied`` tells whether the session answered it (0x8001 result 2 when the header was readable)."""

    error: JT808Error
    raw: bytes
    replied: bool = False


@dataclass(slots=True, eq=False, repr=False)
class RegisterRequested(Event):
    """0x0100 arrived. Answer with ``accept_register(event, auth_code)`` or ``reject_register(event, result)``."""

    packet: Packet

    @property
    def phone(self) -> str:
        return self.packet.header.phone


@dataclass(slots=True, eq=False, repr=False)
class AuthRequested(Event):
    """0x0102 arrived. Answer with ``accept_auth(event)`` or ``reject_auth(event)``.

    ``alt_code``: the code read the other way when the frame has two readings (else empty): a 2011/2013
    frame whose XOR is zero and whose body-length field is one over the body is read as carrying its
    check code (``code``), but is also what the QuecPython client sends when its check code, zero, was
    written as one hex digit and lost: the code then ends with the frame's last byte. Either may be the
    issued code."""

    packet: Packet
    code: str
    imei: str = ""
    software_version: str = ""
    alt_code: str = ""

    @property
    def phone(self) -> str:
        return self.packet.header.phone


@dataclass(slots=True, eq=False, repr=False)
class Authenticated(Event):
    """The session is now authenticated (after ``accept_auth``, or implicitly in anonymous mode)."""

    phone: str
    version: Version
    anonymous: bool = False


@dataclass(slots=True, eq=False, repr=False)
class LoggedOut(Event):
    """0x0003 from an authenticated terminal: acknowledged; the session is back to unauthenticated.
    The adapter clears the registration."""

    packet: Packet


@dataclass(slots=True, eq=False, repr=False)
class MessageReceived(Event):
    """Any other uplink of an authenticated terminal (sub-packaged messages once reassembled,
    terminal replies to downlinks included). ``deferred`` is true when the session did not answer
    it because its id is in ``deferred_acks``: the adapter must call ``session.ack(packet, result)``."""

    packet: Packet
    deferred: bool = False


@dataclass(slots=True, eq=False, repr=False)
class LocationValuesReceived(Event):
    """A deferred 0x0200 read by the item layout remembered for its body length, given as its values instead of
    a :class:`MessageReceived` to a session made with ``location_values`` (an adapter that only stores
    locations). ``body`` is the body as received; ``values.report()`` is the report the decoders give for it.
    Always deferred: the adapter acknowledges it by ``header`` (``session.ack_many``)."""

    header: Header
    body: bytes
    values: LayoutValues


@dataclass(slots=True, eq=False, repr=False)
class MessageRefused(Event):
    """A message the session will not serve in its state (e.g. a location before authentication)."""

    header: Header
    reason: str


@dataclass(slots=True, eq=False, repr=False)
class FragmentsMissing(Event):
    """A sub-packaged message stalled: the session asked for ``missing`` fragment indexes
    (0x8800 for 0x0801 media, 0x8003 otherwise)."""

    msg_id: int
    seq: int
    missing: Sequence[int]


@dataclass(slots=True, eq=False, repr=False)
class ReassemblyAbandoned(Event):
    """A sub-packaged message was dropped after asking for its missing fragments too often."""

    msg_id: int
    seq: int
    missing: Sequence[int]


@dataclass(slots=True, eq=False, repr=False)
class IdleTimeout(Event):
    """Nothing arrived for ``idle`` seconds: the adapter closes the connection."""

    idle: float
