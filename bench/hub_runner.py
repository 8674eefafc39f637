"""`hub serve` with shorter keepalive and credential re-check intervals, for the idle-CPU window.

Measuring a 20 s ping and a 30 s credential re-check as they are would take minutes per window;
both are shortened by the same factor and the CPU time is scaled back. Everything else is as
`hub.__main__._serve` runs it.
"""

from __future__ import annotations

import argparse

import uvicorn

import hub.realtime.agent_socket as agent_socket
from hub.app import create_app
from hub.realtime.wire import protocol_class
from hub.settings import load_settings
from workers.run import embedded_worker, open_hub


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_runner")
    parser.add_argument("--ping-interval", type=float, required=True)
    parser.add_argument("--recheck", type=float, required=True, help="credential re-check interval, s")
    args = parser.parse_args()
    # Read by every socket's credential watcher each time it sleeps, so patching the module works.
    agent_socket.RECHECK_S = args.recheck
    settings = load_settings()
    uvicorn.run(
        create_app(settings, open_hub=open_hub, worker=embedded_worker),  # type: ignore[arg-type]
        host=settings.server.host,
        port=settings.server.port,
        log_level="info",
        ws_ping_interval=args.ping_interval,
        ws_ping_timeout=args.ping_interval,
        lifespan="on",
        ws=protocol_class(settings.realtime.ws_deflate),  # type: ignore[arg-type]
        ws_max_size=1024 * 1024,
    )


if __name__ == "__main__":
    main()
