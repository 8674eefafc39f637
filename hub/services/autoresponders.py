"""An account's autoresponders: saved after the pure rules accept them (the API and `hub apply`)."""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.services import config
from hub.services.errors import Invalid
from hub.services.routing import setup_changed
from hub.store.keywords import AutoresponderDoc, HoursModel, KeywordDoc


async def save(
    account_id: PydanticObjectId,
    number_id: str,
    template: str,
    *,
    name: str = "",
    on_keyword: bool = False,
    first_message: bool = False,
    outside_hours: HoursModel | None = None,
    limit_count: int = 5,
    limit_window_s: int = 3600,
    position: int = 0,
    active: bool = True,
    doc: AutoresponderDoc | None = None,
) -> AutoresponderDoc:
    """Create an autoresponder, or change `doc`, on a number the account may use."""
    number = await config.usable_number(account_id, number_id)
    if outside_hours is not None:
        try:
            outside_hours.to_domain()
        except ValueError as exc:
            raise Invalid(f"outside_hours: {exc}", field="outside_hours") from None
    fields = {
        "account_id": account_id,
        "number_id": number.id,
        "template": template,
        "name": name,
        "on_keyword": on_keyword,
        "first_message": first_message,
        "outside_hours": outside_hours,
        "limit_count": limit_count,
        "limit_window_s": limit_window_s,
        "position": position,
        "active": active,
    }
    if doc is None:
        doc = AutoresponderDoc(**fields)
    else:
        for key, value in fields.items():
            setattr(doc, key, value)
    doc.to_domain()
    await doc.save()
    setup_changed()
    return doc


async def delete(doc: AutoresponderDoc) -> None:
    # Keywords that listed it stop naming it, or they could not be saved again.
    await KeywordDoc.get_pymongo_collection().update_many(
        {"account_id": doc.account_id, "autoresponder_ids": doc.id},
        {"$pull": {"autoresponder_ids": doc.id}},
    )
    await doc.delete()
    setup_changed()
