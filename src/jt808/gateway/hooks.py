"""Who may register and authenticate: the built-in registry, anonymous mode, HTTP hooks.

- :class:`BuiltinRegistry` keeps terminals and their auth codes in the gateway's storage. With
  ``auto_register`` any terminal that sends 0x0100 is registered and gets a fresh, unguessable code
  (16 hex digits from :mod:`secrets`); without it only phones already present in storage
  (provisioned by an operator) are accepted, others get 0x8100 result 4 "terminal not in database".
  A phone that holds a code (registered, not released) is refused with result 3 "terminal already
  registered" and its record is left alone: knowing a phone number must not be enough to take a terminal
  over. The code is released by the terminal's own 0x0003 or by the operator (:meth:`AuthPolicy.release`,
  ``POST /api/v1/terminals/{phone}/reset``, ``jt808 terminal reset``); the next 0x0100 then gets a new
  code. Opt-in (``auth.reregister_match``): a re-registration whose stored fields (e.g. ``dev_id`` and
  ``license_number``) all match gets a *new* code. An existing code is never sent again (the gateway
  repeats a code only to the connection it was issued to, whose 0x8100 may have been lost).
  0x0102 is accepted only when the code equals the one stored for that phone (constant-time compare);
  an empty code, or a terminal that holds none, never authenticates.
- :class:`AnonymousPolicy`: every terminal is served, authenticated or not (the session serves
  messages before 0x0102 as if authenticated); 0x0100 still gets a code, 0x0102 always succeeds.
- :class:`HttpHooks`: an external registry/auth service, as EMQX's gateway has (``registry`` and
  ``authentication`` URLs), wire-compatible with services written for EMQX. The gateway POSTs JSON:

  registration  ``{"phone", "version", "province", "city", "manufacturer", "model", "dev_id",
  "color", "license_number"}`` (the 0x0100 body's keys plus phone, as EMQX sends) →
  ``200 {"code": 0, "authcode": "…"}`` (EMQX's answer; ``"result"`` / ``"auth_code"`` are accepted
  too) or ``{"code": 1..4}``; any other status or an unreachable service refuses with result 4
  (terminal not in database). A success without a code is refused as well.

  authentication ``{"phone", "code", "auth_code", "version", "imei", "software_version"}`` (EMQX
  sends ``phone`` and ``code``) → ``200`` allows, anything else denies.

  Codes granted by the hook are stored too, so ``GET /api/v1/terminals`` lists the terminals.
"""

from __future__ import annotations

import abc
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jt808.storage.base import Storage, TerminalRecord
from jt808.storage.cache import TerminalCache

__all__ = ["AnonymousPolicy", "AuthPolicy", "BuiltinRegistry", "HttpHooks", "Registration", "new_auth_code"]

log = logging.getLogger("jt808.gateway")

RESULT_TERMINAL_REGISTERED = 3
RESULT_TERMINAL_UNKNOWN = 4


def new_auth_code() -> str:
    """An unguessable, never empty, ASCII auth code (64 random bits as hex)."""
    return secrets.token_hex(8)


@dataclass(slots=True)
class Registration:
    """What a 0x0100 said, flattened."""

    phone: str
    version: int
    province: int = 0
    city: int = 0
    manufacturer: str = ""
    model: str = ""
    dev_id: str = ""
    color: int = 0
    license_number: str = ""

    @classmethod
    def from_body(cls, phone: str, version: int, body: Any) -> Registration:
        return cls(phone, version, getattr(body, "province", 0), getattr(body, "city", 0),
                   getattr(body, "manufacturer", ""), getattr(body, "model", ""), getattr(body, "dev_id", ""),
                   getattr(body, "color", 0), getattr(body, "license_number", ""))

    def to_json(self) -> dict[str, Any]:
        return {"phone": self.phone, "version": self.version, "province": self.province, "city": self.city,
                "manufacturer": self.manufacturer, "model": self.model, "dev_id": self.dev_id,
                "color": self.color, "license_number": self.license_number}

    def record(self, auth_code: str, existing: TerminalRecord | None = None) -> TerminalRecord:
        now = datetime.now(UTC)
        rec = existing or TerminalRecord(self.phone)
        rec.auth_code = auth_code
        rec.version = self.version
        rec.province, rec.city = self.province, self.city
        rec.manufacturer, rec.model, rec.dev_id = self.manufacturer, self.model, self.dev_id
        rec.color, rec.license_number = self.color, self.license_number
        rec.registered_at = rec.registered_at or now  # the first registration stays
        rec.last_registered_at = now
        return rec


