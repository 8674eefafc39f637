/*
 * The campaigns page's editor: the message with its variables and a live segment counter
 * (segments.js, the same count as the hub's), the sender with what each kind means for replies,
 * the audience (groups, single contacts, a CSV file whose text is sent as `audience.csv`) and the
 * schedule. `collect()` gives the CampaignIn body (docs/campaigns.md) or throws what is missing.
 */
import { $, api, h, setChildren } from "/static/common.js";
import { initMedia, mediaIds, mediaUploading, resetMedia, syncMediaLimits } from "/static/campaigns-media.js";

// Every text this script puts on the page (one place, for a translation).
export const T = {
  counter: (chars, c) => `${chars} characters · ${c.segments} SMS · ${c.encoding} (${c.remaining} left in this SMS)`,
  counterEmpty: "0 characters",
  counterUcs2: "Polish letters or other characters outside GSM-7 make every SMS hold 70 characters (67 when split).",
  counterVariables: "Counted before variables are filled in; the preview counts each recipient's own text.",
  varsHelp:
    "Variables: {name|Kliencie} puts in the contact's name, or “Kliencie” when there is none; {city} and other fields come from the contact or from the CSV file's columns.",
  variables: ["{name|Kliencie}", "{city}"],
  insert: (v) => `Insert ${v}`,
  kinds: {
    number: {
      title: "Our number",
      help: "Sent from the account's own number (NDI, SCI or OWN). Replies arrive in that number's conversations in the inbox.",
    },
    "2way": {
      title: "2WAY pool",
      help: "Each recipient gets a virtual number from the operator's 2WAY pool. Replies are guaranteed to come back to this campaign and recipient.",
    },
    eco: {
      title: "ECO+",
      help: "Cheaper ECO+ virtual numbers. Replies are matched best-effort only: a reply may not be tied to this campaign or recipient.",
    },
    name: {
      title: "Sender name",
      help: "A text name instead of a number (up to 11 letters, digits, spaces, dots or hyphens). Recipients cannot reply: no replies are possible.",
    },
  },
  numberSelect: "Number",
  noNumbers: "The account has no NDI, SCI or OWN number.",
  numberOption: (n) => `${n.type} ${n.e164}${n.label ? ` · ${n.label}` : ""}`,
  senderName: "Sender name",
  groupsEmpty: "No groups yet: keywords collect them, or add them on the Services page.",
  groupMembers: (n) => (n === 1 ? "1 contact" : `${n} contacts`),
  add: "Add",
  remove: (label) => `Remove ${label}`,
  noMatches: "No matching contacts.",
  contactLabel: (c) => (c.name ? `${c.name} (${c.phone})` : c.phone),
  csvInfo: (name, lines) => `${name}: ${lines === 1 ? "1 line" : `${lines} lines`} (the header included)`,
  csvUnreadable: "The file cannot be read as text.",
  startTz: (tz) => `In this browser's time zone (${tz}).`,
  errors: {
    name: "Give the campaign a name.",
    text: "Write the message text, or attach a file.",
    uploading: "Wait until the attached files are uploaded.",
    number: "Choose one of the account's numbers.",
    senderName: "A sender name has 1 to 11 letters, digits, spaces, dots or hyphens.",
    audience: "Choose at least one group or contact, or a CSV file.",
    startAt: "Choose when the campaign starts.",
    startPast: "The start time has passed.",
    window: "The sending window needs a start, an end and a time zone.",
    tz: (tz) => `Unknown time zone “${tz}”.`,
    rate: "Messages per minute is a whole number of at least 1.",
  },
};

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
    node.textContent = T.counterEmpty;
    node.dataset.segments = "0";
    node.dataset.encoding = "GSM-7";
    $("cp-vars-help").textContent = T.varsHelp;
    return;
  }
  const c = window.countSegments(text);
  node.textContent = T.counter([...text].length, c);
  node.dataset.segments = String(c.segments);
  node.dataset.encoding = c.encoding;
  const notes = [T.varsHelp];
  if (c.encoding === "UCS-2") notes.push(T.counterUcs2);
  if (text.includes("{")) notes.push(T.counterVariables);
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

function senderChoice(kind, extra) {
  const id = `cp-sender-${kind}`;
  return h(
    "div",
    { class: "cp-choice", dataset: { kind } },
    h(
      "label",
      { class: "cp-choice-head", for: id },
      h("input", { type: "radio", name: "cp-sender-kind", id, value: kind, checked: kind === "2way" }),
      h("strong", null, T.kinds[kind].title),
    ),
    h("p", { class: "cp-choice-help", id: `${id}-help` }, T.kinds[kind].help),
    extra,
  );
}

