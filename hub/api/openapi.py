"""The OpenAPI document: credentials, and the errors every operation may answer.

Litestar documents what a handler returns; what the hub's exception handlers answer
(hub.api.errors) it cannot know. Every operation is therefore given, as `ResponseSpec`s, the
error answers its kind of handler can produce, all with the one error body, and the
authenticated ones the two ways to present credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
    SecurityScheme,
)

from hub.api.deps import SESSION_COOKIE
from hub.api.errors import ErrorBody

SESSION = "session"
BEARER = "bearer"
SCREEN_HEADER = "screenToken"
SCREEN_QUERY = "screenTokenQuery"

AGENT_SECURITY: list[dict[str, list[str]]] = [{SESSION: []}, {BEARER: []}]
"""An agent's session (the cookie set by login) or a bearer token (the login's token, or an API token)."""
SCREEN_SECURITY: list[dict[str, list[str]]] = [{SCREEN_HEADER: []}, {SCREEN_QUERY: []}]
"""A screen's read-only link token."""

SECURITY_SCHEMES: dict[str, Any] = {
    SESSION: SecurityScheme(
        type="apiKey",
        name=SESSION_COOKIE,
        security_scheme_in="cookie",
        description="The session cookie `POST /api/auth/login` sets.",
    ),
    BEARER: SecurityScheme(
        type="http",
        scheme="bearer",
        description="`Authorization: Bearer <token>`: the token login returns, or an API token "
        "(`POST /api/tokens`, `hub create-token`).",
    ),
    SCREEN_HEADER: SecurityScheme(
        type="apiKey",
        name="X-Screen-Token",
        security_scheme_in="header",
        description="A screen's link token (`POST /api/displays/{display_id}/link`).",
    ),
    SCREEN_QUERY: SecurityScheme(
        type="apiKey",
        name="token",
        security_scheme_in="query",
        description="A screen's link token, in the URL (as the screen page uses it).",
    ),
}

ERRORS: dict[int, str] = {
    400: "The request is malformed: a parameter or the body does not match this document "
    "(`field` names the first one, `details` lists them), or the login is wrong.",
    401: "No credentials, or the session or token is expired, revoked or unknown.",
    403: "The credentials do not allow this: an agent where an admin is needed, a token limited "
    "to other numbers, or a webhook whose signature is missing, wrong or stale.",
    404: "No such record in the caller's account (another account's records answer the same).",
    409: "The request conflicts with the record's state (a duplicate, or a record not in the right state).",
    415: "The body is not sent with the Content-Type this operation takes.",
    422: "The request is well-formed but a value is not acceptable; `field` names it.",
    429: "Too many failed attempts; `retry_after` says when to try again.",
    503: "The database (or a media source) is unavailable: retry after `Retry-After` seconds.",
}

WEBHOOK_ERRORS = (403, 415, 422)
AUTHENTICATED_ERRORS = (401, 403, 404, 422)
WRITE_ERRORS = (409,)
CONNECTION_KWARGS = {"request", "state", "scope", "headers", "cookies", "query", "socket"}
"""Handler arguments Litestar fills from the connection itself: not input a caller can get wrong."""


def documented_body(media_type: str, model: type[msgspec.Struct]) -> type[Operation]:
    """An operation class that documents `model` as the request body.

    Litestar documents a body it parses (a handler's `data`); a webhook must check the signature
    of the raw bytes first, so it reads the body itself and declares it with this instead. The
    schema is written inline: Litestar replaces the configured component schemas with its own.
    """
    document = msgspec.json.schema(model)
    schema = _schema(document, document.get("$defs", {}))

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={media_type: OpenAPIMediaType(schema=schema)}, required=True
            )

    return WithBody


def _schema(doc: dict[str, Any], defs: dict[str, Any]) -> Schema:
    """A Litestar schema object from a JSON Schema (msgspec's) document, references inlined."""
    if "$ref" in doc:
        return _schema(defs[doc["$ref"].rsplit("/", 1)[-1]], defs)
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "$defs":
            continue
        if key == "properties":
            value = {name: _schema(item, defs) for name, item in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = _schema(value, defs)
        elif key in ("anyOf", "oneOf", "allOf"):
            value = [_schema(item, defs) for item in value]
        fields[re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()] = value
    return Schema(**fields)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="SMS hub",
        version="0.1.0",
        path="/schema",
        components=Components(security_schemes=SECURITY_SCHEMES),
    )


def error_responses(codes: Iterable[int]) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(data_container=ErrorBody, description=ERRORS[code], generate_examples=False)
        for code in sorted(set(codes))
    }


def _handlers(app: Litestar) -> Iterable[HTTPRouteHandler]:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.include_in_schema:
                yield handler


def document(app: Litestar) -> None:
    """Declare each operation's error answers and credentials (before the schema is first built).

    A handler's own `responses` win over these: `/health` describes its own 503, login its 429.
    """
    for handler in _handlers(app):
        codes = {400, 503}
        # Read from the layers, not resolve_security(): that caches its answer.
        secured = any(getattr(layer, "security", None) for layer in handler.ownership_layers)
        if "principal" in handler.resolve_dependencies():
            codes.update(AUTHENTICATED_ERRORS)
            if handler.http_methods - {"GET", "HEAD"}:
                codes.update(WRITE_ERRORS)
            if not secured:
                handler.security = AGENT_SECURITY
        elif secured:
            codes.add(404)  # a screen's token: an unknown token, or what the screen does not show
        inputs = set(handler.parsed_fn_signature.parameters) - set(handler.resolve_dependencies())
        if inputs - CONNECTION_KWARGS:
            codes.add(422)  # the services judge the values of parameters and bodies
        if "webhooks" in handler.resolve_tags():
            codes.update(WEBHOOK_ERRORS)
        handler.responses = {**error_responses(codes), **(handler.responses or {})}


def documented_query(parameters: dict[str, str], required: Iterable[str] = ()) -> type[Operation]:
    """An operation class that documents query parameters (name → description) its handler reads
    itself, from the raw query string (a gateway's parameters may hold bytes that are not UTF-8)."""
    needed = set(required)
    spec = [
        Parameter(
            name=name,
            param_in=ParamType.QUERY,
            description=text,
            required=name in needed,
            schema=Schema(type=OpenAPIType.STRING),
        )
        for name, text in parameters.items()
    ]

    @dataclass
    class WithQuery(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *spec]

    return WithQuery
