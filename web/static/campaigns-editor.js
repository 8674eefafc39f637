/*
 * The campaigns page's editor: the message with its variables and a live segment counter
 * (segments.js, the same count as the hub's), the sender with what each kind means for replies,
 * the audience (groups, single contacts, a CSV file whose text is sent as `audience.csv`) and the
 * schedule. `collect()` gives the CampaignIn body (docs/campaigns.md) or throws what is missing.
 */
import { $, api, h, setChildren } from "/static/common.js";
import { t, tn } from "/static/i18n.js";
import { initMedia, mediaIds, mediaUploading, resetMedia, syncMediaLimits } from "/static/campaigns-media.js";

// The variables offered as buttons (the same in every language: the hub reads them).
const VARIABLES = ["{name|Kliencie}", "{city}"];
// What each sender kind is, from the common dictionary's number types (a tooltip on the choice).
const KIND_TYPES = { number: ["NDI", "SCI", "OWN"], "2way": ["2WAY"], eco: ["ECO+"], name: [] };

const SENDER_NAME = /^[A-Za-z0-9 .-]{1,11}$/;

const state = {
  numbers: [],
  groups: [],
  contacts: new Map(), // id -> contact
  csv: null,
  onChange: () => {},
  searchTimer: null,
  searchToken: 0,
};

// ---------------------------------------------------------------- message

function renderCounter() {
  const text = $("cp-text").value;
  const node = $("cp-counter");
  if (!text) {
    node.textContent = tn("cp.chars-n", 0);
    node.dataset.segments = "0";
    node.dataset.encoding = "GSM-7";
    $("cp-vars-help").textContent = t("cp.vars-help");
    return;
  }
  const c = window.countSegments(text);
  node.textContent = t("cp.counter", {
    chars: tn("cp.chars-n", [...text].length),
    segments: tn("cp.sms-n", c.segments),
    encoding: c.encoding,
    remaining: c.remaining,
  });
  node.dataset.segments = String(c.segments);
  node.dataset.encoding = c.encoding;
  const notes = [t("cp.vars-help")];
  if (c.encoding === "UCS-2") notes.push(t("cp.counter-ucs2"));
  if (text.includes("{")) notes.push(t("cp.counter-variables"));
  $("cp-vars-help").textContent = notes.join(" ");
}

function insertVariable(variable) {
  const area = $("cp-text");
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? area.value.length;
  area.setRangeText(variable, start, end, "end");
  area.focus();
  renderCounter();
  state.onChange();
}

// ---------------------------------------------------------------- sender

function numberOption(n) {
  return `${n.type} ${n.e164}${n.label ? ` · ${n.label}` : ""}`;
}

function senderChoice(kind, extra) {
  const id = `cp-sender-${kind}`;
  return h(
    "div",
    { class: "cp-choice", dataset: { kind }, title: KIND_TYPES[kind].map((type) => `${type}: ${t(`numtype.${type}`)}`).join("\n") },
    h(
      "label",
      { class: "cp-choice-head", for: id },
      h("input", { type: "radio", name: "cp-sender-kind", id, value: kind, checked: kind === "2way" }),
      h("strong", null, t(`cp.kind.${kind}`)),
    ),
    h("p", { class: "cp-choice-help", id: `${id}-help` }, t(`cp.kind.${kind}-help`)),
    extra,
  );
}

function renderSenders() {
  const own = state.numbers.filter((n) => n.owned && ["NDI", "SCI", "OWN"].includes(n.type));
  const numberExtra = own.length
    ? h(
        "div",
        { class: "field" },
        h("label", { class: "visually-hidden", for: "cp-number" }, t("cp.number-select")),
        h("select", { id: "cp-number" }, own.map((n) => h("option", { value: n.id, title: t(`numtype.${n.type}`) }, numberOption(n)))),
      )
    : h("p", { class: "fw-help cp-small" }, t("cp.no-numbers"));
  const nameExtra = h(
    "div",
    { class: "field" },
    h("label", { class: "visually-hidden", for: "cp-sender-name-text" }, t("cp.sender-name")),
    h("input", { id: "cp-sender-name-text", maxlength: "11", autocomplete: "off", placeholder: "SKLEP" }),
  );
  setChildren(
    $("cp-sender-kinds"),
    senderChoice("number", numberExtra),
    senderChoice("2way"),
    senderChoice("eco"),
    senderChoice("name", nameExtra),
  );
  if (!own.length) $("cp-sender-number").disabled = true;
  else $("cp-sender-number").checked = true;
  syncSender();
}

function senderKind() {
  const checked = document.querySelector('input[name="cp-sender-kind"]:checked');
  return checked ? checked.value : "2way";
}

