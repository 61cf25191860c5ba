"""Path parameters shared by every route of the HTTP API (the gateway's, the console's, the video's)."""

from __future__ import annotations

from jt808.http.errors import ApiError
from jt808.protocol.header import canonical_phone

__all__ = ["phone_path"]


def phone_path(phone: str) -> str:
    """FastAPI dependency: the ``{phone}`` path parameter in its canonical form, or 400 ``bad_phone``. Every
    route with a phone takes it this way: ``phone: str = Depends(phone_path)`` (``13912345678``,
    ``013912345678`` and ``00000000013912345678`` name one terminal: docs/dialects.md)."""
    try:
        return canonical_phone(phone)
    except ValueError as e:
        raise ApiError("bad_phone", str(e)) from None
