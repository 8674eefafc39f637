/*
 * The campaigns page's preview: what a campaign would send, asked of the hub
 * (POST /api/campaigns/preview) before anything is stored or sent — recipients, who is left out
 * and why (invalid CSV rows listed), the cost in segments and units, encodings, sample texts and
 * warnings. Only a current preview can be started or saved: changing the form makes it stale.
 */
import { $, api, h, setChildren } from "/static/common.js";
import { formatSize, mediaThumbs } from "/static/campaigns-media.js";
import { reasonText } from "/static/campaigns-reasons.js";
import { formatNumber, t, tn } from "/static/i18n.js";

// What a preview counts as left out, in this order (each has a `cp.excluded.<key>` text).
const EXCLUDED = ["opted_out", "blocked", "duplicates", "invalid"];
const INVALID_HEAD = ["cp.invalid-line", "cp.invalid-value", "cp.invalid-reason"];

const state = { body: null, stale: true, onCreate: () => {} };

function mmsSummary(mms) {
  return t("cp.mms-summary", {
    gateway: mms.gateway,
    files: tn("cp.mms-files-n", mms.files),
    size: formatSize(mms.bytes),
    max: formatSize(mms.max_bytes),
    units: tn("cp.units-n", mms.units_per_message),
  });
}

function encodings(e) {
  return t("cp.encodings", { gsm: formatNumber(e["GSM-7"] || 0), ucs: formatNumber(e["UCS-2"] || 0) });
}

function excludedList(excluded) {
  return h(
    "ul",
    { class: "cp-excluded", id: "preview-excluded" },
    EXCLUDED.map((key) =>
      h(
        "li",
        { dataset: { excluded: key, count: String(excluded[key] || 0) } },
        // The count in bold where the language puts it ("1 opted out", "wypisani: 1").
        ...t(`cp.excluded.${key}`, { n: "\u0000" })
          .split(/(\u0000)/)
          .map((part) => (part === "\u0000" ? h("strong", null, formatNumber(excluded[key] || 0)) : part)),
      ),
    ),
  );
}

function invalidTable(preview) {
  const rows = preview.invalid_rows || [];
  if (!rows.length) return null;
  const all = (preview.excluded && preview.excluded.invalid) || rows.length;
  return h(
    "div",
    { class: "cp-sub" },
    h("h4", null, t("cp.invalid-title")),
    h(
      "div",
      { class: "cp-table-wrap" },
      h(
        "table",
        { class: "fw-table cp-invalid", id: "preview-invalid" },
        h("thead", null, h("tr", null, INVALID_HEAD.map((key) => h("th", null, t(key))))),
        h(
          "tbody",
          null,
          rows.map((r) => h("tr", null, h("td", null, String(r.line)), h("td", { class: "fw-target" }, r.value), h("td", null, reasonText(r.reason)))),
        ),
      ),
    ),
    all > rows.length ? h("p", { class: "fw-help cp-small" }, t("cp.invalid-more", { shown: formatNumber(rows.length), all: formatNumber(all) })) : null,
  );
}

