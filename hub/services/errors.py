"""Errors services raise; the API layer turns each into a 4xx/503 with a JSON body."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(ServiceError):
    status_code = 404


class Invalid(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


class Forbidden(ServiceError):
    status_code = 403


class Unavailable(ServiceError):
    status_code = 503


class Busy(Unavailable):
    """More is waiting than the hub takes on: the caller should come back after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int, **extra: object) -> None:
        super().__init__(message, **extra)
        self.retry_after_s = retry_after_s
