"""The jt808 exception tree.

Every error the package raises on purpose is a :class:`JT808Error`::

    JT808Error
     ├─ FrameError(ValueError)        the bytes between two 0x7E flags are not a frame
     │   ├─ BadFlag                   missing start/end 0x7E
     │   ├─ BadEscape                 0x7D followed by something other than 0x01 / 0x02
     │   ├─ BadCheckCode              XOR check code mismatch (.expected, .actual)
     │   ├─ FrameTooLong              a frame longer than the configured maximum
     │   └─ BadLength                 header body-length field disagrees with the frame
     ├─ DecodeError(ValueError)       a frame that parses as a frame but not as a message
     │   ├─ HeaderError               truncated or inconsistent header
     │   ├─ TruncatedError            a field needs more bytes than the body has
     │   └─ BodyError                 a field holds a value the layout does not allow
     ├─ EncodeError(ValueError)       strict encoding refused a value (.field .value .reason)
     ├─ ReassemblyError               conflicting or overflowing sub-package sets
     ├─ CryptoError                   RSA body encryption failed (no key, bad block)
     ├─ SessionError                  a peer broke the flow (e.g. location before authentication)
     └─ ReplyTimeout(TimeoutError)    an awaited downlink reply never came

Decode errors carry ``msg_id``, ``version``, ``offset`` and ``field`` where they are known, and
:attr:`JT808Error.reply_result` gives the 0x8001 result code a platform should answer with
(2 = message error, 3 = unsupported), as h11's ``error_status_hint`` does for HTTP.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadCheckCode",
    "BadEscape",
    "BadFlag",
    "BadLength",
    "BodyError",
    "CryptoError",
    "DecodeError",
    "EncodeError",
    "FrameError",
    "FrameTooLong",
    "HeaderError",
    "JT808Error",
    "ReassemblyError",
    "ReplyTimeout",
    "SessionError",
    "TruncatedError",
]


class JT808Error(Exception):
    """Base of every error raised by jt808."""

    reply_result: int = 2  # 0x8001 result: message error
    #: The frame header when it could be read (a :class:`~jt808.protocol.header.Header`): a platform
    #: answers such a frame with 0x8001 ``reply_result`` quoting its serial and id instead of silence.
    header: Any = None


class FrameError(JT808Error, ValueError):
    """The bytes are not a well-formed JT/T 808 frame."""


class BadFlag(FrameError):
    """A frame does not start and end with 0x7E."""


class BadEscape(FrameError):
    """0x7D followed by a byte other than 0x01 or 0x02 (or a lone 0x7D at the end)."""

    def __init__(self, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.offset = offset


class BadCheckCode(FrameError):
    """The XOR check code of a frame does not match its content."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"check code mismatch: frame carries 0x{actual:02X}, content XORs to 0x{expected:02X}"
        )
        self.expected = expected
        self.actual = actual


class FrameTooLong(FrameError):
    """A frame (or the bytes buffered while looking for its end) exceeds the maximum length."""


class BadLength(FrameError):
    """The header's body-length field disagrees with the number of bytes in the frame."""


class DecodeError(JT808Error, ValueError):
    """A message could not be decoded. Knows where: ``msg_id``, ``version``, ``offset``, ``field``."""

    def __init__(
        self,
        reason: str,
        *,
        msg_id: int | None = None,
        version: Any = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.msg_id = msg_id
        self.version = version
        self.offset = offset
        self.field = field
        super().__init__(self._text())

    def _text(self) -> str:
        parts = []
        if self.msg_id is not None:
            parts.append(f"0x{self.msg_id:04X}")
        if self.version is not None:
            parts.append(f"v{int(self.version)}")
        if self.field:
            parts.append(f"field '{self.field}'")
        where = " ".join(parts)
        at = f" at offset {self.offset}" if self.offset is not None else ""
        return f"{where}{':' if where else ''} {self.reason}{at}".strip()

    def locate(self, *, msg_id: int | None = None, version: Any = None) -> DecodeError:
        """Fill in the message id / version once known (done at the body-codec boundary)."""
        if self.msg_id is None:
            self.msg_id = msg_id
        if self.version is None:
            self.version = version
        self.args = (self._text(),)
        return self


class HeaderError(DecodeError):
    """The header is truncated or inconsistent."""


class TruncatedError(DecodeError):
    """A field needs more bytes than the body holds."""


class BodyError(DecodeError):
    """A body field holds a value its layout does not allow."""


class EncodeError(JT808Error, ValueError):
    """Strict encoding refused a value: wrong width, out of range, not encodable in the charset."""

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None,
                 msg_id: int | None = None) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        self.msg_id = msg_id
        where = f"0x{msg_id:04X} " if msg_id is not None else ""
        what = f"field '{field}' " if field else ""
        super().__init__(f"{where}{what}{reason}".strip() + (f" (value {value!r})" if value is not None else ""))


class ReassemblyError(JT808Error):
    """Sub-packages that cannot belong to one message (conflicting totals, index out of range…)."""


class CryptoError(JT808Error):
    """RSA body encryption or decryption failed."""


class SessionError(JT808Error):
    """A peer broke the message flow (e.g. sent a location report before authenticating)."""


class ReplyTimeout(JT808Error, TimeoutError):
    """An awaited reply to a downlink message did not arrive in time."""

    reply_result = 1
