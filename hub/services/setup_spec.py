"""A set-up file (`hub apply`) read into typed entries, each error named by its path in the file.

Only the shape and the rules that need no database are checked here (types, number forms,
slugs, texts); `hub.services.setup_apply` checks the rest against the hub. A key left out of an
entry is not managed (what the hub has stays); `null` clears a text or a list of words.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hub.domain.keywords import KeywordKind
from hub.domain.numbers import NumberType
from hub.services import operator_accounts, operator_numbers
from hub.services.errors import ServiceError
from hub.store.numbers import AutoReplyLimit

ECO_PLUS: Final = "ECO+"
NUMBER_TEXTS: Final = ("default_reply", "help_text", "opt_in_reply")
NUMBER_WORDS: Final = ("opt_out_words", "opt_in_words", "help_words")
TOP_KEYS: Final = ("accounts", "numbers", "keywords")
ACCOUNT_KEYS: Final = ("slug", "name", "admin")
ADMIN_KEYS: Final = ("email", "name", "password", "password_env")
NUMBER_KEYS: Final = (
    "number",
    "type",
    "account",
    "provider",
    "label",
    *NUMBER_TEXTS,
    *NUMBER_WORDS,
    "auto_reply_limit",
)
KEYWORD_KEYS: Final = ("number", "keyword", "account", "kind", "reply", "group", "active")
UNSET: Final[Any] = operator_numbers.UNSET


@dataclass(frozen=True)
class AdminSpec:
    email: str
    name: str
    password: str


@dataclass(frozen=True)
class AccountSpec:
    path: str
    slug: str
    name: str
    admin: AdminSpec | None


@dataclass(frozen=True)
class NumberSpec:
    path: str
    raw: str
    e164: str
    type: NumberType
    eco_plus: bool
    account: str | None
    provider: str
    label: str
    settings: dict[str, Any] = field(default_factory=dict)
    """The shared-number texts, words and auto-reply limit the file sets (None: clear)."""


@dataclass(frozen=True)
class KeywordSpec:
    path: str
    number: str
    """As the file wrote it; matched to a number by `hub.domain.phones.to_e164`."""
    text: str
    account: str
    kind: KeywordKind
    reply: Any = UNSET
    """The text the keyword answers with (an autoresponder it fires); None: none."""
    group: Any = UNSET
    """The contact group the sender joins (for a removing keyword: leaves); None: none."""
    active: bool = True


@dataclass
class SetupSpec:
    accounts: list[AccountSpec] = field(default_factory=list)
    numbers: list[NumberSpec] = field(default_factory=list)
    keywords: list[KeywordSpec] = field(default_factory=list)


@dataclass
class Errors:
    """Every problem found, as `path: message` lines, so one run lists them all."""

    lines: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)


def _text(
    entry: Mapping[str, Any], key: str, path: str, errors: Errors, *, required: bool = False
) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            errors.add(f"{path}.{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.add(f"{path}.{key}", f"must be text, not {type(value).__name__}")
        return None
    return str(value)


def _unknown_keys(entry: Mapping[str, Any], allowed: tuple[str, ...], path: str, errors: Errors) -> None:
    for key in entry:
        if key not in allowed:
            errors.add(f"{path}.{key}", f"unknown key (expected one of {', '.join(allowed)})")


def _checked(path: str, errors: Errors, check: Callable[[], Any]) -> Any:
    """What `check` answers, or None with its refusal recorded under `path`."""
    try:
        return check()
    except ServiceError as exc:
        errors.add(path, exc.message)
        return None


def _entries(doc: Mapping[str, Any], key: str, errors: Errors) -> list[tuple[str, Mapping[str, Any]]]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(key, "must be a list")
        return []
    out = []
    for i, entry in enumerate(value):
        if isinstance(entry, Mapping):
            out.append((f"{key}[{i}]", entry))
        else:
            errors.add(f"{key}[{i}]", "must be a mapping of keys to values")
    return out


def _admin(value: Any, path: str, errors: Errors, env: Mapping[str, str]) -> AdminSpec | None:
    if not isinstance(value, Mapping):
        errors.add(path, "must be a mapping (email, name, password or password_env)")
        return None
    _unknown_keys(value, ADMIN_KEYS, path, errors)
    email = _text(value, "email", path, errors, required=True)
    name = _text(value, "name", path, errors, required=True)
    password = _text(value, "password", path, errors)
    variable = _text(value, "password_env", path, errors)
    if (password is None) == (variable is None):
        errors.add(path, "give either password or password_env (the environment variable holding it)")
        return None
    if variable is not None:
        password = env.get(variable)
        if not password:
            errors.add(f"{path}.password_env", f"the environment variable {variable} is not set")
            return None
    if email is None or name is None or password is None:
        return None
    admin = AdminSpec(email.strip().lower(), name.strip(), password)
    _checked(
        path, errors, lambda: operator_accounts.check_agent(operator_accounts.NewAgent(email, name, password))
    )
    return admin


def _account(
    path: str, entry: Mapping[str, Any], errors: Errors, env: Mapping[str, str]
) -> AccountSpec | None:
    _unknown_keys(entry, ACCOUNT_KEYS, path, errors)
    slug = _text(entry, "slug", path, errors, required=True)
    raw_name = _text(entry, "name", path, errors, required=True)
    if slug is not None:
        _checked(f"{path}.slug", errors, lambda: operator_accounts.check_slug(slug))
    name = None
    if raw_name is not None:
        name = _checked(f"{path}.name", errors, lambda: operator_accounts.check_name(raw_name))
    admin = _admin(entry["admin"], f"{path}.admin", errors, env) if entry.get("admin") is not None else None
    if slug is None or name is None:
        return None
    return AccountSpec(path, slug, name, admin)


def _limit(value: Any, path: str, errors: Errors) -> AutoReplyLimit | None:
    if value is None:
        return None
    if (
        isinstance(value, Mapping)
        and set(value) == {"max_count", "window_s"}
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values())
        and value["window_s"] > 0
    ):
        return AutoReplyLimit(max_count=value["max_count"], window_s=value["window_s"])
    errors.add(path, "must be {max_count: whole number ≥ 0, window_s: seconds > 0}, or null for the default")
    return None


def _words(value: Any, path: str, errors: Errors) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(w, str) for w in value):
        return [w.strip() for w in value if w.strip()] or None
    errors.add(path, "must be a list of words, or null for the default")
    return None


def _number(path: str, entry: Mapping[str, Any], errors: Errors, providers: set[str]) -> NumberSpec | None:
    _unknown_keys(entry, NUMBER_KEYS, path, errors)
    raw = _text(entry, "number", path, errors, required=True)
    type_raw = _text(entry, "type", path, errors, required=True)
    account = _text(entry, "account", path, errors)
    provider = _text(entry, "provider", path, errors) or "simulator"
    label = _text(entry, "label", path, errors) or ""
    kind: NumberType | None = None
    eco_plus = False
    if type_raw is not None:
        eco_plus = type_raw.strip().upper() == ECO_PLUS
        kind = (
            NumberType.TWO_WAY
            if eco_plus
            else _checked(f"{path}.type", errors, lambda: operator_numbers.number_type(type_raw))
        )
    e164 = None
    if raw is not None and kind is not None:
        e164 = _checked(f"{path}.number", errors, lambda: operator_numbers.normalise(raw, kind))
    _checked(f"{path}.provider", errors, lambda: operator_numbers.check_provider(provider, providers))
    if len(label) > operator_numbers.MAX_LABEL:
        errors.add(f"{path}.label", f"must have at most {operator_numbers.MAX_LABEL} characters")
    if kind is not None:
        individual = kind in operator_numbers.INDIVIDUAL
        if individual and account is None:
            errors.add(f"{path}.account", f"a {kind.value} number belongs to an account: name one")
        if not individual and account is not None:
            errors.add(f"{path}.account", f"a {kind.value} number is shared: it belongs to no account")
    settings: dict[str, Any] = {}
    for key in NUMBER_TEXTS:
        if key in entry:
            value = _text(entry, key, path, errors)
            if value is not None and len(value) > operator_numbers.MAX_TEXT:
                errors.add(f"{path}.{key}", f"must have at most {operator_numbers.MAX_TEXT} characters")
            settings[key] = value.strip() or None if value is not None else None
    for key in NUMBER_WORDS:
        if key in entry:
            settings[key] = _words(entry[key], f"{path}.{key}", errors)
    if "auto_reply_limit" in entry:
        settings["auto_reply_limit"] = _limit(entry["auto_reply_limit"], f"{path}.auto_reply_limit", errors)
    if kind in operator_numbers.INDIVIDUAL:
        for key in settings:
            if key in operator_numbers.SHARED_ONLY:
                errors.add(f"{path}.{key}", f"an individual number's {key} is set by its account's admin")
    if raw is None or kind is None or e164 is None:
        return None
    return NumberSpec(path, raw, e164, kind, eco_plus, account, provider, label.strip(), settings)


def _keyword(path: str, entry: Mapping[str, Any], errors: Errors) -> KeywordSpec | None:
    _unknown_keys(entry, KEYWORD_KEYS, path, errors)
    number = _text(entry, "number", path, errors, required=True)
    text = _text(entry, "keyword", path, errors, required=True)
    account = _text(entry, "account", path, errors, required=True)
    kind_raw = _text(entry, "kind", path, errors) or KeywordKind.EXACT.value
    try:
        kind = KeywordKind(kind_raw.strip().lower())
    except ValueError:
        names = ", ".join(k.value for k in KeywordKind)
        errors.add(f"{path}.kind", f"must be one of {names}, not {kind_raw!r}")
        return None
    reply = group = UNSET
    if "reply" in entry:
        reply = _text(entry, "reply", path, errors)
        if reply is not None and len(reply) > operator_numbers.MAX_TEXT:
            errors.add(f"{path}.reply", f"must have at most {operator_numbers.MAX_TEXT} characters")
    if "group" in entry:
        group = _text(entry, "group", path, errors)
    active = entry.get("active", True)
    if not isinstance(active, bool):
        errors.add(f"{path}.active", "must be true or false")
    if number is None or text is None or account is None:
        return None
    return KeywordSpec(path, number, text.strip(), account, kind, reply, group, bool(active))


def parse(doc: Any, providers: set[str], env: Mapping[str, str] | None = None) -> tuple[SetupSpec, Errors]:
    """The file's entries, and every error found in them."""
    errors = Errors()
    spec = SetupSpec()
    if not isinstance(doc, Mapping):
        errors.add("(file)", "must be a mapping with accounts, numbers and keywords")
        return spec, errors
    _unknown_keys(doc, TOP_KEYS, "(file)", errors)
    environ = os.environ if env is None else env
    for path, entry in _entries(doc, "accounts", errors):
        if (account := _account(path, entry, errors, environ)) is not None:
            spec.accounts.append(account)
    for path, entry in _entries(doc, "numbers", errors):
        if (number := _number(path, entry, errors, providers)) is not None:
            spec.numbers.append(number)
    for path, entry in _entries(doc, "keywords", errors):
        if (keyword := _keyword(path, entry, errors)) is not None:
            spec.keywords.append(keyword)
    _duplicates(spec, errors)
    return spec, errors


def _duplicates(spec: SetupSpec, errors: Errors) -> None:
    seen: dict[str, str] = {}
    for a in spec.accounts:
        if a.slug in seen:
            errors.add(f"{a.path}.slug", f"{a.slug!r} is already listed at {seen[a.slug]}")
        seen.setdefault(a.slug, a.path)
    seen = {}
    for n in spec.numbers:
        if n.e164 in seen:
            errors.add(f"{n.path}.number", f"{n.e164} is already listed at {seen[n.e164]}")
        seen.setdefault(n.e164, n.path)
