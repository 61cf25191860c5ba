"""Sans-I/O state machines: the platform side of a terminal connection (:mod:`~jt808.session.platform`),
the terminal side (:mod:`~jt808.session.terminal`) and the events they emit (:mod:`~jt808.session.events`).

What lives here: what a connection means — authentication state, serials, acknowledgements, replies,
sub-package reassembly and resend requests, timers driven by ``handle_timer(now)``. What never does:
sockets, the event loop, storage, logging, or any import but the protocol core and the standard library.
"""

from __future__ import annotations

from jt808.session.events import (
    Authenticated,
    AuthRequested,
    Event,
    FragmentsMissing,
    FrameRejected,
    IdleTimeout,
    LoggedOut,
    MessageReceived,
    MessageRefused,
    ReassemblyAbandoned,
    RegisterRequested,
)
from jt808.session.platform import ALLOWED, REPLY_IDS, PlatformSession, State

__all__ = [
    "ALLOWED",
    "REPLY_IDS",
    "AuthRequested",
    "Authenticated",
    "Event",
    "FragmentsMissing",
    "FrameRejected",
    "IdleTimeout",
    "LoggedOut",
    "MessageReceived",
    "MessageRefused",
    "PlatformSession",
    "ReassemblyAbandoned",
    "RegisterRequested",
    "State",
]
