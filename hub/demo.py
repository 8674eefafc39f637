"""The demo: what `hub demo` creates so a newcomer can try the hub at once.

Two customer accounts share the operator's numbers, as on the product the hub follows: the
shared long number (ND) 503 340 503 and the shared short code (SC) 4301. The demo shop reserves
`OGRODNIK` on the ND (its texters join "Ogrodnicy" and get a reply) and `PROMOCJA` on the SC; the
flower shop "Kwiaciarnia Róża" reserves `KWIATY` on the ND. A text with no reserved keyword reaches
no account: the operator's default reply answers it and the operator (the demo account) sees it
under Services → Unmatched. The demo shop's own numbers are the NDI +48 500 100 200 and the SCI
7126.

Seeding is idempotent: every object is looked up by its natural key first and left as it is when
present (an admin's later changes are kept). A data folder from an older demo, where 4301 was the
demo shop's individual short code, is upgraded: that number document is renumbered to 7126 (its
conversations, keywords, surveys and statistics go with it) and 4301 becomes the shared code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from beanie import PydanticObjectId

from hub.domain.keywords import KeywordKind, normalise
from hub.domain.numbers import NumberType
from hub.services import auth, config
from hub.services.routing import setup_changed
from hub.store.accounts import Account, Agent, Role
from hub.store.conversations import Conversation
from hub.store.keywords import AutoresponderDoc, KeywordDoc
from hub.store.numbers import Number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    name: str
    role: Role
    account: str = "demo"
    """The slug of the account the login belongs to."""


DEMO_NUMBER = "+48500100200"
DEMO_SHORT_CODE = "7126"
"""The demo shop's individual short code (SCI); 4301 is the shared one."""
SHARED_ND = "+48503340503"
SHARED_SC = "4301"
ROZA_SLUG = "roza"
DEMO_LOGINS = (
    DemoLogin("admin@demo.example", "demo-admin-pass", "Ada Admin", Role.ADMIN),
    DemoLogin("agent@demo.example", "demo-agent-pass", "Olek Agent", Role.AGENT),
    DemoLogin("admin@roza.example", "roza-admin-pass", "Róża Kwiatkowska", Role.ADMIN, ROZA_SLUG),
)
ACCOUNTS = {"demo": "Demo Shop", ROZA_SLUG: "Kwiaciarnia Róża"}


@dataclass(frozen=True)
class SharedNumber:
    e164: str
    type: NumberType
    label: str
    default_reply: str
    help_text: str
    opt_in_reply: str


SHARED_NUMBERS = (
    SharedNumber(
        SHARED_ND,
        NumberType.ND,
        "Numer dostępowy ND (wspólny)",
        "Nie rozpoznaliśmy hasła. Wyślij hasło z ulotki lub plakatu, np. OGRODNIK, na numer 503 340 503.",
        "503 340 503 to wspólny numer dostępowy. Wyślij hasło z ulotki, aby się zapisać; "
        "STOP i hasło wypisuje z listy.",
        "Witamy ponownie! Wyślij hasło z ulotki, aby zapisać się na informacje.",
    ),
    SharedNumber(
        SHARED_SC,
        NumberType.SC,
        "Short code SC (wspólny)",
        "Nie rozpoznaliśmy hasła. Wyślij hasło z ulotki lub plakatu, np. PROMOCJA, na numer 4301.",
        "4301 to wspólny numer skrócony. Wyślij hasło z ulotki, aby się zapisać; "
        "STOP i hasło wypisuje z listy.",
        "Witamy ponownie! Wyślij hasło z ulotki, aby zapisać się na informacje.",
    ),
)


@dataclass(frozen=True)
class Reservation:
    """A keyword an account reserves on a shared number: its group and its automatic reply."""

    account: str
    number: str
    keyword: str
    group: str
    autoresponder: str
    template: str


RESERVATIONS = (
    Reservation(
        "demo",
        SHARED_ND,
        "OGRODNIK",
        "Ogrodnicy",
        "Ogrodnik: zapis",
        "Dziękujemy, {name|Ogrodniku}! Poinformujemy Cię o promocjach w naszym sklepie ogrodniczym. "
        "Wypisz się: STOP OGRODNIK.",
    ),
    Reservation(
        "demo",
        SHARED_SC,
        "PROMOCJA",
        "Promocje",
        "Promocja: zapis",
        "Dzięki, {name|Kliencie}! Poinformujemy Cię o promocji jako pierwszego. Wypisz się: STOP PROMOCJA.",
    ),
    Reservation(
        ROZA_SLUG,
        SHARED_ND,
        "KWIATY",
        "Miłośnicy kwiatów",
        "Kwiaty: zapis",
        "Kwiaciarnia Róża dziękuje! Co tydzień prześlemy Ci kwiatową promocję. Wypisz się: STOP KWIATY.",
    ),
)


async def seed_demo(*, shared: bool = True) -> Account:
    """Create the demo accounts, their agents and numbers; leave what is present as it is.

    `shared=False` seeds only the demo shop with its individual numbers (tests that set up shared
    numbers of their own).
    """
    accounts = {"demo": await _account("demo")}
    if not accounts["demo"].operator:
        # A self-hosted hub's one company is its own platform operator: the demo admin sees the
        # messages that reached no account (Services → Unmatched).
        await accounts["demo"].set({"operator": True})
    if shared:
        accounts[ROZA_SLUG] = await _account(ROZA_SLUG)
    for login in DEMO_LOGINS:
        account = accounts.get(login.account)
        if account is not None and await Agent.find_one({"email": login.email}) is None:
            assert account.id is not None
            await auth.create_agent(account.id, login.email, login.name, login.password, login.role)
    demo_id = accounts["demo"].id
    assert demo_id is not None
    await _move_old_short_code(demo_id)
    for e164, kind, label in (
        (DEMO_NUMBER, NumberType.NDI, "Demo NDI line"),
        (DEMO_SHORT_CODE, NumberType.SCI, "Demo short code"),
    ):
        if await Number.find_one({"e164": e164}) is None:
            await Number(account_id=demo_id, e164=e164, type=kind, provider="simulator", label=label).insert()
    if shared:
        for spec in SHARED_NUMBERS:
            await _shared_number(spec)
        for reservation in RESERVATIONS:
            account_id = accounts[reservation.account].id
            assert account_id is not None
            await _reserve(account_id, reservation)
    setup_changed()
    return accounts["demo"]


