/*
 * The campaigns page's reasons and warnings in the page's language. The hub writes them as English
 * sentences (preview warnings, invalid CSV rows, a recipient's skip or failure, a pause, why a
 * sender sends text only); each known sentence is recognised here by its pattern, given a code
 * (`cpr.<code>` in web/static/i18n/<lang>-campaign-reasons.js) and its variable parts. A sentence
 * this table does not know — a newer hub's, a gateway's own error — is shown as the hub wrote it.
 */
import { tn, tOr } from "/static/i18n.js";

// [code, pattern of the hub's English sentence, names of its captured parts]; `n` is a count.
// One entry a line: tests/unit/test_i18n_keys.py reads the codes from here.
const PATTERNS = [
  ["sender_name_no_replies", /^Recipients cannot reply to a sender name\.$/, []],
  ["eco_best_effort", /^ECO\+: replies are matched to the campaign on a best-effort basis\.$/, []],
  ["small_pool", /^The 2WAY pool has (\d+) number\(s\): a recipient that many other live campaigns texted in the last 7 days is skipped\.$/, ["n"]],
  ["too_long", /^(\d+) recipients' texts need more than (\d+) segments and would not be sent$/, ["n", "max"]],
  ["no_phone", /^no phone number$/, []],
  ["empty", /^(?:phone number is )?empty$/, []],
  ["short_code", /^(.+) is a short code, not a phone number$/, ["value"]],
  ["bad_chars", /^(.+) is not a phone number: only digits, spaces, \(\)-\.\/ and one leading \+ are allowed$/, ["value"]],
  ["not_valid", /^(.+) is not a valid phone number \(default region (\w+)\)$/, ["value", "region"]],
  ["suppressed", /^opted out or blocked since the audience was built$/, []],
  ["interrupted", /^sending was interrupted; the gateway may have sent it$/, []],
  ["pool_busy", /^every virtual number of the pool is held for this recipient by another live campaign$/, []],
  ["number_gone", /^the number (.*) is no longer the account's$/, ["number"]],
  ["pool_empty", /^the operator has no virtual numbers left to send from$/, []],
  ["sender_name_no_mms", /^a sender name cannot carry MMS: send it from a number or a 2WAY pool$/, []],
  ["gateway_no_mms", /^this number's gateway cannot send MMS$/, []],
  ["number_no_mms", /^the number (\S+) is on (\S+), which cannot send MMS$/, ["number", "gateway"]],
  ["no_pool", /^the operator has no (2WAY|ECO\+) virtual numbers to send from$/, ["pool"]],
];

/** `text` (a reason or warning the hub wrote) in the page's language, or as written when unknown. */
export function reasonText(text) {
  if (!text) return "";
  const value = String(text);
  for (const [code, pattern, names] of PATTERNS) {
    const match = value.match(pattern);
    if (!match) continue;
    const params = Object.fromEntries(names.map((name, i) => [name, match[i + 1]]));
    if ("n" in params) {
      const { n, ...rest } = params;
      return tn(`cpr.${code}`, Number(n), rest);
    }
    return tOr(`cpr.${code}`, value, params);
  }
  return value;
}
