"""Forwarding rules and their deliveries: admins change them, everyone in the account sees them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.api.audited import audited
from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.services import forward_rules as rules
from hub.services import forwarding as svc
from hub.services.auth import Principal
from hub.store.accounts import Role, utcnow
from hub.store.forwarding import ForwardAttempt, ForwardDelivery, ForwardRule
from hub.store.mail import MailRecord


class RuleBody(msgspec.Struct):
    kind: str
    """url, email or phone"""
    target: str
    format: str = "json"
    """json or xml (URL rules)"""
    number_id: str | None = None
    """Only messages to this number; none: every number of the account."""
    keyword_id: str | None = None
    """Only messages the keyword routing sends here; none: every message."""
    include_delivery_reports: bool = False
    active: bool = True
    name: str = ""
    secret: str | None = None
    """Signing key of a URL rule; generated when left out."""


class RuleOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    target: str
    format: str
    number_id: str | None
    keyword_id: str | None
    include_delivery_reports: bool
    active: bool
    secret: str | None
    """Shown to admins only."""
    created_at: datetime
    updated_at: datetime


class AttemptOut(msgspec.Struct):
    n: int
    at: datetime
    duration_ms: int
    ok: bool
    status_code: int | None
    error: str | None


class DeliveryOut(msgspec.Struct):
    id: str
    rule_id: str
    message_id: str
    event: str
    kind: str
    target: str
    status: str
    running: bool
    attempt_count: int
    attempts: list[AttemptOut]
    next_attempt_at: datetime
    give_up_at: datetime
    replays: int
    billable_segments: int
    handset_status: str | None
    """A forwarded SMS's delivery report from the gateway."""
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class ReplayAllOut(msgspec.Struct):
    replayed: int


class MailOut(msgspec.Struct):
    id: str
    received_at: datetime
    sender: str
    subject: str
    outcome: str
    """reply, mms, rejected or ignored"""
    reason: str | None
    conversation_id: str | None
    message_id: str | None
    """The hub message the mail became."""


def _is_admin(principal: Principal) -> bool:
    return principal.kind == "agent" and principal.role == Role.ADMIN


def _require_admin(principal: Principal) -> None:
    if not _is_admin(principal):
        raise PermissionDeniedException("only an account admin may do this")


