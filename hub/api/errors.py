"""Every failure becomes a JSON body that says what is wrong; MongoDB outages become 503."""

from __future__ import annotations

import logging
import re
from enum import Enum
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from hub.jobs.spec import QueueUnavailable
from hub.services.errors import Busy, ServiceError
from hub.services.media import MediaUnavailable

log = logging.getLogger(__name__)

_AT_PATH = re.compile(r"at `\$\.([^`]+)`")
_NAMED_FIELD = re.compile(r"field `([^`]+)`")

DATABASE_DOWN = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    ExecutionTimeout,
    WTimeoutError,
)


class ValidationDetail(msgspec.Struct):
    message: str
    key: str | None = None
    """The parameter or body field, as a path (`text`, `media.0.url`)."""
    source: str | None = None
    """Where it was: body, query, path, header or cookie."""


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer's body."""

    error: str
    """What is wrong, for a person."""
    status_code: int
    """The HTTP status, repeated."""
    field: str | None = None
    """The request field, parameter or header at fault, when there is one."""
    code: str | None = None
    """A stable name for the error, where a client may act on it (for example `duplicate`)."""
    retry_after: int | None = None
    """Seconds to wait before trying again (429)."""
    details: list[ValidationDetail] | None = None
    """Every value that failed validation (400)."""


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def service_error(_: Request[Any, Any, Any], exc: ServiceError) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"error": exc.message, "status_code": exc.status_code}
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    if isinstance(exc, Busy):
        body["retry_after"] = exc.retry_after_s
        return _json(exc.status_code, body, headers={"Retry-After": str(exc.retry_after_s)})
    return _json(exc.status_code, body)


def database_down(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("MongoDB unavailable: %s", exc)
    return _json(
        503,
        {"error": "the database is unavailable; retry later", "status_code": 503},
        headers={"Retry-After": "5"},
    )


def media_unavailable(_: Request[Any, Any, Any], exc: MediaUnavailable) -> Response[dict[str, Any]]:
    return _json(503, {"error": str(exc), "status_code": 503}, headers={"Retry-After": "10"})


def queue_unavailable(_: Request[Any, Any, Any], exc: QueueUnavailable) -> Response[dict[str, Any]]:
    log.warning("job queue unavailable: %s", exc)
    return _json(
        503,
        {"error": "the job queue is unavailable; retry later", "status_code": 503},
        headers={"Retry-After": "5"},
    )


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"error": exc.detail, "status_code": exc.status_code}
    if isinstance(exc, ValidationException) and exc.extra:
        details = _details(exc.extra)
        if details:
            # The same shape as every other error: the first field at fault, and what is wrong with it.
            first = details[0]
            body["error"] = f"{exc.detail}: {first['message']}"
            if first.get("key"):
                body["field"] = first["key"]
            body["details"] = details
    return _json(exc.status_code, body, headers=exc.headers)


def _details(extra: Any) -> list[dict[str, Any]]:
    items = extra if isinstance(extra, list) else [extra]
    details = []
    for item in items:
        if isinstance(item, dict):
            detail = {"message": str(item.get("message", ""))}
            for name in ("key", "source"):
                value = item.get(name)
                if value is not None:
                    detail[name] = str(value.value if isinstance(value, Enum) else value)
            if detail.get("key") == "data":
                # Litestar names the whole body; msgspec's message names the field in it.
                found = _AT_PATH.search(detail["message"]) or _NAMED_FIELD.search(detail["message"])
                if found:
                    detail["key"] = found.group(1)
            details.append(detail)
        else:
            details.append({"message": str(item)})
    return details


def unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, DATABASE_DOWN):
        return database_down(_, exc)
    log.exception("unhandled error", exc_info=exc)
    return _json(500, {"error": "internal error", "status_code": 500})


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ServiceError: service_error,
    MediaUnavailable: media_unavailable,
    QueueUnavailable: queue_unavailable,
    HTTPException: http_error,
    **{cls: database_down for cls in DATABASE_DOWN},
    Exception: unexpected,
}