function renderSenders() {
  const own = state.numbers.filter((n) => n.owned && ["NDI", "SCI", "OWN"].includes(n.type));
  const numberExtra = own.length
    ? h(
        "div",
        { class: "field" },
        h("label", { class: "visually-hidden", for: "cp-number" }, T.numberSelect),
        h("select", { id: "cp-number" }, own.map((n) => h("option", { value: n.id }, T.numberOption(n)))),
      )
    : h("p", { class: "fw-help cp-small" }, T.noNumbers);
  const nameExtra = h(
    "div",
    { class: "field" },
    h("label", { class: "visually-hidden", for: "cp-sender-name-text" }, T.senderName),
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
          h("span", { class: "cp-muted" }, ` · ${T.groupMembers(g.members)}`),
        ),
      ),
    ),
  );
  $("cp-groups-empty").textContent = T.groupsEmpty;
  $("cp-groups-empty").hidden = state.groups.length > 0;
}

function renderChosenContacts() {
  setChildren(
    $("cp-contacts"),
    [...state.contacts.values()].map((c) =>
      h(
        "li",
        { class: "cp-chip", dataset: { contactId: c.id } },
        h("span", null, T.contactLabel(c)),
        h("button", {
          type: "button",
          class: "btn-link",
          "aria-label": T.remove(T.contactLabel(c)),
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
    setChildren($("cp-contact-results"), h("li", { class: "cp-muted" }, T.noMatches));
    return;
  }
  setChildren(
    $("cp-contact-results"),
    found.map((c) =>
      h(
        "li",
        { dataset: { contactId: c.id } },
        h("span", null, T.contactLabel(c)),
        h("button", {
          type: "button",
          class: "btn btn-ghost btn-small",
          text: T.add,
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
    $("cp-csv-info").textContent = T.csvUnreadable;
    return;
  }
  const lines = state.csv.split(/\r\n|\r|\n/).filter((l) => l.trim()).length;
  $("cp-csv-info").textContent = T.csvInfo(file.name, lines);
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
  if (!name && !forPreview) throw new FormProblem(T.errors.name, "cp-name");
  const text = $("cp-text").value;
  const media = mediaIds();
  if (mediaUploading()) throw new FormProblem(T.errors.uploading, "cp-media-file");
  if (!text.trim() && !media.length) throw new FormProblem(T.errors.text, "cp-text");

  const kind = senderKind();
  let sender;
  if (kind === "number") {
    const select = $("cp-number");
    if (!select || !select.value) throw new FormProblem(T.errors.number, "cp-sender-number");
    sender = { kind, number_id: select.value };
  } else if (kind === "name") {
    const senderName = $("cp-sender-name-text").value.trim();
    if (!SENDER_NAME.test(senderName)) throw new FormProblem(T.errors.senderName, "cp-sender-name-text");
    sender = { kind, name: senderName };
  } else {
    sender = { kind };
  }

  const groupIds = [...document.querySelectorAll("#cp-groups input:checked")].map((i) => i.value);
  const contactIds = [...state.contacts.keys()];
  if (!groupIds.length && !contactIds.length && !state.csv) throw new FormProblem(T.errors.audience, "cp-contact-search");

  let startAt = null;
  if (document.querySelector('input[name="cp-when"]:checked').value === "at") {
    const value = $("cp-start-at").value;
    const when = value ? new Date(value) : null;
    if (!when || Number.isNaN(when.getTime())) throw new FormProblem(T.errors.startAt, "cp-start-at");
    if (!forPreview && when.getTime() < Date.now()) throw new FormProblem(T.errors.startPast, "cp-start-at");
    startAt = when.toISOString();
  }
  let window_ = null;
  if ($("cp-window-on").checked) {
    const from = $("cp-window-from").value;
    const to = $("cp-window-to").value;
    const tz = $("cp-window-tz").value.trim();
    if (!from || !to || !tz) throw new FormProblem(T.errors.window, "cp-window-from");
    if (!validZone(tz)) throw new FormProblem(T.errors.tz(tz), "cp-window-tz");
    window_ = { from, to, tz };
  }
  let rate = null;
  const rateText = $("cp-rate").value.trim();
  if (rateText) {
    rate = Number(rateText);
    if (!Number.isInteger(rate) || rate < 1) throw new FormProblem(T.errors.rate, "cp-rate");
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
    T.variables.map((v) =>
      h("button", { type: "button", class: "btn btn-ghost btn-small", title: T.insert(v), text: v, onClick: () => insertVariable(v) }),
    ),
  );
  $("cp-start-tz").textContent = T.startTz(Intl.DateTimeFormat().resolvedOptions().timeZone);
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
