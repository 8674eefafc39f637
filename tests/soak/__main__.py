"""`python -m tests.soak --minutes 60`: see tests/soak/__init__.py and docs/reliability.md."""

from __future__ import annotations

import asyncio
import sys

from tests.soak.options import parse
from tests.soak.runner import soak

if __name__ == "__main__":
    sys.exit(asyncio.run(soak(parse())))
