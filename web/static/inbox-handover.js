/*
 * Hand-over in the inbox: who gave a conversation to the humans, their note, and the way back.
 *
 * A bot (or an agent, through the API) hands a conversation over when a person should answer:
 * it is pending with `handover` set and bots receive none of its messages until it is handed
 * back (POST /api/conversations/{id}/handback; docs/websocket-api.md, Bots).
 */
import { t } from "/static/i18n.js";
import { api, h } from "/static/common.js";

/** "Handed over by FAQ bot", "Handed over by Anna Nowak (agent)", or "Handed over". */
export function handoverLabel(conv) {
  const by = conv.handover_by;
  if (!by || !by.name) return t("in.handed-over");
  return t(by.kind === "agent" ? "in.handed-over-by-agent" : "in.handed-over-by", { name: by.name });
}

/** The pill of a conversation row; null when the conversation is not handed over. */
export function handoverPill(conv) {
  if (!conv.handover) return null;
  return h(
    "span",
    { class: "status-pill status-handover", title: conv.handover_note ? t("in.handover-note", { note: conv.handover_note }) : null },
    handoverLabel(conv),
  );
}

/**
 * The bar under the thread header: who handed over, the note, and "Hand back to bot".
 * `els`: {bar, by, note, button}.
 */
export function renderHandoverBar(conv, els) {
  els.bar.hidden = !conv.handover;
  if (!conv.handover) return;
  els.by.textContent = handoverLabel(conv);
  els.note.textContent = conv.handover_note || "";
  els.note.hidden = !conv.handover_note;
  els.button.dataset.conversationId = conv.id;
}

/** Give the conversation back to the bots; resolves to the updated conversation. */
export function handBack(conversationId) {
  return api("POST", `/api/conversations/${encodeURIComponent(conversationId)}/handback`);
}
