/*
 * The inbox search box: a phone number in any common form, a part of its digits, or words of
 * the contact's name or of a message's text (only the hub finds those: inbox-contact.js keeps
 * what it matched). The hub does the search (GET /api/conversations?q=, hub/domain/search.py);
 * this mirrors it for conversations that arrive live while a search is shown.
 */
const PHONE_QUERY = /^[\s+()./\-0-9]+$/;
const MIN_DIGITS = 3;
const MIN_LETTERS = 2;
const FOLD = { ł: "l", Ł: "l", ß: "ss", đ: "d", ø: "o", æ: "ae", œ: "oe" };

/** Lower case without diacritics: "Żółw" → "zolw". */
export function fold(text) {
  return String(text || "")
    .replace(/[łŁßđøæœ]/g, (c) => FOLD[c])
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase();
}

function words(text) {
  return fold(text).match(/[\p{L}\p{N}]+/gu) || [];
}

/**
 * What the search box asks for: {kind: "none"} (empty), {kind: "short", need, min} (too little
 * to search by: at least `min` "digits" or "letters"; the page words the hint in its language),
 * {kind: "phone", digits} or {kind: "name", words}. No page imports here: tests/unit/test_search_js.py
 * runs this file in Node.
 */
export function parseSearch(text) {
  const t = String(text || "").trim();
  if (!t) return { kind: "none" };
  if (PHONE_QUERY.test(t)) {
    const digits = t.replace(/\D/g, "");
    if (digits.length < MIN_DIGITS) return { kind: "short", need: "digits", min: MIN_DIGITS };
    return { kind: "phone", digits };
  }
  const searched = words(t).filter((w) => w.length >= MIN_LETTERS);
  if (!searched.length) return { kind: "short", need: "letters", min: MIN_LETTERS };
  return { kind: "name", words: searched };
}

/** Whether a conversation matches the search (an approximation of the hub's, for live rows). */
export function searchMatches(conv, search) {
  if (search.kind === "none" || search.kind === "short") return true;
  const contact = conv.contact || {};
  if (search.kind === "name") {
    const have = words(contact.name);
    return search.words.every((s) => have.some((w) => w.startsWith(s)));
  }
  const phone = String(contact.phone || "").replace(/\D/g, "");
  const d = search.digits;
  // "0048601111001" is "48601111001"; a national number ("601 111 001") is found by the
  // national beginnings below.
  const forms = [d, d.replace(/^00/, "")];
  // The hub finds a number by its first digits, its last digits, or the first digits of its
  // national number (after a country code of 1 to 3 digits).
  const starts = [0, 1, 2, 3].map((k) => phone.slice(k));
  return forms.some((f) => f.length >= MIN_DIGITS && (phone.endsWith(f) || starts.some((p) => p.startsWith(f))));
}