function syncSender() {
  const kind = senderKind();
  for (const node of document.querySelectorAll(".cp-choice")) node.classList.toggle("cp-choice-on", node.dataset.kind === kind);
  if ($("cp-number")) $("cp-number").disabled = kind !== "number";
  $("cp-sender-name-text").disabled = kind !== "name";
  const number = kind === "number" && $("cp-number") ? $("cp-number").value : null;
  if (kind !== "number" || number) syncMediaLimits({ kind, number_id: number });
}

// ---------------------------------------------------------------- audience

function contactLabel(c) {
  return c.name ? `${c.name} (${c.phone})` : c.phone;
}

function renderGroups() {
  setChildren(
    $("cp-groups"),
    state.groups.map((g) =>
      h(
        "li",
        null,
        h(
          "label",
          { class: "check" },
          h("input", { type: "checkbox", value: g.id, dataset: { groupName: g.name } }),
          h("span", null, g.name),
          h("span", { class: "cp-muted" }, ` · ${tn("cp.contacts-n", g.members)}`),
        ),
      ),
    ),
  );
  $("cp-groups-empty").textContent = t("cp.groups-empty");
  $("cp-groups-empty").hidden = state.groups.length > 0;
}

function renderChosenContacts() {
  setChildren(
    $("cp-contacts"),
    [...state.contacts.values()].map((c) =>
      h(
        "li",
        { class: "cp-chip", dataset: { contactId: c.id } },
        h("span", null, contactLabel(c)),
        h("button", {
          type: "button",
          class: "btn-link",
          "aria-label": t("cp.remove", { label: contactLabel(c) }),
          text: "×",
          onClick: () => {
            state.contacts.delete(c.id);
            renderChosenContacts();
            state.onChange();
          },
        }),
      ),
    ),
  );
}

async function searchContacts() {
  const q = $("cp-contact-search").value.trim();
  const token = ++state.searchToken;
  if (!q) {
    setChildren($("cp-contact-results"));
    return;
  }
  let found;
  try {
    found = await api("GET", `/api/contacts?q=${encodeURIComponent(q)}&limit=10`);
  } catch (err) {
    found = [];
  }
  if (token !== state.searchToken) return;
  if (!found.length) {
    setChildren($("cp-contact-results"), h("li", { class: "cp-muted" }, t("cp.no-matches")));
    return;
  }
  setChildren(
    $("cp-contact-results"),
    found.map((c) =>
      h(
        "li",
        { dataset: { contactId: c.id } },
        h("span", null, contactLabel(c)),
        h("button", {
          type: "button",
          class: "btn btn-ghost btn-small",
          text: t("cp.add"),
          disabled: state.contacts.has(c.id),
          onClick: (e) => {
            state.contacts.set(c.id, c);
            e.currentTarget.disabled = true;
            renderChosenContacts();
            state.onChange();
          },
        }),
      ),
    ),
  );
}

async function readCsv() {
  const file = $("cp-csv").files[0];
  if (!file) {
    clearCsv();
    return;
  }
  try {
    state.csv = await file.text();
  } catch (_) {
    state.csv = null;
    $("cp-csv-info").textContent = t("cp.csv-unreadable");
    return;
  }
  const lines = state.csv.split(/\r\n|\r|\n/).filter((l) => l.trim()).length;
  $("cp-csv-info").textContent = t("cp.csv-info", { file: file.name, lines: tn("cp.lines-n", lines) });
  $("cp-csv-clear").hidden = false;
  state.onChange();
}

function clearCsv() {
  state.csv = null;
  $("cp-csv").value = "";
  $("cp-csv-info").textContent = "";
  $("cp-csv-clear").hidden = true;
  state.onChange();
}

// ---------------------------------------------------------------- schedule

function syncSchedule() {
  const at = document.querySelector('input[name="cp-when"]:checked').value === "at";
  $("cp-start-field").hidden = !at;
  $("cp-window").hidden = !$("cp-window-on").checked;
}

function validZone(tz) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch (_) {
    return false;
  }
}

// ---------------------------------------------------------------- the body

class FormProblem extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

/**
 * The CampaignIn body of what the form holds; throws a FormProblem (message, field id) for what
 * is missing. `forPreview` lets the name be empty.
 */