class AuthPolicy(abc.ABC):
    """Decides registrations and authentications. ``anonymous`` policies let the session serve
    unauthenticated terminals."""

    anonymous = False
    name = "?"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @abc.abstractmethod
    async def register(self, reg: Registration) -> tuple[int, str]:
        """``(result, auth_code)``: result 0 with a non-empty code, or 1..4 (PROTOCOL.md §6.2)."""

    @abc.abstractmethod
    async def authenticate(self, phone: str, code: str, version: int, imei: str = "",
                           software_version: str = "") -> bool:
        """Whether ``code`` is the code issued to ``phone``."""

    def authenticate_now(self, phone: str, code: str, imei: str = "",
                         software_version: str = "") -> TerminalRecord | None:
        """The answer of :meth:`authenticate` when memory alone gives it: ``phone``'s record (not to be
        changed) when ``code`` is certainly accepted and nothing needs to be written; ``None`` when
        :meth:`authenticate` must be asked (a refusal is never decided here)."""
        return None

    async def logout(self, phone: str) -> None:
        """0x0003: the terminal's code is released (its record and history stay)."""
        await self.release(phone)

    async def release(self, phone: str) -> bool:
        """Forget ``phone``'s auth code: the next 0x0100 gets a new one, the old one no longer
        authenticates. False when no terminal is stored under ``phone``."""
        rec = await self.storage.get_terminal(phone)
        if rec is None:
            return False
        if rec.auth_code:
            rec.auth_code = ""
            await self.storage.save_terminal(rec)
        return True

    async def close(self) -> None:
        return None

    async def _remember_identity(self, rec: TerminalRecord | None, imei: str, software_version: str) -> None:
        if rec is not None and (imei or software_version) and (rec.imei, rec.software_version) != (
                imei, software_version):
            rec.imei, rec.software_version = imei or rec.imei, software_version or rec.software_version
            await self.storage.save_terminal(rec)


class BuiltinRegistry(AuthPolicy):
    name = "builtin"

    def __init__(self, storage: Storage, auto_register: bool = True, reregister_match: str = "") -> None:
        super().__init__(storage)
        self.auto_register = auto_register
        self.reregister_match = tuple(f.strip() for f in reregister_match.split(",") if f.strip())

    async def register(self, reg: Registration) -> tuple[int, str]:
        rec = await self.storage.get_terminal(reg.phone)
        if rec is not None and rec.auth_code and not self._matches(rec, reg):
            rec = await self._fresh(reg.phone, rec)  # refused on the store's copy only, not a cached one
        if rec is None and not self.auto_register:
            return RESULT_TERMINAL_UNKNOWN, ""
        if rec is not None and rec.auth_code and not self._matches(rec, reg):
            return RESULT_TERMINAL_REGISTERED, ""
        code = new_auth_code()
        await self.storage.save_terminal(reg.record(code, rec))
        return 0, code

    async def _fresh(self, phone: str, rec: TerminalRecord | None) -> TerminalRecord | None:
        """The store's record when ``rec`` came from a :class:`~jt808.storage.cache.TerminalCache`."""
        if isinstance(self.storage, TerminalCache) and self.storage.forget(phone):
            return await self.storage.get_terminal(phone)
        return rec

    def _matches(self, rec: TerminalRecord, reg: Registration) -> bool:
        """The opt-in re-registration rule: every configured field is set and equal (never by default)."""
        fields = self.reregister_match
        return bool(fields) and all(getattr(rec, f) not in ("", None) and getattr(rec, f) == getattr(reg, f)
                                    for f in fields)

    async def authenticate(self, phone: str, code: str, version: int, imei: str = "",
                           software_version: str = "") -> bool:
        rec = await self.storage.get_terminal(phone)
        ok = _code_matches(rec, code)
        if not ok and code:
            rec = await self._fresh(phone, rec)  # refused on the store's copy only, not a cached one
            ok = _code_matches(rec, code)
        if ok:
            await self._remember_identity(rec, imei, software_version)
        return ok


    def authenticate_now(self, phone: str, code: str, imei: str = "",
                         software_version: str = "") -> TerminalRecord | None:
        storage = self.storage
        rec = storage.peek(phone) if isinstance(storage, TerminalCache) else None
        if rec is None or not _code_matches(rec, code):
            return None  # not in memory, or a refusal: decided on the store's copy by authenticate()
        if (imei or software_version) and (rec.imei, rec.software_version) != (imei, software_version):
            return None  # a new identity to remember: a write
        return rec


