"""Every failure becomes a JSON body that says what is wrong; MongoDB outages become 503."""

from __future__ import annotations

import logging
from typing import Any

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

from hub.services.errors import ServiceError
from hub.services.media import MediaUnavailable

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    ExecutionTimeout,
    WTimeoutError,
)


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def service_error(_: Request[Any, Any, Any], exc: ServiceError) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"error": exc.message, "status_code": exc.status_code}
    body.update({k: v for k, v in exc.extra.items() if v is not None})
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


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"error": exc.detail, "status_code": exc.status_code}
    if isinstance(exc, ValidationException) and exc.extra:
        body["details"] = exc.extra
    return _json(exc.status_code, body, headers=exc.headers)


def unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, DATABASE_DOWN):
        return database_down(_, exc)
    log.exception("unhandled error", exc_info=exc)
    return _json(500, {"error": "internal error", "status_code": 500})


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ServiceError: service_error,
    MediaUnavailable: media_unavailable,
    HTTPException: http_error,
    **{cls: database_down for cls in DATABASE_DOWN},
    Exception: unexpected,
}
