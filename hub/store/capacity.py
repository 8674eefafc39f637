"""Who runs an account's capacity routing round right now (hub.services.capacity)."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId


class RoutingLease(Document):
    """One per account that uses capacity routing.

    `holder` runs the account's rounds until `until`; `wanted` counts the requests for a round, so
    the holder can tell that someone asked for another while it ran (see services.capacity).
    """

    id: PydanticObjectId
    """The account's id."""
    holder: str | None = None
    until: datetime | None = None
    wanted: int = 0

    class Settings:
        name = "routing_leases"
