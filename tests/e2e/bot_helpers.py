"""Helpers for the chatbot tests: tokens, a bot running the example FAQ handler, a counting loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import ModuleType

from beanie import PydanticObjectId

from hub.services import auth
from hub.tasks import cancel_and_wait
from hubclient import BotClient, ConversationUpdated, MessageCreated
from tests.conftest import ROOT


def faq_bot() -> ModuleType:
    """examples/faq_bot.py, imported as the module users run."""
    name = "examples_faq_bot"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "faq_bot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def bot_token(account_id: str, name: str = "FAQ bot", numbers: list[str] | None = None) -> str:
    _, token = await auth.create_api_token(PydanticObjectId(account_id), name, None, numbers or [])
    return token


@dataclass
class RunningBot:
    client: BotClient
    handled: Counter[str] = field(default_factory=Counter)
    """Inbound message id → how many times the handler ran for it."""
    texts: dict[str, str] = field(default_factory=dict)
    conversations: set[str] = field(default_factory=set)
    updates: list[ConversationUpdated] = field(default_factory=list)
    arrived: asyncio.Queue[MessageCreated] = field(default_factory=asyncio.Queue)


@contextlib.asynccontextmanager
async def running_bot(
    url: str, token: str, *, answer: bool = True, delay: float = 0.0, **kwargs: object
) -> AsyncIterator[RunningBot]:
    """A BotClient whose loop runs the example's handler (or only counts) for every event."""
    client = BotClient(url, token, **kwargs)  # type: ignore[arg-type]
    bot = RunningBot(client)
    module = faq_bot()

    async def loop() -> None:
        async for event in client:
            if isinstance(event, MessageCreated):
                bot.handled[event.data.id] += 1
                if delay:
                    await asyncio.sleep(delay)
                bot.texts[event.data.id] = event.data.text
                bot.conversations.add(event.data.conversation_id)
                if answer:
                    await module.handle(client, event)
                await bot.arrived.put(event)
            elif isinstance(event, ConversationUpdated):
                bot.updates.append(event)

    async with client:
        task = asyncio.create_task(loop())
        try:
            async with asyncio.timeout(15):
                await client.wait_connected()
            yield bot
        finally:
            try:
                await cancel_and_wait(task)
            except Exception as exc:
                raise AssertionError("the bot's loop failed") from exc
