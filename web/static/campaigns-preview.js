/*
 * The campaigns page's preview: what a campaign would send, asked of the hub
 * (POST /api/campaigns/preview) before anything is stored or sent — recipients, who is left out
 * and why (invalid CSV rows listed), the cost in segments and units, encodings, sample texts and
 * warnings. Only a current preview can be started or saved: changing the form makes it stale.
 */
import { $, api, h, setChildren } from "/static/common.js";
import { mediaThumbs } from "/static/campaigns-media.js";

// Every text this script puts on the page (one place, for a translation).
export const T = {
  title: "Preview",
  recipients: (n) => (n === 1 ? "1 recipient" : `${n} recipients`),
  excludedTitle: "Left out",
  excluded: {
    opted_out: "opted out",
    blocked: "blocked",
    duplicates: "duplicates",
    invalid: "invalid numbers",
  },
  invalidTitle: "Invalid rows",
  invalidHead: ["Line", "Value", "Reason"],
  invalidMore: (shown, all) => `${shown} of ${all} listed.`,
  costTitle: "Cost",
  segments: (n) => (n === 1 ? "1 SMS segment" : `${n} SMS segments`),
  units: (n) => `${n} units`,
  mms: (n, each) => `${n} MMS (${each} unit${each === 1 ? "" : "s"} each, whatever the text's length)`,
  mmsTitle: "MMS",
  noUnits: "no unit price set for the account",
  encodings: (e) => `GSM-7: ${e["GSM-7"] || 0} · UCS-2 (Polish letters and others): ${e["UCS-2"] || 0}`,
  samplesTitle: "Sample texts",
  sampleMeta: (s) => `${s.segments} SMS · ${s.encoding}`,
  warningsTitle: "Warnings",
  stale: "The form has changed since this preview: preview again before starting.",
  none: "Nobody would receive this campaign.",
  start: "Start campaign",
  schedule: "Schedule campaign",
  saveDraft: "Save as draft",
  working: "Working…",
};

const state = { body: null, stale: true, onCreate: () => {} };

function excludedList(excluded) {
  return h(
    "ul",
    { class: "cp-excluded", id: "preview-excluded" },
    Object.keys(T.excluded).map((key) =>
      h(
        "li",
        { dataset: { excluded: key, count: String(excluded[key] || 0) } },
        h("strong", null, String(excluded[key] || 0)),
        ` ${T.excluded[key]}`,
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
    h("h4", null, T.invalidTitle),
    h(
      "div",
      { class: "cp-table-wrap" },
      h(
        "table",
        { class: "fw-table cp-invalid", id: "preview-invalid" },
        h("thead", null, h("tr", null, T.invalidHead.map((t) => h("th", null, t)))),
        h(
          "tbody",
          null,
          rows.map((r) => h("tr", null, h("td", null, String(r.line)), h("td", { class: "fw-target" }, r.value), h("td", null, r.reason))),
        ),
      ),
    ),
    all > rows.length ? h("p", { class: "fw-help cp-small" }, T.invalidMore(rows.length, all)) : null,
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
    text: future ? T.schedule : T.start,
    disabled: preview.recipients < 1,
    onClick: () => create(true),
  });
  const draftButton = h("button", {
    id: "preview-draft",
    class: "btn",
    type: "button",
    text: T.saveDraft,
    disabled: preview.recipients < 1,
    onClick: () => create(false),
  });
  setChildren(
    box,
    h("h3", null, T.title),
    h("p", { class: "cp-headline", id: "preview-recipients", dataset: { count: String(preview.recipients) } }, T.recipients(preview.recipients)),
    preview.recipients < 1 ? h("p", { class: "form-error" }, T.none) : null,
    h("div", { class: "cp-sub" }, h("h4", null, T.excludedTitle), excludedList(excluded)),
    invalidTable(preview),
    h(
      "div",
      { class: "cp-sub" },
      h("h4", null, T.costTitle),
      h(
        "p",
        { id: "preview-cost", dataset: { segments: String(preview.segments_total), units: String(preview.units_total ?? "") } },
        preview.mms ? T.mms(preview.recipients, preview.mms.units_per_message) : T.segments(preview.segments_total),
        " · ",
        preview.units_total === null || preview.units_total === undefined ? T.noUnits : T.units(preview.units_total),
      ),
      h("p", { class: "fw-help cp-small", id: "preview-encodings" }, T.encodings(preview.encodings || {})),
    ),
    preview.mms
      ? h(
          "div",
          { class: "cp-sub", id: "preview-mms", dataset: { files: String(preview.mms.files), gateway: preview.mms.gateway } },
          h("h4", null, T.mmsTitle),
          h("p", { class: "fw-help cp-small" }, preview.mms.summary),
          h("div", { class: "cp-media-thumbs" }, mediaThumbs()),
        )
      : null,
    (preview.samples || []).length
      ? h(
          "div",
          { class: "cp-sub" },
          h("h4", null, T.samplesTitle),
          h(
            "ul",
            { class: "cp-samples", id: "preview-samples" },
            preview.samples.map((s) =>
              h(
                "li",
                null,
                h("div", { class: "cp-sample-head" }, h("strong", null, s.phone), h("span", { class: "cp-muted" }, T.sampleMeta(s))),
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
          h("h4", null, T.warningsTitle),
          h("ul", { class: "cp-warnings", id: "preview-warnings" }, preview.warnings.map((w) => h("li", null, w))),
        )
      : null,
    h("p", { id: "preview-stale", class: "cp-stale", role: "status", hidden: true }, T.stale),
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
