"""Campaign texts: `{field}` and `{field|fallback}` variables, checked before anything is stored.

Unlike autoresponder templates (hub.domain.autoresponders), a campaign text is written once for
thousands of recipients and checked in the editor, so every brace must belong to a well-formed
variable: a typo is refused with its position instead of being sent to everyone. A variable
whose value is missing or blank for a recipient gives its fallback, or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# Letters (Polish ones too: {imię}), digits and _, not starting with a digit.
_NAME: Final = re.compile(r"[^\W\d]\w*")


class TemplateError(ValueError):
    """A malformed campaign text; the message says what and where (1-based character)."""


@dataclass(frozen=True)
class Variable:
    name: str
    fallback: str | None


Part = str | Variable


def parse(template: str) -> list[Part]:
    """Split a campaign text into literal text and variables.

    Raises:
        TemplateError: a brace that opens no well-formed variable or closes none.
    """
    parts: list[Part] = []
    i = 0
    literal_start = 0
    while i < len(template):
        ch = template[i]
        if ch == "}":
            raise TemplateError(f"'}}' at character {i + 1} closes no variable (write variables as {{name}})")
        if ch != "{":
            i += 1
            continue
        end = template.find("}", i + 1)
        nested = template.find("{", i + 1)
        if end < 0 or (0 <= nested < end):
            raise TemplateError(f"'{{' at character {i + 1} is not closed by '}}'")
        body = template[i + 1 : end]
        name, bar, fallback = body.partition("|")
        if _NAME.fullmatch(name) is None:
            raise TemplateError(
                f"{{{body}}} at character {i + 1} is not a variable: a name is letters, digits and _ "
                "(not starting with a digit), optionally followed by |fallback"
            )
        if "\n" in fallback or "\r" in fallback:
            raise TemplateError(f"the fallback of {{{name}}} at character {i + 1} spans lines")
        if literal_start < i:
            parts.append(template[literal_start:i])
        parts.append(Variable(name, fallback if bar else None))
        i = literal_start = end + 1
    if literal_start < len(template):
        parts.append(template[literal_start:])
    return parts


def variables(template: str) -> list[str]:
    """The variable names a text uses, in order of first use, each once.

    Raises:
        TemplateError: the text is malformed.
    """
    return list(dict.fromkeys(p.name for p in parse(template) if isinstance(p, Variable)))


def render_parts(parts: list[Part], fields: Mapping[str, str]) -> str:
    """Fill parsed parts: a missing or blank value gives the fallback, or "". A name not among
    `fields` is looked up in lower case too (callers key CSV columns and contact fields so)."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = fields.get(part.name)
        if value is None:
            value = fields.get(part.name.lower())
        if value is None or not value.strip():
            out.append(part.fallback or "")
        else:
            out.append(value)
    return "".join(out)


def render(template: str, fields: Mapping[str, str]) -> str:
    """Fill a campaign text's variables for one recipient (`{name|Kliencie}` → "Kliencie" without a
    name). Values are inserted as they are, never expanded again.

    Raises:
        TemplateError: the text is malformed.
    """
    return render_parts(parse(template), fields)
