"""OWN numbers: a customer's own phone, used as a sender once a code sent to it comes back."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Final

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.services.errors import Conflict, Invalid, NotFound
from hub.store.accounts import utcnow
from hub.store.numbers import Number, NumberVerification

CODE_TTL: Final = timedelta(minutes=10)
MAX_ATTEMPTS: Final = 5
# Alphanumeric sender the codes come from: the claimed phone is not usable as a sender yet.
CODE_SENDER: Final = "SMS Hub"


def _hash(verification_id: str, code: str) -> str:
    return hashlib.sha256(f"{verification_id}:{code}".encode()).hexdigest()


async def start(
    hub: HubContext, account_id: PydanticObjectId, phone: str, provider: str
) -> NumberVerification:
    """Send a six-digit code to `phone`; `confirm` with it makes the phone the account's OWN number."""
    try:
        hub.provider(provider)
    except LookupError:
        raise Invalid(f"no outbound provider named {provider!r}", field="provider") from None
    if await Number.find_one({"e164": phone}) is not None:
        raise Conflict(f"{phone} is already a number on this hub", field="phone")
    code = f"{secrets.randbelow(1_000_000):06d}"
    verification = NumberVerification(
        account_id=account_id, phone=phone, provider=provider, code_hash="", expires_at=utcnow() + CODE_TTL
    )
    verification.id = PydanticObjectId()
    verification.code_hash = _hash(str(verification.id), code)
    await verification.insert()
    await hub.jobs.enqueue(
        "send_code",
        key=f"code:{verification.id}",
        provider=provider,
        sender=CODE_SENDER,
        recipient=phone,
        text=f"SMS Hub: your verification code is {code}. It expires in 10 minutes.",
    )
    return verification


async def confirm(account_id: PydanticObjectId, verification_id: str, code: str) -> Number:
    if not PydanticObjectId.is_valid(verification_id):
        raise NotFound("no such verification", field="verification_id")
    v = await NumberVerification.find_one(
        {"_id": PydanticObjectId(verification_id), "account_id": account_id}
    )
    if v is None:
        raise NotFound("no such verification", field="verification_id")
    if v.verified_at is not None:
        raise Conflict("this phone is already verified", field="verification_id")
    if v.expires_at <= utcnow():
        raise Invalid("the code has expired: start again for a new one", field="code", code="expired")
    # Count the attempt before comparing, atomically, so parallel guesses cannot exceed the limit.
    counted = await NumberVerification.get_pymongo_collection().find_one_and_update(
        {"_id": v.id, "attempts": {"$lt": MAX_ATTEMPTS}}, {"$inc": {"attempts": 1}}
    )
    if counted is None:
        raise Invalid("too many wrong codes: start again for a new one", field="code", code="attempts")
    if not hmac.compare_digest(_hash(str(v.id), code.strip()), v.code_hash):
        raise Invalid("the code is not right", field="code", code="wrong_code")
    number = Number(
        account_id=account_id, e164=v.phone, type=NumberType.OWN, provider=v.provider, label="Own number"
    )
    try:
        await number.insert()
    except DuplicateKeyError:
        raise Conflict(f"{v.phone} is already a number on this hub", field="phone") from None
    await NumberVerification.get_pymongo_collection().update_one(
        {"_id": v.id}, {"$set": {"verified_at": utcnow()}}
    )
    return number
