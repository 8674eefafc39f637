"""A hub whose jobs stay queued: campaign batches are run by the test, at the time it names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.settings import Settings
from hub.store.numbers import Number
from workers.run import open_hub


@pytest.fixture
async def quiet_hub(settings: Settings) -> AsyncIterator[HubContext]:
    async with open_hub(settings, start_local_worker=False) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(settings.mongo.database)


async def add_number(
    e164: str, kind: NumberType, account_id: PydanticObjectId | None = None, **kw: object
) -> Number:
    fields: dict[str, object] = {"provider": "simulator", **kw}
    number = Number(account_id=account_id, e164=e164, type=kind, **fields)  # type: ignore[arg-type]
    await number.insert()
    return number