function render(preview) {
  const box = $("preview");
  const excluded = preview.excluded || {};
  const future = state.body.schedule.start_at && new Date(state.body.schedule.start_at).getTime() > Date.now();
  const startButton = h("button", {
    id: "preview-start",
    class: "btn btn-primary",
    type: "button",
    text: future ? t("cp.schedule-campaign") : t("cp.start-campaign"),
    disabled: preview.recipients < 1,
    onClick: () => create(true),
  });
  const draftButton = h("button", {
    id: "preview-draft",
    class: "btn",
    type: "button",
    text: t("cp.save-draft"),
    disabled: preview.recipients < 1,
    onClick: () => create(false),
  });
  setChildren(
    box,
    h("h3", null, t("cp.preview")),
    h("p", { class: "cp-headline", id: "preview-recipients", dataset: { count: String(preview.recipients) } }, tn("cp.recipients-n", preview.recipients)),
    preview.recipients < 1 ? h("p", { class: "form-error" }, t("cp.nobody")) : null,
    h("div", { class: "cp-sub" }, h("h4", null, t("cp.excluded-title")), excludedList(excluded)),
    invalidTable(preview),
    h(
      "div",
      { class: "cp-sub" },
      h("h4", null, t("cp.cost-title")),
      h(
        "p",
        { id: "preview-cost", dataset: { segments: String(preview.segments_total), units: String(preview.units_total ?? "") } },
        preview.mms
          ? t("cp.mms-cost", { mms: tn("cp.mms-n", preview.recipients), units: tn("cp.units-n", preview.mms.units_per_message) })
          : tn("cp.segments-n", preview.segments_total),
        " · ",
        preview.units_total === null || preview.units_total === undefined ? t("cp.no-units") : tn("cp.units-n", preview.units_total),
      ),
      h("p", { class: "fw-help cp-small", id: "preview-encodings" }, encodings(preview.encodings || {})),
    ),
    preview.mms
      ? h(
          "div",
          { class: "cp-sub", id: "preview-mms", dataset: { files: String(preview.mms.files), gateway: preview.mms.gateway } },
          h("h4", null, t("cp.mms-title")),
          h("p", { class: "fw-help cp-small" }, mmsSummary(preview.mms)),
          h("div", { class: "cp-media-thumbs" }, mediaThumbs()),
        )
      : null,
    (preview.samples || []).length
      ? h(
          "div",
          { class: "cp-sub" },
          h("h4", null, t("cp.samples-title")),
          h(
            "ul",
            { class: "cp-samples", id: "preview-samples" },
            preview.samples.map((s) =>
              h(
                "li",
                null,
                h("div", { class: "cp-sample-head" }, h("strong", null, s.phone), h("span", { class: "cp-muted" }, t("cp.sample-meta", { segments: tn("cp.sms-n", s.segments), encoding: s.encoding }))),
                h("div", { class: "cp-sample-text" }, s.text),
              ),
            ),
          ),
        )
      : null,
    (preview.warnings || []).length
      ? h(
          "div",
          { class: "cp-sub" },
          h("h4", null, t("cp.warnings-title")),
          h("ul", { class: "cp-warnings", id: "preview-warnings" }, preview.warnings.map((w) => h("li", null, reasonText(w)))),
        )
      : null,
    h("p", { id: "preview-stale", class: "cp-stale", role: "status", hidden: true }, t("cp.stale")),
    h("p", { id: "preview-error", class: "form-error", role: "alert", hidden: true }),
    h("div", { class: "cp-buttons" }, startButton, draftButton),
  );
  box.hidden = false;
}

async function create(start) {
  const buttons = [$("preview-start"), $("preview-draft")];
  if (state.stale) return;
  for (const b of buttons) b.disabled = true;
  const error = $("preview-error");
  error.hidden = true;
  let campaign = null;
  try {
    campaign = await api("POST", "/api/campaigns", state.body);
    if (start) campaign = await api("POST", `/api/campaigns/${encodeURIComponent(campaign.id)}/start`);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    if (campaign) state.onCreate(campaign); // stored as a draft; it can be started from its own view
    else for (const b of buttons) b.disabled = false;
    return;
  }
  state.onCreate(campaign);
}

export function initPreview({ onCreate }) {
  state.onCreate = onCreate;
}

/** Ask the hub what `body` would send and show it. Throws the hub's refusal (ApiError). */
export async function showPreview(body) {
  const preview = await api("POST", "/api/campaigns/preview", body);
  state.body = body;
  state.stale = false;
  render(preview);
  return preview;
}

/** The form changed: the preview shown no longer describes it. */
export function markStale() {
  if (state.stale || $("preview").hidden) return;
  state.stale = true;
  $("preview-stale").hidden = false;
  for (const id of ["preview-start", "preview-draft"]) if ($(id)) $(id).disabled = true;
}

export function hidePreview() {
  state.stale = true;
  state.body = null;
  $("preview").hidden = true;
  setChildren($("preview"));
}
