/*
 * How a message of the inbox thread looks: its bubble, attachments, tags and delivery status.
 * Pure rendering: the thread (inbox.js) decides which status a message shows.
 */
import { t, tOr } from "/static/i18n.js";
import { formatSize, fullTime, h, icon, messageTime } from "/static/common.js";

// The texts of the campaign chip (one place, for a translation).
const CHIP = {
  label: (name) => t("in.campaign-chip", { name }),
  title: (name) => t("in.campaign-open", { name }),
};

/**
 * The chip of a message or conversation that belongs to a campaign (`{id, name}` or null):
 * "Campaign: <name>", linking to the campaign's page. A click on it does not also open the
 * conversation row it sits in.
 */
export function campaignChip(campaign) {
  if (!campaign || !campaign.id) return null;
  return h(
    "a",
    {
      class: "msg-tag campaign-chip",
      href: `/campaigns#${encodeURIComponent(campaign.id)}`,
      title: CHIP.title(campaign.name || campaign.id),
      dataset: { campaignId: campaign.id },
      onClick: (e) => e.stopPropagation(),
      onKeydown: (e) => e.stopPropagation(),
    },
    CHIP.label(campaign.name || campaign.id),
  );
}

function mediaNode(item) {
  if (!item.url) {
    return h("div", { class: "media-rejected" }, t("in.media-rejected", { reason: item.rejected || t("in.unknown-reason") }));
  }
  const mime = String(item.mime || "").toLowerCase();
  const name = item.filename || tOr(`in.media-kind.${item.kind}`, t("in.media-kind.file"));
  const label = `${name}${item.size ? ` (${formatSize(item.size)})` : ""}`;
  if (item.kind === "image" && !mime.includes("svg")) {
    return h(
      "a",
      { class: "media-image", href: item.url, target: "_blank", rel: "noopener noreferrer", title: label },
      h("img", { src: item.url, alt: name, loading: "lazy" }),
    );
  }
  const link = h("a", { class: "media-file", href: item.url, download: item.filename || "", rel: "noopener" },
    icon("paperclip", 15),
    h("span", { class: "media-file-name" }, name),
    item.size ? h("span", { class: "media-file-size" }, formatSize(item.size)) : null);
  if (item.kind === "audio" && mime.startsWith("audio/")) {
    return h("div", { class: "media-player" }, h("audio", { controls: true, preload: "none", src: item.url }), link);
  }
  if (item.kind === "video" && mime.startsWith("video/")) {
    return h("div", { class: "media-player" }, h("video", { controls: true, preload: "metadata", src: item.url }), link);
  }
  return link;
}

// Automatic replies the hub held back for an inbound message (docs/keywords.md), one line each.
// Texts: in.withheld-reason.<reason>, in.withheld-send.<send> (codes unknown to them show as they are).

function withheldNode(message) {
  const held = message.withheld || [];
  if (!held.length) return null;
  return h(
    "div",
    { class: "msg-tags msg-withheld" },
    held.map((w) =>
      h(
        "span",
        { class: "msg-tag msg-tag-warn", title: t("in.not-sent-title", { text: w.text }) },
        t("in.withheld", { what: tOr(`in.withheld-send.${w.send}`, w.send), reason: tOr(`in.withheld-reason.${w.reason}`, w.reason) }) + (w.limit ? ` (${w.limit})` : ""),
      ),
    ),
  );
}

/** Show `status` (the best one known for the message) with its history as the tooltip. */
export function renderStatus(node, message, status) {
  node.textContent = tOr(`in.msg-status.${status}`, status);
  node.dataset.status = status;
  const history = (message.status_history || []).map((s) => `${tOr(`in.msg-status.${s.status}`, s.status)} ${fullTime(s.at)}${s.detail ? ` (${s.detail})` : ""}`);
  node.title = history.join("\n") || node.textContent;
}

/** The thread's element for a message; `status` is the one its delivery status shows. */
export function renderMessage(message, status) {
  const out = message.direction === "out";
  const author = message.author || {};
  const bubble = h(
    "div",
    { class: "bubble" },
    out && author.name ? h("div", { class: "msg-author" }, author.kind === "auto" ? t("in.author-auto", { name: author.name }) : author.name) : null,
    message.keyword || message.campaign || message.campaign_id || message.best_effort
      ? h(
          "div",
          { class: "msg-tags" },
          message.keyword ? h("span", { class: "msg-tag", title: t("in.keyword-title") }, message.keyword) : null,
          message.campaign
            ? campaignChip(message.campaign)
            : message.campaign_id
              ? h("span", { class: "msg-tag", title: t("in.campaign-reply-title") }, t("in.campaign-id", { id: message.campaign_id }))
              : null,
          message.best_effort
            ? h("span", { class: "msg-tag msg-tag-warn", title: `${t("in.best-effort-title")}\n${t("numtype.ECO+")}` }, t("in.best-effort"))
            : null,
        )
      : null,
    message.text ? h("div", { class: "msg-text" }, message.text) : null,
    message.media && message.media.length ? h("div", { class: "msg-media" }, message.media.map(mediaNode)) : null,
    withheldNode(message),
  );
  const meta = h(
    "div",
    { class: "msg-meta" },
    h("time", { datetime: message.created_at, title: fullTime(message.created_at) }, messageTime(message.created_at)),
    message.segments > 1 ? h("span", { class: "msg-segments", title: message.encoding }, t("in.sms-parts", { n: message.segments })) : null,
  );
  if (out) {
    const node = h("span", { class: "message-status" });
    renderStatus(node, message, status);
    meta.appendChild(node);
  }
  bubble.appendChild(meta);
  const kind = out && author.kind === "auto" ? " msg-auto" : "";
  return h("div", { class: `msg msg-${out ? "out" : "in"}${kind}`, dataset: { messageId: message.id, seq: String(message.seq) } }, bubble);
}
