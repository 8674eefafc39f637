"""An FAQ bot for the SMS hub: answers by keyword, hands the conversation to a human on AGENT.

    python examples/faq_bot.py --url ws://127.0.0.1:8000 --token hub_...

It answers texts containing GODZINY (opening hours) or CENA (prices); AGENT hands the
conversation over to a human (pending in the inbox, and the bot stops receiving it until an agent
hands it back); anything else gets the menu. Replies carry a client id made from the message they
answer, so an event delivered again after a crash is never answered twice.

It survives any outage of the hub: the SDK reconnects by itself and keeps a reply waiting until the
hub takes it, and a reply the hub refuses (say, a conversation deleted meanwhile) is logged, not
fatal. Only a revoked token stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import unicodedata

from hubclient import BotClient, HubError, MessageCreated, NotAuthenticated, Reset

ANSWERS: dict[str, str] = {
    "GODZINY": "Jesteśmy otwarci pon.-pt. 9:00-17:00, sob. 10:00-14:00.",
    "CENA": "Cennik: konsultacja 100 zł, pakiet miesięczny 300 zł.",
}
MENU = "Napisz GODZINY (godziny otwarcia), CENA (cennik) albo AGENT (rozmowa z konsultantem)."
HANDOVER_REPLY = "Łączę z konsultantem, odpisze najszybciej jak to możliwe."
HANDOVER_WORD = "AGENT"

log = logging.getLogger("faq_bot")


def words(text: str) -> set[str]:
    """The words of a text, upper-cased and without diacritics (so 'cena', 'Cenę?' match CENA)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    return set("".join(c if c.isalnum() else " " for c in plain).split())


def answer(text: str) -> str | None:
    """The FAQ answer for a text; None means hand over to a human."""
    found = words(text)
    if HANDOVER_WORD in found:
        return None
    for keyword, reply in ANSWERS.items():
        if keyword in found:
            return reply
    return MENU


async def handle(bot: BotClient, event: MessageCreated) -> None:
    message = event.data
    conversation = message.conversation_id
    reply = answer(message.text)
    if reply is None:
        await bot.reply(conversation, HANDOVER_REPLY, client_id=f"faq:{message.id}")
        await bot.handover(conversation, note=f"the customer asked for a person: {message.text[:200]}")
        log.info("handed %s over to a human", conversation)
        return
    await bot.reply(conversation, reply, client_id=f"faq:{message.id}")
    log.info("answered %s in %s", message.id, conversation)


async def run(url: str, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BotClient(url, token) as bot:

        async def serve() -> None:
            async for event in bot:
                if isinstance(event, MessageCreated):
                    try:
                        await handle(bot, event)
                    except NotAuthenticated:
                        raise
                    except HubError as exc:
                        log.warning("the hub refused the answer to %s: %s", event.data.id, exc)
                elif isinstance(event, Reset):
                    log.warning("the hub could not replay what was missed (%s)", event.reason)

        task = asyncio.create_task(serve())
        done, _ = await asyncio.wait(
            {task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="ws://127.0.0.1:8000", help="the hub's WebSocket address")
    parser.add_argument(
        "--token", default=os.environ.get("HUB_BOT_TOKEN"), help="API token (or HUB_BOT_TOKEN)"
    )
    args = parser.parse_args()
    if not args.token:
        parser.error("--token (or HUB_BOT_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.url, args.token))


if __name__ == "__main__":
    main()
