/*
 * Why a text reached no account, in words: the codes the hub stores on an unmatched text
 * (hub/store/audience.py), shared by the services page and the operator's page.
 */
const REASONS = {
  no_keyword: "no reserved keyword",
  no_binding: "no campaign",
  opt_out: "opt-out word",
  opt_in: "opt-in word",
  help: "help word",
  no_number: "number removed after the text arrived",
};

export function unmatchedReason(code) {
  return REASONS[code] || code;
}
