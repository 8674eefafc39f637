"""Every text key the pages use exists in both languages, with the plural forms each language needs.

The dictionaries are ES modules (web/static/i18n/<lang>-<concern>.js) holding one JSON object, so
this reads them as JSON; the keys used are found in the HTML (`data-i18n*` attributes) and in the
scripts (`t("…")`, `tn("…")`, `tOr("…")` with a literal key). Keys built at run time from a code
(`nav.<page>`, `numtype.<type>`, `unmatched.<reason>`, the campaigns page's statuses, counts and
reasons) are checked against their known codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
DICTS = WEB / "static" / "i18n"
LANGS = ("en", "pl")
# Intl.PluralRules categories for integers: English one/other, Polish one/few/many (other: fractions).
PLURAL_FORMS = {"en": ("one", "other"), "pl": ("one", "few", "many", "other")}
ATTRIBUTE = re.compile(r'data-i18n(?:-placeholder|-title|-aria-label)?="([^"]+)"')
CALL = re.compile(r"""\b(t|tn|tOr)\(\s*["']([^"'`]+)["']""")
PARAM = re.compile(r"\{(\w+)\}")
DYNAMIC = {
    "nav": ["pages", "inbox", "services", "displays", "forwarding", "campaigns", "operator", "logout"],
    "numtype": ["ND", "NDI", "SC", "SCI", "2WAY", "ECO+", "OWN"],
    "unmatched": ["no_keyword", "no_binding", "opt_out", "opt_in", "help", "no_number"],
    "cp.status": ["draft", "scheduled", "running", "paused", "waiting", "done", "cancelled"],
    "cp.kind": ["number", "2way", "eco", "name", "number-help", "2way-help", "eco-help", "name-help"],
    "cp.excluded": ["opted_out", "blocked", "duplicates", "invalid"],
    "cp.built": ["opted_out", "blocked", "duplicates", "invalid"],
    "cp.count": ["recipients", "queued", "sent", "delivered", "failed", "skipped", "replied", "opted_out"],
    "cp.replies": ["guaranteed", "best_effort", "none", "number"],
    "cp.action": ["start", "pause", "resume", "cancel"],
    "cp.rstatus": ["queued", "sent", "delivered", "failed", "skipped"],
    # The inbox (web/static/inbox*.js): conversation and message statuses, held-back replies,
    # attachment kinds, and keys picked by a condition (`t(a ? "in.x" : "in.y")`).
    "in.pill": ["open", "pending", "closed"],
    "in.msg-status": ["received", "queued", "sending", "sent", "delivered", "undelivered", "failed"],
    "in.withheld-reason": ["opted_out", "blocked", "auto_reply_limit", "usage_limit"],
    "in.withheld-send": [
        "SendAutoreply",
        "SendSurveyMessage",
        "SendHelp",
        "SendOptInConfirmation",
        "DefaultReply",
    ],
    "in.media-kind": ["image", "audio", "video", "file"],
    "in": [
        "handed-over-by",
        "handed-over-by-agent",
        "units-gsm",
        "units-utf16",
        "att-wrong-type",
        "att-unknown-type",
        "search-digits",
        "search-letters",
    ],
}
# Keys of one family glued with a hyphen (`cp.head-${key}`).
HYPHENATED = {"cp.head": ["phone", "name", "status", "sender", "sent", "delivered", "reply"]}
# The campaigns page's reasons: `["code", /pattern/, ["part", …]]`, one a line; with an `n` part the
# text is a count (web/static/campaigns-reasons.js).
REASONS = WEB / "static" / "campaigns-reasons.js"
REASON = re.compile(r'^\s*\["(\w+)", /.*/, \[(.*)\]\],$', re.MULTILINE)


def load(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    files = sorted(DICTS.glob(f"{lang}-*.js"))
    assert files, f"no {lang} dictionaries"
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert "export default {" in source, path
        data = json.loads(source[source.index("{") : source.rindex("}") + 1])
        clash = set(data) & set(merged)
        assert not clash, f"{path.name} repeats keys of another file: {sorted(clash)[:5]}"
        merged.update(data)
    return merged


@pytest.fixture(scope="module")
def dicts() -> dict[str, dict[str, str]]:
    return {lang: load(lang) for lang in LANGS}


def used_keys() -> tuple[set[str], set[str]]:
    """(keys used as plain texts, keys used with a count)."""
    plain: set[str] = set()
    counted: set[str] = set()
    for page in WEB.glob("*.html"):
        plain.update(ATTRIBUTE.findall(page.read_text(encoding="utf-8")))
    for script in (WEB / "static").glob("*.js"):
        for fn, key in CALL.findall(script.read_text(encoding="utf-8")):
            (counted if fn == "tn" else plain).add(key)
    for family, codes in DYNAMIC.items():
        plain.update(f"{family}.{code}" for code in codes)
    for family, codes in HYPHENATED.items():
        plain.update(f"{family}-{code}" for code in codes)
    for code, parts in REASON.findall(REASONS.read_text(encoding="utf-8")):
        (counted if '"n"' in parts else plain).add(f"cpr.{code}")
    return plain, counted


def test_the_pages_use_keys_at_all() -> None:
    plain, counted = used_keys()
    # A broken pattern would find nothing and pass everything below.
    assert {"login.log-in", "op.accounts", "dp.screen-language", "scr.empty"} <= plain
    assert {"op.accounts-n", "fw.attempts", "sv.members"} <= counted
    assert {"cp.preview", "cp.status.paused", "cpr.pool_busy", "cpr.sender_name_no_mms"} <= plain
    assert {"cp.recipients-n", "cpr.small_pool", "cpr.too_long"} <= counted
    assert {"in.select-conversation", "in.canned-replies", "in.best-effort", "in.reconnecting"} <= plain
    assert {"op.accounts-n", "fw.attempts", "sv.members", "in.unread-messages", "in.selected-n"} <= counted


def test_every_used_key_has_a_text_in_both_languages(dicts: dict[str, dict[str, str]]) -> None:
    plain, counted = used_keys()
    for lang in LANGS:
        missing = sorted(k for k in plain if k not in dicts[lang])
        assert not missing, f"{lang}: no text for {missing}"
        for key in counted:
            forms = [f"{key}.{form}" for form in PLURAL_FORMS[lang]]
            absent = [f for f in forms if f not in dicts[lang]]
            assert not absent, f"{lang}: plural forms missing: {absent}"


def test_both_languages_have_the_same_texts_with_the_same_placeholders(
    dicts: dict[str, dict[str, str]],
) -> None:
    def base(key: str) -> str:
        return re.sub(r"\.(zero|one|two|few|many|other)$", "", key)

    en, pl = dicts["en"], dicts["pl"]
    assert {base(k) for k in en} == {base(k) for k in pl}
    for key, text in pl.items():
        english = en.get(key) or en[f"{base(key)}.other"]
        assert set(PARAM.findall(text)) == set(PARAM.findall(english)), key


def test_polish_plural_texts_differ_where_the_grammar_does(dicts: dict[str, dict[str, str]]) -> None:
    pl = dicts["pl"]
    assert pl["common.messages.one"] == "{n} wiadomość"
    assert pl["common.messages.few"] == pl["common.messages.many"] == "{n} wiadomości"
    assert pl["op.accounts-n.few"] == "{n} konta" and pl["op.accounts-n.many"] == "{n} kont"
    recipients = [pl[f"cp.recipients-n.{form}"] for form in ("one", "few", "many")]
    assert recipients == ["{n} odbiorca", "{n} odbiorcy", "{n} odbiorców"]
    segments = [pl[f"cp.segments-n.{form}"] for form in ("one", "few", "many")]
    assert segments == ["{n} segment SMS", "{n} segmenty SMS", "{n} segmentów SMS"]
    assert pl["in.conversations-changed.few"] == "Zmieniono {n} rozmowy"
    assert pl["in.conversations-changed.many"] == "Zmieniono {n} rozmów"
    assert pl["in.unread-messages.one"] != pl["in.unread-messages.few"] != pl["in.unread-messages.many"]


def test_the_campaign_reason_patterns_recognise_the_hubs_own_sentences() -> None:
    """campaigns-reasons.js recognises the hub's English sentences by pattern: a sentence changed
    in the hub without its pattern would silently stay English on a Polish page."""
    from hub.domain.mms_limits import NO_MMS
    from hub.services.campaign_media import NAME_NO_MMS
    from hub.services.campaign_sending import SUPPRESSED, UNKNOWN_OUTCOME
    from hub.services.campaigns import small_pool_warning

    source = REASONS.read_text(encoding="utf-8")
    patterns = {
        code: re.compile(pattern)
        for code, pattern in re.findall(r'^\s*\["(\w+)", /(.*)/, \[.*\]\],$', source, re.MULTILINE)
    }
    sentences = {
        "suppressed": SUPPRESSED,
        "interrupted": UNKNOWN_OUTCOME,
        "sender_name_no_mms": NAME_NO_MMS,
        "gateway_no_mms": NO_MMS,
        "small_pool": small_pool_warning(2),
    }
    for code, sentence in sentences.items():
        assert patterns[code].fullmatch(sentence), (code, sentence)
    assert not patterns["suppressed"].fullmatch("something else")
