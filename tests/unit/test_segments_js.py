"""The composer's segment counter (web/static/segments.js) must agree with the server's."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from hub.domain.segments import count_segments

SEGMENTS_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "segments.js"

# Loads the browser script the way a page would (a global `window`), then answers for every
# string read from stdin as a JSON array.
RUNNER = """
const fs = require("fs");
globalThis.window = globalThis;
require(process.argv[1]);
const texts = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map((t) => window.countSegments(t))));
"""

ASCII = [chr(c) for c in range(0x20, 0x7F)]
GSM_SPECIAL = list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r")
EXTENSION = list("^{}\\[~]|€\f")
POLISH = list("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
EMOJI = ["😀", "👍", "🎉", "🇵🇱", "👨‍👩‍👧", "❤️", "𝄞"]
OTHER = [*"çñ`Ωд中文ß\t\x1b", "\u00a0", "\u200b"]
BOUNDARIES = [0, 1, 2, 66, 67, 68, 69, 70, 71, 72, 133, 134, 135, 151, 152, 153, 154, 159, 160, 161]
BOUNDARIES += [162, 305, 306, 307, 308, 458, 459, 460, 461]


def build_cases() -> list[str]:
    rng = random.Random(20240601)
    cases: list[str] = ["", "Zażółć gęślą jaźń", "a" * 152 + "{" + "a" * 10, "a" * 66 + "😀" + "a"]
    pools = [
        ASCII,
        ASCII + GSM_SPECIAL,
        ASCII + EXTENSION,
        EXTENSION,
        ASCII + POLISH,
        ASCII + EMOJI,
        POLISH + EMOJI,
        ASCII + GSM_SPECIAL + EXTENSION + POLISH + EMOJI + OTHER,
    ]
    for length in BOUNDARIES:
        for pool in rng.sample(pools, 5):
            cases.append("".join(rng.choice(pool) for _ in range(length)))
    # Put one two-unit character exactly on each part boundary, in both encodings.
    for at in (150, 151, 152, 153, 154, 305, 306):
        for ch in EXTENSION[:3]:
            cases.append("a" * at + ch + "b" * rng.randint(0, 200))
    for at in (64, 65, 66, 67, 68, 69, 70, 133, 134):
        cases.append("ą" * at + rng.choice(EMOJI) + "ę" * rng.randint(0, 100))
    while len(cases) < 220:
        pool = rng.choice(pools)
        cases.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 500))))
    return cases


def test_cases_cover_both_encodings_and_multipart() -> None:
    infos = [count_segments(t) for t in build_cases()]
    assert len(infos) >= 200
    assert {i.encoding for i in infos} == {"GSM-7", "UCS-2"}
    assert {i.segments for i in infos} >= {0, 1, 2, 3, 4}


def test_javascript_matches_python() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("the tests need node (Debian's nodejs; .ci/run installs it) for web/static/segments.js")
    cases = build_cases()
    completed = subprocess.run(
        [node, "-e", RUNNER, str(SEGMENTS_JS)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert len(results) == len(cases)
    mismatches = []
    for text, got in zip(cases, results, strict=True):
        info = asdict(count_segments(text))
        want = {
            "encoding": info["encoding"],
            "units": info["units"],
            "segments": info["segments"],
            "perSegment": info["per_segment"],
            "remaining": info["remaining"],
        }
        if got != want:
            mismatches.append((text[:40], want, got))
    assert not mismatches, mismatches[:5]
