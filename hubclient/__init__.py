"""hubclient: a Python client for the SMS hub's chatbot WebSocket API (docs/websocket-api.md, "Bots")."""

from hub.domain.events import ConversationUpdated, MessageCreated, Reset
from hubclient.bookkeeping import Backoff, SeqTracker
from hubclient.client import BotClient, BotEvent, HubError, NotAuthenticated

__all__ = [
    "Backoff",
    "BotClient",
    "BotEvent",
    "ConversationUpdated",
    "HubError",
    "MessageCreated",
    "NotAuthenticated",
    "Reset",
    "SeqTracker",
]
