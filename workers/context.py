"""What the hub's job functions are handed: the job context carrying the hub's own context."""

from __future__ import annotations

from typing import TypeAlias

from hub.context import HubContext
from hub.jobs import spec

JobContext: TypeAlias = spec.JobContext[HubContext]