async def _account(slug: str) -> Account:
    account = await Account.find_one({"slug": slug})
    if account is None:
        account = await auth.create_account(ACCOUNTS[slug], slug)
    assert account.id is not None
    return account


async def _move_old_short_code(demo_id: PydanticObjectId) -> None:
    """An older demo had its SCI on 4301: renumber it to the SCI's new number, with all it holds."""
    old = await Number.find_one({"e164": SHARED_SC})
    if old is None or old.type is not NumberType.SCI or old.account_id != demo_id:
        return
    if await Number.find_one({"e164": DEMO_SHORT_CODE}) is not None:
        log.warning(
            "demo: %s is the demo's SCI and %s is taken; 4301 stays individual", SHARED_SC, DEMO_SHORT_CODE
        )
        return
    # Only these fields: the number keeps its id, so its conversations, keywords, autoresponders,
    # surveys and statistics stay with it. Conversations keep the number they show in the inbox.
    await old.set({"e164": DEMO_SHORT_CODE})
    await Conversation.get_pymongo_collection().update_many(
        {"number_id": old.id}, {"$set": {"number": DEMO_SHORT_CODE}}
    )
    log.info(
        "demo: the demo's short code moved from %s to %s; %s is now shared",
        SHARED_SC,
        DEMO_SHORT_CODE,
        SHARED_SC,
    )


async def _shared_number(spec: SharedNumber) -> None:
    """The operator's shared number with its texts; an existing one keeps the texts it has."""
    number = await Number.find_one({"e164": spec.e164})
    if number is None:
        await Number(
            account_id=None,
            e164=spec.e164,
            type=spec.type,
            provider="simulator",
            label=spec.label,
            default_reply=spec.default_reply,
            help_text=spec.help_text,
            opt_in_reply=spec.opt_in_reply,
        ).insert()
    elif number.type is not spec.type or number.account_id is not None:
        log.warning(
            "demo: %s exists as %s, not a shared %s; left as it is", spec.e164, number.type, spec.type
        )


async def _reserve(account_id: PydanticObjectId, r: Reservation) -> None:
    """The keyword with its group and autoresponder, through the set-up services' validation."""
    number = await Number.find_one({"e164": r.number})
    if number is None or number.account_id is not None or number.id is None:
        return  # not the shared number the demo expects (see _shared_number)
    if await KeywordDoc.find_one({"number_id": number.id, "normalised": normalise(r.keyword)}) is not None:
        return  # reserved already: by this seed, or by an account's admin since
    group_ids = await config.group_ids_by_name(account_id, [r.group])
    responder = await AutoresponderDoc.find_one(
        {"account_id": account_id, "number_id": number.id, "name": r.autoresponder}
    )
    if responder is None:
        responder = AutoresponderDoc(
            account_id=account_id,
            number_id=number.id,
            name=r.autoresponder,
            template=r.template,
            on_keyword=True,
        )
        responder.to_domain()  # the checks the set-up API makes
        await responder.insert()
    await config.save_keyword(
        account_id,
        str(number.id),
        r.keyword,
        KeywordKind.EXACT,
        group_ids=[str(g) for g in group_ids],
        autoresponder_ids=[str(responder.id)],
    )


def _spaced(e164: str) -> str:
    """A Polish number as it is printed on posters (+48 503 340 503); a short code as it is."""
    if e164.startswith("+48") and len(e164) == 12:
        return f"+48 {e164[3:6]} {e164[6:9]} {e164[9:]}"
    return e164


async def number_guide() -> list[str]:
    """What to text from the phone simulator: the demo shop's own numbers, and each shared number
    with the keywords reserved on it and whose they are (read from the database, so an admin's
    later changes show too)."""
    accounts = {a.id: a for a in await Account.find({"slug": {"$in": list(ACCOUNTS)}}).to_list()}
    demo = next((a for a in accounts.values() if a.slug == "demo"), None)
    lines: list[str] = []
    if demo is not None:
        own = await Number.find(
            {"account_id": demo.id, "e164": {"$in": [DEMO_NUMBER, DEMO_SHORT_CODE]}}
        ).to_list()
        if own:
            listed = ", ".join(
                f"{n.type.value} {_spaced(n.e164)}" for n in sorted(own, key=lambda n: n.type.value)
            )
            lines.append(f"{demo.name}'s own numbers: {listed}")
    for spec in SHARED_NUMBERS:
        number = await Number.find_one({"e164": spec.e164, "account_id": None})
        if number is None:
            continue
        keywords = (
            await KeywordDoc.find(KeywordDoc.routing_query(number.id)).sort("created_at", "_id").to_list()
        )
        reserved = ", ".join(
            f"{k.text} ({accounts[k.account_id].name if k.account_id in accounts else 'another account'})"
            for k in keywords
        )
        lines.append(
            f"Shared {number.type.value} {_spaced(number.e164)}: {reserved or 'no keywords reserved'}"
        )
    return lines
