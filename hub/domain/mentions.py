"""@mentions in a private note: which of the account's agents a note names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

NOTE_MAX = 4000


def mentioned(asked: Iterable[str], text: str, agents: Mapping[str, str], author_id: str) -> list[str]:
    """The agent ids a note notifies: those the client picked (`asked`) whose `@Name` is still in
    the text (an agent picked and then deleted from the text is not notified), once each, in order,
    never the author. An id not among the account's `agents` (id → name) raises ValueError."""
    out: list[str] = []
    folded = text.casefold()
    for agent_id in asked:
        name = agents.get(agent_id)
        if name is None:
            raise ValueError(f"mentions names {agent_id!r}, not an agent of this account")
        if agent_id == author_id or agent_id in out:
            continue
        first = name.split()[0] if name.split() else name
        if f"@{name}".casefold() in folded or f"@{first}".casefold() in folded:
            out.append(agent_id)
    return out
