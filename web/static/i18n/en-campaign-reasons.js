// English texts: campaign reasons and warnings the hub writes (campaigns-reasons.js). Keys and plural forms: docs/i18n.md.
export default {
  "cpr.sender_name_no_replies": "Recipients cannot reply to a sender name.",
  "cpr.eco_best_effort": "ECO+: replies are matched to the campaign on a best-effort basis.",
  "cpr.small_pool.one": "The 2WAY pool has {n} number: a recipient that many other live campaigns texted in the last 7 days is skipped.",
  "cpr.small_pool.other": "The 2WAY pool has {n} numbers: a recipient that many other live campaigns texted in the last 7 days is skipped.",
  "cpr.too_long.one": "{n} recipient's text needs more than {max} segments and would not be sent",
  "cpr.too_long.other": "{n} recipients' texts need more than {max} segments and would not be sent",
  "cpr.no_phone": "no phone number",
  "cpr.empty": "empty",
  "cpr.short_code": "{value} is a short code, not a phone number",
  "cpr.bad_chars": "{value} is not a phone number: only digits, spaces, ()-./ and one leading + are allowed",
  "cpr.not_valid": "{value} is not a valid phone number (default region {region})",
  "cpr.suppressed": "opted out or blocked since the audience was built",
  "cpr.interrupted": "sending was interrupted; the gateway may have sent it",
  "cpr.pool_busy": "every virtual number of the pool is held for this recipient by another live campaign",
  "cpr.number_gone": "the number {number} is no longer the account's",
  "cpr.pool_empty": "the operator has no virtual numbers left to send from",
  "cpr.sender_name_no_mms": "a sender name cannot carry MMS: send it from a number or a 2WAY pool",
  "cpr.gateway_no_mms": "this number's gateway cannot send MMS",
  "cpr.number_no_mms": "the number {number} is on {gateway}, which cannot send MMS",
  "cpr.no_pool": "the operator has no {pool} virtual numbers to send from"
};
