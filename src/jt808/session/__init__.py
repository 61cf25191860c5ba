"""Sans-I/O state machines: the platform side of a terminal connection (and its events)."""

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
