/*
 * Why a text reached no account, in words: the codes the hub stores on an unmatched text
 * (hub/store/audience.py), shared by the services page and the operator's page.
 */
import { t } from "/static/i18n.js";

const REASONS = new Set(["no_keyword", "no_binding", "opt_out", "opt_in", "help", "no_number"]);

export function unmatchedReason(code) {
  return REASONS.has(code) ? t(`unmatched.${code}`) : code;
}