def _code_matches(rec: TerminalRecord | None, code: str) -> bool:
    # surrogates: the decoder keeps bytes that are no text so (a wrong code, not an error)
    return rec is not None and bool(rec.auth_code) and bool(code) and hmac.compare_digest(
        rec.auth_code.encode("utf-8", "surrogatepass"), code.encode("utf-8", "surrogatepass"))


class AnonymousPolicy(BuiltinRegistry):
    name = "anonymous"
    anonymous = True

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage, auto_register=True)

    async def authenticate(self, phone: str, code: str, version: int, imei: str = "",
                           software_version: str = "") -> bool:
        return True


class HttpHooks(AuthPolicy):
    name = "http"

    def __init__(self, storage: Storage, registry_url: str = "", auth_url: str = "", timeout: float = 5.0,
                 fallback: AuthPolicy | None = None) -> None:
        super().__init__(storage)
        import httpx

        self.registry_url = registry_url
        self.auth_url = auth_url
        self.client = httpx.AsyncClient(timeout=timeout)
        # a hook left empty falls back to the built-in registry (no auto-registration)
        self.fallback = fallback or BuiltinRegistry(storage, auto_register=False)

    async def register(self, reg: Registration) -> tuple[int, str]:
        if not self.registry_url:
            return await self.fallback.register(reg)
        try:
            r = await self.client.post(self.registry_url, json=reg.to_json())
        except Exception as e:  # network errors of any kind: refuse, say why in the log
            log.warning("registry hook %s unreachable for %s: %s", self.registry_url, reg.phone, e)
            return RESULT_TERMINAL_UNKNOWN, ""
        if r.status_code != 200:
            log.info("registry hook refused %s: HTTP %d", reg.phone, r.status_code)
            return RESULT_TERMINAL_UNKNOWN, ""
        try:
            data = r.json()
        except ValueError:
            log.warning("registry hook answered %s with non-JSON", reg.phone)
            return RESULT_TERMINAL_UNKNOWN, ""
        result = data.get("code", data.get("result", 0)) if isinstance(data, dict) else 4
        code = ""
        if isinstance(data, dict):
            code = str(data.get("auth_code") or data.get("authcode") or "")
        if not isinstance(result, int) or not 0 <= result <= 255:
            result = RESULT_TERMINAL_UNKNOWN
        if result == 0 and not code:
            log.warning("registry hook accepted %s without an auth code: refused (an empty code breaks devices)",
                        reg.phone)
            return RESULT_TERMINAL_UNKNOWN, ""
        if result == 0:
            rec = await self.storage.get_terminal(reg.phone)
            await self.storage.save_terminal(reg.record(code, rec))
        return result, code

    async def authenticate(self, phone: str, code: str, version: int, imei: str = "",
                           software_version: str = "") -> bool:
        if not self.auth_url:
            return await self.fallback.authenticate(phone, code, version, imei, software_version)
        body = {"phone": phone, "code": code, "auth_code": code, "version": version, "imei": imei,
                "software_version": software_version}
        try:
            r = await self.client.post(self.auth_url, json=body)
        except Exception as e:
            log.warning("authentication hook %s unreachable for %s: %s", self.auth_url, phone, e)
            return False
        return r.status_code == 200

    def authenticate_now(self, phone: str, code: str, imei: str = "",
                         software_version: str = "") -> TerminalRecord | None:
        if self.auth_url:
            return None
        return self.fallback.authenticate_now(phone, code, imei, software_version)

    async def close(self) -> None:
        await self.client.aclose()
