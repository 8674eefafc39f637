"""WebSocket frames written straight to each socket's transport, encoded once per event.

uvicorn's ASGI path costs every delivery a task wake-up, litestar's send wrappers, a wait on
`writable`, a bytes → str → bytes round trip and, with permessage-deflate, a compression per
socket. `HubWebSocketProtocol` is uvicorn's websockets-sansio protocol that also lets the hub
write frames synchronously to the socket, and tells it when a paused transport drains.

An event's frame is the same bytes for every socket that negotiated the same extension
parameters: server frames are not masked, and with `server_no_context_takeover` the deflate
stream restarts for each message, so one compression serves every socket. Only a socket whose
compressor keeps context across messages needs its own encoding (`deflate="per-socket"`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final, Literal, cast

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

DeflateMode = Literal["shared", "per-socket", "off"]
DEFLATE_MODES: Final[tuple[str, ...]] = ("shared", "per-socket", "off")
SCOPE_KEY: Final = "hub.wire"
"""Where the protocol puts itself in the ASGI scope for the application to find."""

# uvicorn's own permessage-deflate settings: a 4 KiB window and memLevel 5 keep the per-socket
# zlib state small (thousands of idle sockets), at a small cost in ratio.
WINDOW_BITS: Final = 12
COMPRESS_SETTINGS: Final[dict[str, Any]] = {"memLevel": 5}

FrameKey = int | None
"""None: a plain frame; an int: deflated without context takeover with that window."""


class OutgoingEvent:
    """An event's payload, with its frames built on first use and shared by every socket."""

    __slots__ = ("_frames", "head", "payload")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._frames: dict[FrameKey, bytes] = {}
        self.head: Any = None
        """What a consumer decoded of the payload, kept for the other sockets of the same event."""

    def frame(self, key: FrameKey, extensions: list[Any]) -> bytes:
        frame = self._frames.get(key)
        if frame is None:
            frame = Frame(Opcode.TEXT, self.payload).serialize(mask=False, extensions=extensions)
            self._frames[key] = frame
        return frame


def frame_key(conn: ServerProtocol) -> FrameKey | Literal[False]:
    """How this connection's frames can be shared; False when they cannot (deflate with context)."""
    extensions = conn.extensions
    if not extensions:
        return None
    if len(extensions) == 1:
        ext = extensions[0]
        if isinstance(ext, PerMessageDeflate) and ext.local_no_context_takeover:
            return int(ext.local_max_window_bits)
    return False


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, reachable from the application for direct writes."""

    deflate: DeflateMode = "shared"

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if self.deflate != "per-socket" or not config.ws_per_message_deflate:
            extensions = []
            if self.deflate == "shared" and config.ws_per_message_deflate:
                extensions = [
                    ServerPerMessageDeflateFactory(
                        server_max_window_bits=WINDOW_BITS,
                        client_max_window_bits=WINDOW_BITS,
                        server_no_context_takeover=True,
                        compress_settings=COMPRESS_SETTINGS,
                    )
                ]
            self.conn = ServerProtocol(
                extensions=extensions,
                max_size=self.config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )
        self.on_resume: Callable[[], None] | None = None
        self.share: FrameKey | Literal[False] = False

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The application task is created but has not run yet: the scope can still be extended.
        scope = getattr(self, "scope", None)
        if scope is not None:
            cast(dict[str, Any], scope)[SCOPE_KEY] = self

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_resume is not None:
            self.on_resume()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # A socket that dies while paused never resumes: let its outbox see the loss now.
        if self.on_resume is not None:
            self.on_resume()

    # Direct writes, for hub.realtime.outbox. The caller checks `open` and `writable` first.

    @property
    def open(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        )

    @property
    def writable_now(self) -> bool:
        return self.writable.is_set()

    def write_text(self, payload: bytes) -> None:
        """Send one text message, encoded for this socket alone."""
        self.conn.send_text(payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    def write_event(self, event: OutgoingEvent) -> None:
        """Send an event, with the frame shared by every socket of the same kind when possible."""
        share = self.share
        if share is False:
            self.write_text(event.payload)
        else:
            self.transport.write(event.frame(share, self.conn.extensions))


def protocol_class(deflate: DeflateMode) -> type[HubWebSocketProtocol]:
    """The protocol uvicorn should use (`ws=`), with the permessage-deflate mode of the settings."""
    if deflate not in DEFLATE_MODES:
        raise ValueError(f"unknown permessage-deflate mode {deflate!r}")
    return cast(
        type[HubWebSocketProtocol],
        type(
            f"HubWebSocketProtocol_{deflate.replace('-', '_')}", (HubWebSocketProtocol,), {"deflate": deflate}
        ),
    )
