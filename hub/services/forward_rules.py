"""Forwarding rules: validated, stored per account, managed by the account's admins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from beanie import PydanticObjectId
from email_validator import EmailNotValidError, validate_email
from pymongo import ReturnDocument

from hub.domain.phones import InvalidPhoneNumber, is_short_code, to_e164
from hub.services import config
from hub.services.errors import Invalid, NotFound
from hub.services.routing import setup_changed
from hub.store import from_doc
from hub.store.accounts import utcnow
from hub.store.forwarding import ForwardFormat, ForwardKind, ForwardRule
from hub.store.keywords import KeywordDoc
from hub.store.numbers import Number

MAX_TARGET = 2000
MAX_NAME = 100


def object_id(raw: str | None, field: str) -> PydanticObjectId | None:
    """An optional id from a request; Invalid (422) when it is not one."""
    return config.object_id(raw, field) if raw else None


@dataclass(frozen=True)
class RuleInput:
    kind: str
    target: str
    format: str = "json"
    number_id: str | None = None
    keyword_id: str | None = None
    include_delivery_reports: bool = False
    active: bool = True
    name: str = ""
    secret: str | None = None


def normalise_target(kind: ForwardKind, target: str) -> str:
    """Check a rule's target for its kind and return it in canonical form; Invalid otherwise."""
    target = target.strip()
    if not target or len(target) > MAX_TARGET:
        raise Invalid(f"target must be 1 to {MAX_TARGET} characters", field="target")
    if kind == ForwardKind.URL:
        parts = urlsplit(target)
        if parts.scheme not in {"http", "https"} or not parts.hostname or any(c.isspace() for c in target):
            raise Invalid("target must be an http:// or https:// URL", field="target")
        return target
    if kind == ForwardKind.EMAIL:
        try:
            # No DNS look-up (the hub may sit on a network without one); ".test" names are allowed
            # for staging set-ups, the other reserved names are refused.
            return validate_email(target, check_deliverability=False, test_environment=True).normalized
        except EmailNotValidError as exc:
            raise Invalid(f"target is not a valid e-mail address: {exc}", field="target") from exc
    try:
        phone = to_e164(target)
    except InvalidPhoneNumber as exc:
        raise Invalid(f"target is not a valid phone number: {exc}", field="target") from exc
    if is_short_code(phone):
        raise Invalid("target must be a phone number, not a short code", field="target")
    return phone


async def _checked(account_id: PydanticObjectId, data: RuleInput) -> dict[str, Any]:
    """Validate everything before anything is written: a bad field stores nothing."""
    try:
        kind = ForwardKind(data.kind)
    except ValueError:
        raise Invalid("kind must be url, email or phone", field="kind") from None
    try:
        fmt = ForwardFormat(data.format or "json")
    except ValueError:
        raise Invalid("format must be json or xml", field="format") from None
    if len(data.name) > MAX_NAME:
        raise Invalid(f"name must be at most {MAX_NAME} characters", field="name")
    number_id = object_id(data.number_id, "number_id")
    if number_id is not None and await Number.find_one({"_id": number_id, "account_id": account_id}) is None:
        raise NotFound("no such number in this account", field="number_id")
    keyword_id = object_id(data.keyword_id, "keyword_id")
    if (
        keyword_id is not None
        and await KeywordDoc.find_one({"_id": keyword_id, "account_id": account_id}) is None
    ):
        raise NotFound("no such keyword in this account", field="keyword_id")
    secret = (data.secret or "").strip()
    if secret and not 16 <= len(secret) <= 200:
        raise Invalid("secret must be 16 to 200 characters", field="secret")
    return {
        "kind": kind,
        "target": normalise_target(kind, data.target),
        "format": fmt,
        "number_id": number_id,
        "keyword_id": keyword_id,
        "include_delivery_reports": data.include_delivery_reports,
        "active": data.active,
        "name": data.name.strip(),
        "secret": secret,
    }


async def create_rule(account_id: PydanticObjectId, data: RuleInput) -> ForwardRule:
    fields = await _checked(account_id, data)
    if fields["kind"] == ForwardKind.URL and not fields["secret"]:
        fields["secret"] = secrets.token_urlsafe(32)
    rule = ForwardRule(account_id=account_id, **fields)
    await rule.insert()
    setup_changed()
    return rule


async def get_rule(account_id: PydanticObjectId, rule_id: str) -> ForwardRule:
    oid = PydanticObjectId(rule_id) if PydanticObjectId.is_valid(rule_id) else None
    rule = await ForwardRule.find_one({"_id": oid, "account_id": account_id}) if oid else None
    if rule is None:
        raise NotFound("no such forwarding rule", field="rule_id")
    return rule


async def update_rule(account_id: PydanticObjectId, rule_id: str, data: RuleInput) -> ForwardRule:
    rule = await get_rule(account_id, rule_id)
    fields = await _checked(account_id, data)
    if not fields["secret"]:
        fields["secret"] = rule.secret or (
            secrets.token_urlsafe(32) if fields["kind"] == ForwardKind.URL else ""
        )
    doc = await ForwardRule.get_pymongo_collection().find_one_and_update(
        {"_id": rule.id, "account_id": account_id},
        {
            "$set": {
                **{k: v.value if isinstance(v, Enum) else v for k, v in fields.items()},
                "updated_at": utcnow(),
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise NotFound("no such forwarding rule", field="rule_id")
    setup_changed()
    return from_doc(ForwardRule, doc)


async def delete_rule(account_id: PydanticObjectId, rule_id: str) -> None:
    """Remove a rule. Its deliveries stay listed; pending e-mail and phone ones go on to the stored
    target, pending URL ones can no longer be signed and are dead-lettered at their next attempt."""
    rule = await get_rule(account_id, rule_id)
    await ForwardRule.get_pymongo_collection().delete_one({"_id": rule.id, "account_id": account_id})
    setup_changed()


async def list_rules(account_id: PydanticObjectId) -> list[ForwardRule]:
    return await ForwardRule.find({"account_id": account_id}).sort("created_at").to_list()