def rule_out(rule: ForwardRule, show_secret: bool) -> RuleOut:
    return RuleOut(
        id=str(rule.id),
        name=rule.name,
        kind=rule.kind.value,
        target=rule.target,
        format=rule.format.value,
        number_id=str(rule.number_id) if rule.number_id else None,
        keyword_id=str(rule.keyword_id) if rule.keyword_id else None,
        include_delivery_reports=rule.include_delivery_reports,
        active=rule.active,
        secret=rule.secret if show_secret else None,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _attempt_out(a: ForwardAttempt) -> AttemptOut:
    return AttemptOut(
        n=a.n, at=a.at, duration_ms=a.duration_ms, ok=a.ok, status_code=a.status_code, error=a.error
    )


def delivery_out(d: ForwardDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=str(d.id),
        rule_id=str(d.rule_id),
        message_id=str(d.message_id),
        event=d.event,
        kind=d.kind.value,
        target=d.target,
        status=d.status.value,
        # A claim past its lease belongs to a worker that died: not running any more.
        running=d.claimed_until is not None and d.claimed_until > utcnow(),
        attempt_count=d.attempt_count,
        attempts=[_attempt_out(a) for a in d.attempts],
        next_attempt_at=d.next_attempt_at,
        give_up_at=d.give_up_at,
        replays=d.replays,
        billable_segments=d.billable_segments,
        handset_status=d.handset_status,
        last_error=d.last_error,
        created_at=d.created_at,
        completed_at=d.completed_at,
    )


def _input(data: RuleBody) -> rules.RuleInput:
    return rules.RuleInput(
        kind=data.kind,
        target=data.target,
        format=data.format,
        number_id=data.number_id,
        keyword_id=data.keyword_id,
        include_delivery_reports=data.include_delivery_reports,
        active=data.active,
        name=data.name,
        secret=data.secret,
    )


class ForwardRuleController(Controller):
    path = "/api/forwarding/rules"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["forwarding"]

    @get("/")
    async def list_rules(self, principal: NamedDependency[Principal]) -> list[RuleOut]:
        return [rule_out(r, _is_admin(principal)) for r in await rules.list_rules(principal.account_id)]

    @get("/{rule_id:str}")
    async def get_rule(self, principal: NamedDependency[Principal], rule_id: FromPath[str]) -> RuleOut:
        return rule_out(await rules.get_rule(principal.account_id, rule_id), _is_admin(principal))

    @post("/", status_code=201)
    @audited("forward_rule.create", "forward_rule")
    async def create_rule(self, principal: NamedDependency[Principal], data: JSONBody[RuleBody]) -> RuleOut:
        """Add a rule (admins). A URL rule without a secret gets a generated one."""
        _require_admin(principal)
        return rule_out(await rules.create_rule(principal.account_id, _input(data)), True)

    @put("/{rule_id:str}")
    @audited("forward_rule.update", "forward_rule", "rule_id")
    async def update_rule(
        self, principal: NamedDependency[Principal], rule_id: FromPath[str], data: JSONBody[RuleBody]
    ) -> RuleOut:
        """Replace a rule's fields (admins); a left-out secret keeps the current one."""
        _require_admin(principal)
        return rule_out(await rules.update_rule(principal.account_id, rule_id, _input(data)), True)

    @delete("/{rule_id:str}", status_code=204)
    @audited("forward_rule.delete", "forward_rule", "rule_id")
    async def delete_rule(self, principal: NamedDependency[Principal], rule_id: FromPath[str]) -> None:
        _require_admin(principal)
        await rules.delete_rule(principal.account_id, rule_id)


class ForwardDeliveryController(Controller):
    path = "/api/forwarding/deliveries"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["forwarding"]

    @get("/")
    async def list_deliveries(
        self,
        principal: NamedDependency[Principal],
        status: Annotated[
            str | None, QueryParameter(description="pending, delivered, dead or refused")
        ] = None,
        rule_id: FromQuery[str | None] = None,
        before: Annotated[str | None, QueryParameter(description="page: id of the last row seen")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[DeliveryOut]:
        """Deliveries newest first, each with its attempts."""
        rows = await svc.list_deliveries(principal.account_id, status, rule_id, limit, before)
        return [delivery_out(d) for d in rows]

    @get("/{delivery_id:str}")
    async def get_delivery(
        self, principal: NamedDependency[Principal], delivery_id: FromPath[str]
    ) -> DeliveryOut:
        return delivery_out(await svc.get_delivery(principal.account_id, delivery_id))

    @post("/{delivery_id:str}/replay", status_code=200)
    async def replay(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        delivery_id: FromPath[str],
    ) -> DeliveryOut:
        """Send a dead-lettered delivery again (same delivery id and body), with a new retry horizon."""
        _require_admin(principal)
        return delivery_out(await svc.replay(hub, principal.account_id, delivery_id))

    @post("/replay-dead", status_code=200)
    async def replay_dead(
        self, hub: NamedDependency[HubContext], principal: NamedDependency[Principal]
    ) -> ReplayAllOut:
        """Replay every dead-lettered delivery of the account."""
        _require_admin(principal)
        return ReplayAllOut(replayed=await svc.replay_dead(hub, principal.account_id))


def mail_out(m: MailRecord) -> MailOut:
    return MailOut(
        id=str(m.id),
        received_at=m.created_at,
        sender=m.sender,
        subject=m.subject,
        outcome=m.outcome,
        reason=m.reason,
        conversation_id=str(m.conversation_id) if m.conversation_id else None,
        message_id=str(m.hub_message_id) if m.hub_message_id else None,
    )


class MailController(Controller):
    path = "/api/forwarding/mail"
    dependencies = {"principal": Provide(provide_principal)}
    tags = ["forwarding"]

    @get("/")
    async def list_mail(
        self,
        principal: NamedDependency[Principal],
        outcome: Annotated[str | None, QueryParameter(description="reply, mms, rejected or ignored")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[MailOut]:
        """Mails the IMAP poller read for this account, newest first: replies, MMS and rejections.

        Mails that could not be tied to any account (no valid reply address, no known number) are
        only logged.
        """
        query: dict[str, object] = {"account_id": principal.account_id}
        if outcome:
            query["outcome"] = outcome
        rows = await MailRecord.find(query).sort("-created_at").limit(limit).to_list()
        return [mail_out(m) for m in rows]