export function collect({ forPreview = false } = {}) {
  const name = $("cp-name").value.trim();
  if (!name && !forPreview) throw new FormProblem(t("cp.err.name"), "cp-name");
  const text = $("cp-text").value;
  const media = mediaIds();
  if (mediaUploading()) throw new FormProblem(t("cp.err.uploading"), "cp-media-file");
  if (!text.trim() && !media.length) throw new FormProblem(t("cp.err.text"), "cp-text");

  const kind = senderKind();
  let sender;
  if (kind === "number") {
    const select = $("cp-number");
    if (!select || !select.value) throw new FormProblem(t("cp.err.number"), "cp-sender-number");
    sender = { kind, number_id: select.value };
  } else if (kind === "name") {
    const senderName = $("cp-sender-name-text").value.trim();
    if (!SENDER_NAME.test(senderName)) throw new FormProblem(t("cp.err.sender-name"), "cp-sender-name-text");
    sender = { kind, name: senderName };
  } else {
    sender = { kind };
  }

  const groupIds = [...document.querySelectorAll("#cp-groups input:checked")].map((i) => i.value);
  const contactIds = [...state.contacts.keys()];
  if (!groupIds.length && !contactIds.length && !state.csv) throw new FormProblem(t("cp.err.audience"), "cp-contact-search");

  let startAt = null;
  if (document.querySelector('input[name="cp-when"]:checked').value === "at") {
    const value = $("cp-start-at").value;
    const when = value ? new Date(value) : null;
    if (!when || Number.isNaN(when.getTime())) throw new FormProblem(t("cp.err.start-at"), "cp-start-at");
    if (!forPreview && when.getTime() < Date.now()) throw new FormProblem(t("cp.err.start-past"), "cp-start-at");
    startAt = when.toISOString();
  }
  let window_ = null;
  if ($("cp-window-on").checked) {
    const from = $("cp-window-from").value;
    const to = $("cp-window-to").value;
    const tz = $("cp-window-tz").value.trim();
    if (!from || !to || !tz) throw new FormProblem(t("cp.err.window"), "cp-window-from");
    if (!validZone(tz)) throw new FormProblem(t("cp.err.tz", { tz }), "cp-window-tz");
    window_ = { from, to, tz };
  }
  let rate = null;
  const rateText = $("cp-rate").value.trim();
  if (rateText) {
    rate = Number(rateText);
    if (!Number.isInteger(rate) || rate < 1) throw new FormProblem(t("cp.err.rate"), "cp-rate");
  }
  return {
    name,
    text,
    sender,
    audience: { group_ids: groupIds, contact_ids: contactIds, csv: state.csv },
    schedule: { start_at: startAt, window: window_, rate_per_minute: rate },
    media,
  };
}

/** Show a problem (a FormProblem or an ApiError) under the form, and focus its field. */
export function showError(err) {
  const box = $("cp-error");
  if (!err) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = err.message;
  box.hidden = false;
  const field = err.field && ($(err.field) || $(`cp-${err.field}`));
  if (field && typeof field.focus === "function") field.focus();
}

/** Empty the form for the next campaign. */
export function resetEditor() {
  $("campaign-form").reset();
  state.contacts.clear();
  renderChosenContacts();
  setChildren($("cp-contact-results"));
  clearCsv();
  resetMedia();
  renderSenders();
  syncSchedule();
  renderCounter();
  showError(null);
}

export async function initEditor({ numbers, onChange }) {
  state.numbers = numbers;
  state.onChange = onChange;
  state.groups = await api("GET", "/api/groups");

  setChildren(
    $("cp-vars"),
    VARIABLES.map((v) =>
      h("button", { type: "button", class: "btn btn-ghost btn-small", title: t("cp.insert", { variable: v }), text: v, onClick: () => insertVariable(v) }),
    ),
  );
  $("cp-start-tz").textContent = t("cp.start-tz", { tz: Intl.DateTimeFormat().resolvedOptions().timeZone });
  initMedia({ onChange });
  renderSenders();
  renderGroups();
  renderCounter();
  syncSchedule();

  const form = $("campaign-form");
  form.addEventListener("input", (e) => {
    if (e.target.id === "cp-text") renderCounter();
    if (e.target.id !== "cp-contact-search") state.onChange();
  });
  form.addEventListener("change", (e) => {
    if (e.target.name === "cp-sender-kind" || e.target.id === "cp-number") syncSender();
    if (e.target.name === "cp-when" || e.target.id === "cp-window-on") syncSchedule();
    if (e.target.id !== "cp-csv" && e.target.id !== "cp-contact-search") state.onChange();
  });
  $("cp-contact-search").addEventListener("input", () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(searchContacts, 250);
  });
  $("cp-csv").addEventListener("change", readCsv);
  $("cp-csv-clear").addEventListener("click", clearCsv);
}

/** Groups may have grown since the page loaded (a keyword collects them): read them again. */
export async function reloadGroups() {
  const checked = new Set([...document.querySelectorAll("#cp-groups input:checked")].map((i) => i.value));
  state.groups = await api("GET", "/api/groups");
  renderGroups();
  for (const input of document.querySelectorAll("#cp-groups input")) input.checked = checked.has(input.value);
}
