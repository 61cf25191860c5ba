"""Schemas of the HTTP API's bodies and answers.

The answers are pydantic models. The command body is generated from the message definitions
(:mod:`jt808.protocol.spec` declarations in the registry): one alternative per platform message id,
told apart by ``header.msg_id`` (a ``const``), its body's fields with their JSON types and ranges, and an
example built from the message class — so a message added to the registry appears here by itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CommandReply",
    "Health",
    "LocationList",
    "ResetAnswer", "ResetRequest",
    "Terminal",
    "TerminalList",
    "command_request_body",
    "command_schema",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Session(_Open):
    """The live connection of a terminal held by this process."""

    phone: str
    transport: str = Field(description="tcp or udp")
    peer: str
    version: int
    authenticated: bool
    connected_at: float = Field(description="Unix seconds")
    last_seen: float = Field(description="Unix seconds of the last frame received")
    rx_frames: int
    tx_frames: int
    rx_bytes: int
    rejected: int


class Terminal(_Open):
    """A terminal: its registration (0x0100) when it has one, and whether it is online anywhere."""

    phone: str = Field(examples=["013912345678"])
    online: bool
    version: int | None = Field(None, description="Protocol version: 2011, 2013 or 2019")
    province: int | None = None
    city: int | None = None
    manufacturer: str | None = None
    model: str | None = None
    dev_id: str | None = None
    color: int | None = None
    license_number: str | None = None
    imei: str | None = None
    software_version: str | None = None
    registered_at: str | None = Field(None, description="First registration (ISO 8601)")
    last_registered_at: str | None = Field(None, description="Latest registration (ISO 8601)")
    last_seen: str | None = Field(None, description="Last frame received (ISO 8601)")
    session: Session | None = None


class TerminalList(BaseModel):
    terminals: list[Terminal]
    count: int = Field(description="Items in this page")
    total: int = Field(description="Registered terminals in all")
    limit: int
    offset: int


class Location(_Open):
    time: str | None = Field(description="Device time (ISO 8601, UTC)")
    received_at: str | None
    latitude: float
    longitude: float
    altitude: int
    speed: float = Field(description="km/h")
    direction: int
    alarm: int
    status: int
    msg_id: int
    msg_sn: int
    batch: bool
    extras: dict[str, Any] | None


class LocationList(BaseModel):
    phone: str
    count: int = Field(description="Items in this answer")
    total: int = Field(description="Stored positions in the range")
    locations: list[Location]


class QuarantinedRow(BaseModel):
    id: int | None
    phone: str
    kind: str = Field(description='"location" or "event"')
    msg_id: int
    msg_sn: int
    received_at: str | None
    quarantined_at: str | None
    error: str = Field(description="Why the database refused the row")
    row: dict[str, Any] = Field(description="The row as it was to be stored (strings escaped)")
    frame: str | None = Field(description="The frame it came from, hex (give it to `jt808 decode`)")


class QuarantineList(BaseModel):
    count: int
    rows: list[QuarantinedRow]


class CommandReply(BaseModel):
    reply: dict[str, Any] | None = Field(description="The terminal's answer as seed-004 JSON (null when the "
                                                     "command expects none or `wait=false`)")


class ResetRequest(BaseModel):
    reason: str = Field("", max_length=500, description="Why (written to the gateway's log)",
                        examples=["device replaced"])


class ResetAnswer(BaseModel):
    phone: str
    reset: bool = Field(description="A registration was released")
    disconnected: bool = Field(description="A connection was closed (on any worker)")


class Health(BaseModel):
    status: str = Field(description="ok or degraded")
    problems: dict[str, str] = Field(description="Dependency -> why it is unhealthy")
    online_terminals: int
    connections: int
    workers: int


# -- the command body, from the message definitions ----------------------------------------------------
def _kind_schema(kind: Any, version: Any) -> dict[str, Any]:
    from jt808.protocol import spec

    if isinstance(kind, spec.by_version):
        kind = kind.for_version(version)
    if isinstance(kind, spec._Int):
        return {"type": "integer", "minimum": kind.lo, "maximum": kind.hi}
    if isinstance(kind, spec._Bcd):
        return {"type": "string", "pattern": f"^[0-9]{{0,{2 * kind.size}}}$",
                "description": f"BCD, up to {2 * kind.size} digits"}
    if isinstance(kind, spec._Bytes):
        return {"type": "string", "contentEncoding": "base64", "description": f"base64 of up to {kind.size} bytes"}
    if isinstance(kind, spec._BytesRest | spec._BytesLen):
        return {"type": "string", "contentEncoding": "base64"}
    if isinstance(kind, spec._Str):
        return {"type": "string", "description": f"at most {kind.size} bytes (GBK)"}
    if isinstance(kind, spec._StrRest | spec._StrLen):
        return {"type": "string"}
    if isinstance(kind, spec._List):
        item = kind.item
        items = _record_schema(item, version) if hasattr(item, "__wire__") else _kind_schema(item, version)
        return {"type": "array", "items": items}
    return {}


def _record_schema(cls: type, version: Any) -> dict[str, Any]:
    from jt808.protocol import spec

    props: dict[str, Any] = {}
    required: list[str] = []
    for s in cls.__wire__:  # type: ignore[attr-defined]  # set by @record/@message
        if not s.active(version):
            continue
        k = s.kind_for(version)
        sch = _kind_schema(k, version)
        if s.doc:
            sch["description"] = (s.doc + (f" ({sch['description']})" if "description" in sch else ""))
        props[s.key] = sch
        if s.when is None:
            required.append(s.key)
        if isinstance(k, spec._List) and k.count_key:
            props[k.count_key] = {"type": "integer", "minimum": 0, "description": f"items in `{s.key}` (optional)"}
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    custom = cls.to_json is not spec.Record.to_json  # type: ignore[attr-defined]  # cls: a Record class
    if custom:
        out["additionalProperties"] = True
    return out


def _title(cls: type) -> str:
    doc = (cls.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else cls.__name__


@cache
def command_schema() -> dict[str, Any]:
    """The JSON Schema of a command body: ``oneOf`` one alternative per platform message id."""
    from jt808.gateway.commands import is_platform_id
    from jt808.protocol.header import V2013
    from jt808.protocol.registry import DEFAULT_MESSAGES

    variants: list[dict[str, Any]] = []
    for mid in DEFAULT_MESSAGES.ids():
        if not is_platform_id(mid):
            continue
        classes: dict[type, list[Any]] = {}
        for v in DEFAULT_MESSAGES.versions_of(mid):
            cls = DEFAULT_MESSAGES.get(mid, v)
            if cls is not None:
                classes.setdefault(cls, []).append(v)
        bodies = []
        example: dict[str, Any] | None = None
        for cls, versions in classes.items():
            version = V2013 if V2013 in versions else versions[-1]
            sch = _record_schema(cls, version)
            sch["title"] = f"{cls.__name__} ({', '.join(str(int(v)) for v in versions)})"
            bodies.append(sch)
            if example is None:
                try:
                    example = cls().to_json(version)
                except Exception:
                    example = {}
        first = next(iter(classes))
        variants.append({
            "title": f"0x{mid:04X} {_title(first)}",
            "type": "object",
            "required": ["header"],
            "properties": {
                "header": {"type": "object", "required": ["msg_id"],
                           "properties": {"msg_id": {"const": mid, "description": f"0x{mid:04X}"},
                                          "encrypt": {"type": "integer", "enum": [0, 1],
                                                      "description": "1: RSA-encrypt the body"},
                                          "proto_ver": {"type": "integer", "minimum": 0, "maximum": 255,
                                                        "description": "Present: the 2019 layout"}}},
                "body": bodies[0] if len(bodies) == 1 else {"anyOf": bodies,
                                                            "description": "The layout depends on the "
                                                                           "terminal's protocol version."},
            },
            "example": {"header": {"msg_id": mid}, "body": example or {}},
        })
    return {"title": "Command", "description": "A platform message as seed-004 JSON; `header.msg_id` picks the "
            "body layout (one alternative per id).", "oneOf": variants}


def command_request_body() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of the command route, with examples."""
    schema = command_schema()
    examples = {
        "query_parameters": {"summary": "0x8104 query every parameter", "value": {"header": {"msg_id": 0x8104}}},
        "text": {"summary": "0x8300 text to the driver's display",
                 "value": {"header": {"msg_id": 0x8300}, "body": {"flag": 8, "text": "Please call the office"}}},
        "set_parameters": {"summary": "0x8103 heartbeat interval 30 s and the main server address",
                           "value": {"header": {"msg_id": 0x8103},
                                     "body": {"params": [{"id": 1, "value": 30},
                                                         {"id": 19, "value": "gw.example.com"}]}}},
        "locate": {"summary": "0x8201 ask for the position now", "value": {"header": {"msg_id": 0x8201}}},
    }
    return {"required": True, "description": "The command as seed-004 JSON.",
            "content": {"application/json": {"schema": schema, "examples": examples}}}
