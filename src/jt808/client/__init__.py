"""The terminal SDK: the QuecPython JT/T 808 API (seed 001) on CPython, and its asyncio core.

- :class:`JTT808` — the seed's blocking client (same methods, arguments, return and callback dicts);
- :class:`AsyncTerminal` — the asyncio client underneath (many terminals per process, reconnection,
  heartbeat, store-and-forward, RSA);
- the seed's configuration classes: :class:`TerminalParams`, :class:`LocStatusConfig`,
  :class:`LocAlarmWarningConfig`, :class:`LocAdditionalInfoConfig`, and the enumerations
  :class:`LicensePlateColor`, :class:`ResultCode`, :data:`GENERAL_ANSWER_MSG_ID`;
- :class:`ReportStore` — the on-disk buffer of store-and-forward.

What lives here: the terminal side for applications — sockets, reconnection, the seed's API. What never
does: a codec or a parameter table of its own (messages, parameters and items come from
:mod:`jt808.protocol`; the state machine from :mod:`jt808.session.terminal`).
"""

from __future__ import annotations

from jt808.client.aio import AsyncTerminal, Status
from jt808.client.jt_message import (
    GENERAL_ANSWER_MSG_ID,
    LicensePlateColor,
    LocAdditionalInfoConfig,
    LocAlarmWarningConfig,
    LocStatusConfig,
    ResultCode,
    TerminalParams,
)
from jt808.client.store import ReportStore
from jt808.client.sync import JTT808

__all__ = [
    "GENERAL_ANSWER_MSG_ID",
    "JTT808",
    "AsyncTerminal",
    "LicensePlateColor",
    "LocAdditionalInfoConfig",
    "LocAlarmWarningConfig",
    "LocStatusConfig",
    "ReportStore",
    "ResultCode",
    "Status",
    "TerminalParams",
]
