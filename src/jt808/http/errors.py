"""One error object for every answer of the HTTP API that is not a success::

    {"error": "terminal_offline", "message": "terminal 013912345678 is not connected", "detail": null}

``error`` is a stable code from :data:`ERRORS` (the table docs/gateway.md lists), ``message`` one line for
people, ``detail`` whatever helps a program (the invalid fields, the terminal's reply …) or null.

For route authors (every endpoint of the gateway, the console's and the alarms' included)::

    from jt808.http.errors import ApiError, error_response

    raise ApiError("unknown_terminal", f"terminal {phone} is not registered")   # status from ERRORS
    return error_response("bad_time", "start: 'x' is neither ISO 8601 nor Unix seconds", detail={...})

:func:`install` makes FastAPI's own errors (validation, 404 of unknown routes, 405 …) and any
unexpected exception (500, logged) answer with the same object.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ERRORS", "ApiError", "ErrorBody", "error_response", "install", "responses"]

log = logging.getLogger("jt808.http")

#: code -> (HTTP status, what it means, Markdown). One place: the API, its OpenAPI document and docs/gateway.md.
ERRORS: dict[str, tuple[int, str]] = {
    "bad_request": (400, "A query parameter, path parameter or body is invalid (`detail` lists the fields)."),
    "bad_json": (400, "The body is not JSON, or nested deeper than the API accepts."),
    "bad_command": (400, "The command does not encode: unknown or uplink message id, a missing, ill-typed or "
                         "out-of-range field (`detail.field` names it)."),
    "bad_phone": (400, "The `{phone}` is no terminal phone (1 to 20 digits; `13912345678`, `013912345678` and "
                       "`00000000013912345678` name the same terminal)."),
    "bad_time": (400, "`start` / `end` is neither ISO 8601 nor Unix seconds, or out of range."),
    "unauthorized": (401, "The bearer token is missing or wrong."),
    "not_found": (404, "No such route."),
    "unknown_terminal": (404, "The terminal is neither registered nor connected."),
    "terminal_offline": (404, "The terminal holds no connection to any node or worker."),
    "unknown_alarm": (404, "No alarm has this id."),
    "unknown_attachment": (404, "No alarm attachment has this id (or its file is gone)."),
    "method_not_allowed": (405, "The route does not take this method."),
    "command_failed": (409, "The terminal answered with a failure result (`detail.result`, `detail.reply`)."),
    "payload_too_large": (413, "The body is larger than the API accepts."),
    "queue_full": (429, "The terminal's downlink queue is full; try again later."),
    "internal": (500, "A bug: the gateway logged it with a traceback."),
    "storage_unavailable": (503, "The storage cannot be read or written now (outage); retry later."),
    "reply_timeout": (504, "The command was sent (and retried) and the terminal did not answer in time."),
    "no_stream": (404, "No live stream of this terminal channel (video)."),
    "camera_refused": (409, "The terminal refused 0x9101 (a channel it does not have, busy …)."),
    "stream_stopped": (502, "The live stream stopped before the first key frame."),
    "video_disabled": (503, "Live video is not available on this node (PyAV missing, media port taken, or off)."),
    "stream_timeout": (504, "The terminal accepted 0x9101 but sent no key frame within video.start_timeout."),
}


class ErrorBody(BaseModel):
    """The error object (the schema of every non-2xx answer)."""

    error: str = Field(description="Stable error code (see the table in the API description).",
                       examples=["terminal_offline"])
    message: str = Field(description="One line for people.", examples=["terminal 013912345678 is not connected"])
    detail: Any = Field(default=None, description="Machine-readable detail (invalid fields, the terminal's reply "
                                                  "…) or null.")


class ApiError(Exception):
    """Raise from a route: answered as the error object with the status of ``code`` in :data:`ERRORS`
    (or ``status``)."""

    def __init__(self, code: str, message: str, detail: Any = None, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status or ERRORS.get(code, (400, ""))[0]
        self.headers = headers


def error_response(code: str, message: str, detail: Any = None, *, status: int | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The error object as a response (status from :data:`ERRORS` unless given)."""
    return JSONResponse({"error": code, "message": message, "detail": detail},
                        status_code=status or ERRORS.get(code, (400, ""))[0], headers=headers)


def responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that can answer these error codes."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status, text = ERRORS[code]
        entry = out.setdefault(status, {"model": ErrorBody, "description": ""})
        entry["description"] = (entry["description"] + "; " if entry["description"] else "") + f"`{code}`: {text}"
    return out


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "unauthorized", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 503: "storage_unavailable"}


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _openapi(app: FastAPI) -> Any:
    """FastAPI's document without its 422 ``HTTPValidationError`` answers: invalid input is a 400 with the
    error object here (added to every operation that takes parameters or a body)."""
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                       routes=app.routes, tags=app.openapi_tags)
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            if op["responses"].pop("422", None) is not None and "400" not in op["responses"]:
                op["responses"]["400"] = {"description": f"`bad_request`: {ERRORS['bad_request'][1]}",
                                          "content": {"application/json": {"schema": ref}}}
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    app.openapi_schema = spec
    return spec


def install(app: FastAPI) -> None:
    """Answer FastAPI's and Starlette's own errors, and unexpected exceptions, with the error object; the
    OpenAPI document says so."""
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's way to extend its document

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.code, e.message, e.detail, status=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, e: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field(err.get("loc", ())), "problem": err.get("msg", "")} for err in e.errors()]
        first = fields[0] if fields else {"field": "?", "problem": "invalid"}
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        return error_response("bad_request", f"{first['field']}: {first['problem']}{more}", fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(e.status_code, "bad_request" if e.status_code < 500 else "internal")
        return error_response(code, str(e.detail), status=e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        from jt808.storage.base import StorageError

        if isinstance(e, StorageError):
            log.warning("%s %s: storage unavailable: %s", request.method, request.url.path, e)
            return error_response("storage_unavailable", f"storage unavailable: {e}")
        log.error("%s %s failed", request.method, request.url.path, exc_info=e)
        return error_response("internal", f"internal error ({type(e).__name__}); see the gateway's log")
