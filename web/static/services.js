/*
 * The services page: numbers, keywords, groups and contacts, autoresponders, surveys and
 * contests, statistics, and (admins) the audit log. Admins edit; agents see the same data read-only (the API answers
 * their writes with 403, so the page does not offer them).
 *
 * Every value that comes from the API or a user goes into text nodes (`h()`, textContent,
 * SVG <text>/<title> nodes); nothing is parsed as HTML. Charts are SVG built with DOM calls,
 * coloured by classes, so the page needs no inline style.
 */
import { $, api, ApiError, fullTime, goToLogin, h, pageSocket, setChildren, toast } from "/static/common.js";
import { initAudit, loadAudit } from "/static/services-audit.js";
import { unmatchedReason } from "/static/unmatched-reasons.js";
import { t, tn, tOr } from "/static/i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";
// "unmatched" is shown only to the platform operator's admins (`operator` in /api/me).
// "audit" only to the account's admins.
const TABS = ["numbers", "keywords", "contacts", "autoresponders", "surveys", "stats", "unmatched", "audit"];
const SHARED = new Set(["ND", "SC"]);
const INDIVIDUAL = new Set(["NDI", "SCI", "OWN"]);
const typeTitle = (type) => tOr(`numtype.${type}`, type);
const KINDS = ["exact", "phrase", "base", "removing"].map((kind) => [kind, t(`sv.kind-${kind}`)]);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => t(`sv.day-${day}`));
const KNOWN_PLACEHOLDERS = new Set(["name", "phone", "param", "keyword"]);
const RANGE_RE = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;
const VALIDATE_DELAY_MS = 300;
const BROWSER_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "Europe/Warsaw";

const state = {
  me: null,
  admin: false,
  numbers: [],
  groups: [],
  keywords: [],
  autoresponders: [],
  surveys: [],
  results: new Map(), // survey id -> SurveyResultsPayload
  resultEvents: new Map(), // survey id -> how many live results arrived (REST answers older than one are dropped)
  draws: new Map(), // survey id -> latest draw
  editKeyword: null,
  editAutoresponder: null,
  editSurvey: null,
  statsLoaded: false,
};

// ---------------------------------------------------------------- small helpers

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function numberById(id) {
  return state.numbers.find((n) => n.id === id) || null;
}

function numberName(id) {
  const n = numberById(id);
  return n ? `${n.e164}${n.label ? ` (${n.label})` : ""}` : t("sv.unknown-number");
}

function typeBadge(type) {
  return h("span", { class: `type-badge type-${String(type).toLowerCase()}`, title: typeTitle(type) }, type);
}

function chip(text, kind = "") {
  return h("span", { class: `chip${kind ? ` chip-${kind}` : ""}` }, text);
}

function words(value) {
  return String(value || "")
    .split(",")
    .map((w) => w.trim())
    .filter(Boolean);
}

function showError(node, err) {
  if (!err) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  const message = err instanceof ApiError && err.body && err.body.code ? `${err.message} (${err.body.code})` : err.message || String(err);
  node.textContent = message;
  node.hidden = false;
}

function options(select, items, selected) {
  setChildren(select, items.map(([value, label]) => h("option", { value, selected: value === selected }, label)));
  if (selected !== undefined && items.some(([v]) => v === selected)) select.value = selected;
}

function checkboxes(container, name, items, checked) {
  const on = new Set(checked || []);
  setChildren(
    container,
    items.length
      ? items.map(([value, label]) =>
          h("label", { class: "check" }, h("input", { type: "checkbox", name, value, checked: on.has(value) }), label),
        )
      : h("span", { class: "muted" }, t("sv.none-yet")),
  );
}

function checkedValues(container) {
  return [...container.querySelectorAll("input[type=checkbox]:checked")].map((i) => i.value);
}

function actionButton(label, onclick, { danger = false, title } = {}) {
  return h("button", { class: `btn btn-small${danger ? " btn-danger" : ""}`, type: "button", title, onclick }, label);
}

function confirmDelete(what) {
  return window.confirm(t("sv.delete-confirm", { what }));
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return t("sv.dur-s", { s });
  if (s < 3600) return s % 60 ? t("sv.dur-min-s", { m: Math.floor(s / 60), s: s % 60 }) : t("sv.dur-min", { m: s / 60 });
  const minutes = Math.floor((s % 3600) / 60);
  return minutes ? t("sv.dur-h-min", { h: Math.floor(s / 3600), m: minutes }) : t("sv.dur-h", { h: Math.floor(s / 3600) });
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function isoFromLocal(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// ---------------------------------------------------------------- tabs

function shownTabs() {
  return TABS.filter((tab) => !$(`tab-${tab}`).hidden);
}

function selectTab(name, { focus = false, updateHash = true } = {}) {
  if (!shownTabs().includes(name)) name = "numbers";
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const on = tab === name;
    button.setAttribute("aria-selected", on ? "true" : "false");
    button.tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
    if (on && focus) button.focus();
  }
  document.body.dataset.tab = name;
  if (updateHash && location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (!document.body.dataset.loaded) return;
  if (name === "stats") loadStats();
  if (name === "unmatched") loadUnmatched();
  if (name === "audit") loadAudit().catch((err) => toast(err.message));
  // Inbound messages join groups and add contacts: show the counts as they are now.
  if (name === "contacts") Promise.all([loadGroups(), loadContacts()]).catch((err) => toast(err.message));
}

function bindTabs() {
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    button.addEventListener("click", () => selectTab(tab));
    button.addEventListener("keydown", (e) => {
      const tabs = shownTabs();
      const i = tabs.indexOf(tab);
      let next = null;
      if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (e.key === "ArrowLeft") next = tabs[(i + tabs.length - 1) % tabs.length];
      else if (e.key === "Home") next = tabs[0];
      else if (e.key === "End") next = tabs[tabs.length - 1];
      if (next) {
        e.preventDefault();
        selectTab(next, { focus: true });
      }
    });
  }
  window.addEventListener("hashchange", () => selectTab(location.hash.slice(1), { updateHash: false }));
}

// ---------------------------------------------------------------- numbers and messaging settings

async function loadNumbers() {
  state.numbers = await api("GET", "/api/numbers");
  renderNumbers();
  renderNumberSelects();
}

function renderNumbers() {
  const items = state.numbers.map((n) => {
    const head = h(
      "div",
      { class: "item-head" },
      h("span", { class: "item-title" }, n.e164),
      typeBadge(n.type),
      n.owned ? null : chip(t("sv.shared"), "muted"),
      n.label ? h("span", { class: "muted" }, n.label) : null,
    );
    let body;
    if (n.owned && state.admin) {
      const id = `num-${n.id}`;
      const label = h("input", { id: `${id}-label`, type: "text", maxlength: "100", value: n.label || "", autocomplete: "off" });
      const help = h("textarea", { id: `${id}-help`, rows: "2", maxlength: "1600" });
      help.value = n.help_text || "";
      const optIn = h("textarea", { id: `${id}-optin`, rows: "2", maxlength: "1600" });
      optIn.value = n.opt_in_reply || "";
      const error = h("p", { class: "form-error", role: "alert", hidden: true });
      const form = h(
        "form",
        {
          class: "number-form",
          novalidate: true,
          onsubmit: async (e) => {
            e.preventDefault();
            showError(error, null);
            try {
              await api("PATCH", `/api/numbers/${encodeURIComponent(n.id)}`, {
                label: label.value,
                help_text: help.value,
                opt_in_reply: optIn.value,
              });
              toast(t("sv.saved-x", { x: n.e164 }), "ok");
              await loadNumbers();
            } catch (err) {
              showError(error, err);
            }
          },
        },
        h("div", { class: "field" }, h("label", { for: label.id }, t("sv.label")), label),
        h("div", { class: "field" }, h("label", { for: help.id }, t("sv.help-text-override")), help),
        h("div", { class: "field" }, h("label", { for: optIn.id }, t("sv.opt-in-override")), optIn),
        error,
        h("div", { class: "form-actions" }, h("button", { class: "btn btn-primary btn-small", type: "submit" }, t("sv.save-number"))),
      );
      body = [
        h(
          "dl",
          { class: "facts" },
          h("dt", null, t("sv.help-text")),
          h("dd", null, n.help_text || t("sv.the-accounts")),
          h("dt", null, t("sv.opt-in-reply")),
          h("dd", null, n.opt_in_reply || t("sv.the-accounts")),
        ),
        h("details", { class: "number-edit" }, h("summary", null, t("sv.edit-label-texts")), form),
      ];
    } else {
      body = h(
        "dl",
        { class: "facts" },
        n.owned ? [h("dt", null, t("sv.help-text")), h("dd", null, n.help_text || t("sv.the-accounts"))] : null,
        n.owned ? [h("dt", null, t("sv.opt-in-reply")), h("dd", null, n.opt_in_reply || t("sv.the-accounts"))] : null,
        h("dt", null, t("sv.opt-out-words")),
        h("dd", null, n.opt_out_words.join(", ")),
        h("dt", null, t("sv.help-words")),
        h("dd", null, n.help_words.join(", ")),
      );
    }
    return h("li", { class: "item number-item", dataset: { numberId: n.id, type: n.type } }, head, body);
  });
  setChildren($("number-list"), items);
}

async function loadMessaging() {
  const s = await api("GET", "/api/settings/messaging");
  // Empty means the defaults: show the words in force on an individual number as placeholders.
  const inForce = state.numbers.find((n) => n.owned && INDIVIDUAL.has(n.type));
  if (inForce) {
    $("ms-opt-out-words").placeholder = inForce.opt_out_words.join(", ");
    $("ms-opt-in-words").placeholder = inForce.opt_in_words.join(", ");
    $("ms-help-words").placeholder = inForce.help_words.join(", ");
  }
  $("ms-help-text").value = s.help_text || "";
  $("ms-opt-in-reply").value = s.opt_in_reply || "";
  $("ms-opt-out-words").value = (s.opt_out_words || []).join(", ");
  $("ms-opt-in-words").value = (s.opt_in_words || []).join(", ");
  $("ms-help-words").value = (s.help_words || []).join(", ");
}

async function saveMessaging(e) {
  e.preventDefault();
  const error = $("ms-error");
  showError(error, null);
  const nullIfEmpty = (list) => (list.length ? list : null);
  try {
    await api("POST", "/api/settings/messaging", {
      help_text: $("ms-help-text").value.trim() || null,
      opt_in_reply: $("ms-opt-in-reply").value.trim() || null,
      opt_out_words: nullIfEmpty(words($("ms-opt-out-words").value)),
      opt_in_words: nullIfEmpty(words($("ms-opt-in-words").value)),
      help_words: nullIfEmpty(words($("ms-help-words").value)),
    });
    toast(t("sv.settings-saved"), "ok");
    await loadNumbers();
    await loadMessaging();
  } catch (err) {
    showError(error, err);
  }
}

function renderNumberSelects() {
  const keywordNumbers = state.numbers.filter((n) => n.type !== "2WAY");
  const label = (n) => `${n.e164} · ${n.type}${n.label ? ` · ${n.label}` : ""}`;
  const filter = $("kw-filter-number");
  options(filter, [["", t("sv.all-numbers")], ...keywordNumbers.map((n) => [n.id, label(n)])], filter.value || "");
  const kwNumber = $("kw-number");
  options(kwNumber, keywordNumbers.map((n) => [n.id, label(n)]), kwNumber.value || (keywordNumbers[0] && keywordNumbers[0].id));
  const owned = state.numbers.filter((n) => n.owned && n.type !== "2WAY");
  // Autoresponders on a shared number answer the account's own keywords there.
  const arNumber = $("ar-number");
  options(arNumber, keywordNumbers.map((n) => [n.id, label(n)]), arNumber.value || (owned[0] && owned[0].id));
  const svNumber = $("sv-number");
  const individual = state.numbers.filter((n) => n.owned && INDIVIDUAL.has(n.type));
  options(svNumber, individual.map((n) => [n.id, label(n)]), svNumber.value || (individual[0] && individual[0].id));
  updateKeywordFormForNumber();
}

// ---------------------------------------------------------------- keywords

async function loadKeywords() {
  state.keywords = await api("GET", "/api/keywords");
  renderKeywords();
}

function surveyName(id) {
  const s = state.surveys.find((x) => x.id === id);
  return s ? s.name : t("sv.unknown-survey");
}

const STATUS_CHIPS = {
  pending: [t("sv.kw-pending"), "warn"],
  refused: [t("sv.kw-refused"), "danger"],
};

/** How a shared number's reservations are limited, as the operator set it. */
function reservationRules(number) {
  const cap = number.max_keywords_per_account;
  const parts = [cap === null || cap === undefined ? t("sv.no-limit-per-account") : t("sv.at-most-per-account", { n: cap })];
  if (number.keyword_approval) parts.push(t("sv.needs-approval"));
  return parts.join("; ");
}

function keywordItem(k, groups, responders) {
  return h(
    "li",
    { class: "item keyword-item", dataset: { keywordId: k.id, normalised: k.normalised } },
    h(
      "div",
      { class: "item-head" },
      h("span", { class: "item-title keyword-text" }, k.text),
      chip(tOr(`sv.kind-short-${k.kind}`, k.kind), "kind"),
      STATUS_CHIPS[k.status] ? chip(...STATUS_CHIPS[k.status]) : null,
      k.active ? null : chip(t("sv.inactive"), "muted"),
      k.normalised !== k.text.toLowerCase() ? h("span", { class: "muted", title: t("sv.as-compared") }, t("sv.matches", { word: k.normalised })) : null,
    ),
    h(
      "div",
      { class: "item-meta" },
      k.group_ids.map((g) => chip(t(k.kind === "removing" ? "sv.leaves" : "sv.joins", { group: groups.get(g) || "?" }))),
      k.survey_id ? chip(t("sv.survey-chip", { name: surveyName(k.survey_id) }), "survey") : null,
      k.contest_id ? chip(t("sv.contest-chip", { name: surveyName(k.contest_id) }), "survey") : null,
      k.autoresponder_ids.map((a) => chip(t("sv.replies-chip", { name: responders.get(a) || "?" }))),
    ),
    k.status === "refused" && k.status_reason
      ? h("p", { class: "item-meta keyword-status-reason" }, t("sv.refused-reason", { reason: k.status_reason }))
      : null,
    state.admin
      ? h(
          "div",
          { class: "item-actions" },
          actionButton(t("sv.edit"), () => editKeyword(k), { title: t("sv.edit-x", { x: k.text }) }),
          actionButton(t("sv.delete"), () => deleteKeyword(k), { danger: true, title: t("sv.delete-x", { x: k.text }) }),
        )
      : null,
  );
}

/** "2 of 3 reserved": refused reservations hold no word and do not count. */
function reservedCount(number, keywords) {
  const held = keywords.filter((k) => k.status !== "refused").length;
  const cap = number.max_keywords_per_account;
  return cap === null || cap === undefined ? `${held} reserved` : `${held} of ${cap} reserved`;
}

/** The keywords, one list per number (the filter narrows it to one). */
function renderKeywords() {
  const filter = $("kw-filter-number").value;
  const rows = state.keywords.filter((k) => !filter || k.number_id === filter);
  const groups = new Map(state.groups.map((g) => [g.id, g.name]));
  const responders = new Map(state.autoresponders.map((a) => [a.id, a.name || a.template]));
  const order = state.numbers.map((n) => n.id);
  const numberIds = [...new Set(rows.map((k) => k.number_id))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  setChildren(
    $("keyword-list"),
    numberIds.map((id) => {
      const number = numberById(id);
      const mine = rows.filter((k) => k.number_id === id);
      const count = number && SHARED.has(number.type) ? reservedCount(number, mine) : `${mine.length} ${mine.length === 1 ? "keyword" : "keywords"}`;
      const headId = `kw-head-${id}`;
      return h(
        "section",
        { class: "keyword-group", dataset: { numberId: id }, "aria-labelledby": headId },
        h(
          "h3",
          { class: "keyword-group-head", id: headId },
          number ? number.e164 : t("sv.unknown-number-cap"),
          " ",
          number ? typeBadge(number.type) : null,
          h("span", { class: "muted" }, ` · ${count}`),
        ),
        h("ul", { class: "item-list" }, mine.map((k) => keywordItem(k, groups, responders))),
      );
    }),
  );
  $("keyword-empty").hidden = rows.length > 0;
}

function updateKeywordFormForNumber() {
  const number = numberById($("kw-number").value);
  const shared = number ? SHARED.has(number.type) : false;
  const kind = $("kw-kind");
  const current = kind.value || "exact";
  options(kind, shared ? KINDS.slice(0, 1) : KINDS, shared ? "exact" : current);
  $("kw-kind-hint").textContent = shared
    ? t("sv.only-exact", { type: number.type, rules: reservationRules(number) })
    : "";
  const numberId = number ? number.id : "";
  const survey = $("kw-survey");
  const keep = survey.value;
  const choices = [["", t("sv.none")]];
  if (!shared) {
    for (const s of state.surveys.filter((x) => x.number_id === numberId)) {
      choices.push([`${s.contest ? "contest" : "survey"}:${s.id}`, t(s.contest ? "sv.contest-option" : "sv.survey-option", { name: s.name })]);
    }
  }
  options(survey, choices, keep);
  survey.disabled = shared;
  const keepGroups = checkedValues($("kw-groups"));
  checkboxes($("kw-groups"), "kw-group", state.groups.map((g) => [g.id, g.name]), keepGroups);
  const keepResponders = checkedValues($("kw-autoresponders"));
  checkboxes(
    $("kw-autoresponders"),
    "kw-autoresponder",
    state.autoresponders.filter((a) => a.number_id === numberId).map((a) => [a.id, a.name || a.template]),
    keepResponders,
  );
}

function keywordBody() {
  const [what, id] = ($("kw-survey").value || ":").split(":");
  return {
    number_id: $("kw-number").value,
    text: $("kw-text").value,
    kind: $("kw-kind").value || "exact",
    group_ids: checkedValues($("kw-groups")),
    survey_id: what === "survey" ? id : null,
    contest_id: what === "contest" ? id : null,
    autoresponder_ids: checkedValues($("kw-autoresponders")),
    active: $("kw-active").checked,
  };
}

const validation = { timer: null, controller: null, token: 0, state: "empty" };

function setValidation(kind, ...children) {
  const node = $("kw-validation");
  validation.state = kind;
  node.dataset.state = kind;
  setChildren(node, ...children);
  $("kw-text").setAttribute("aria-invalid", kind === "error" ? "true" : "false");
  $("kw-submit").disabled = kind !== "ok";
}

function scheduleValidation() {
  clearTimeout(validation.timer);
  if (validation.controller) validation.controller.abort();
  validation.token += 1;
  if (!$("kw-text").value.trim()) {
    setValidation("empty");
    return;
  }
  setValidation("pending", t("sv.checking"));
  validation.timer = setTimeout(validateKeyword, VALIDATE_DELAY_MS);
}

async function validateKeyword() {
  const token = ++validation.token;
  const controller = new AbortController();
  validation.controller = controller;
  const query = state.editKeyword ? `?keyword_id=${encodeURIComponent(state.editKeyword.id)}` : "";
  try {
    const result = await api("POST", `/api/keywords/validate${query}`, keywordBody(), { signal: controller.signal });
    if (token !== validation.token) return;
    setValidation("ok", t("sv.available"), h("code", { class: "normalised" }, result.normalised));
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (token !== validation.token) return;
    const code = err.body && err.body.code;
    setValidation("error", h("span", { class: "validation-message" }, err.message), code ? h("code", { class: "validation-code" }, code) : null);
  } finally {
    if (validation.controller === controller) validation.controller = null;
  }
}

function resetKeywordForm() {
  state.editKeyword = null;
  $("kw-form-title").textContent = t("sv.new-keyword");
  $("kw-submit").textContent = t("sv.create-keyword");
  $("kw-cancel").hidden = true;
  $("kw-text").value = "";
  $("kw-active").checked = true;
  $("kw-survey").value = "";
  for (const box of document.querySelectorAll("#kw-groups input, #kw-autoresponders input")) box.checked = false;
  setValidation("empty");
}

function editKeyword(k) {
  state.editKeyword = k;
  selectTab("keywords");
  $("kw-form-title").textContent = t("sv.edit-keyword", { word: k.text });
  $("kw-submit").textContent = t("sv.save-keyword");
  $("kw-cancel").hidden = false;
  $("kw-number").value = k.number_id;
  updateKeywordFormForNumber();
  $("kw-kind").value = k.kind;
  $("kw-text").value = k.text;
  $("kw-active").checked = k.active;
  $("kw-survey").value = k.survey_id ? `survey:${k.survey_id}` : k.contest_id ? `contest:${k.contest_id}` : "";
  checkboxes($("kw-groups"), "kw-group", state.groups.map((g) => [g.id, g.name]), k.group_ids);
  checkboxes(
    $("kw-autoresponders"),
    "kw-autoresponder",
    state.autoresponders.filter((a) => a.number_id === k.number_id).map((a) => [a.id, a.name || a.template]),
    k.autoresponder_ids,
  );
  $("kw-text").focus();
  scheduleValidation();
}

async function submitKeyword(e) {
  e.preventDefault();
  if (validation.state !== "ok") return;
  const submit = $("kw-submit");
  submit.disabled = true;
  try {
    const saved = state.editKeyword
      ? await api("PATCH", `/api/keywords/${encodeURIComponent(state.editKeyword.id)}`, keywordBody())
      : await api("POST", "/api/keywords", keywordBody());
    const done = state.editKeyword ? t("sv.keyword-saved") : t("sv.keyword-created");
    toast(saved && saved.status === "pending" ? `${done}: ${t("sv.kw-pending")}` : done, "ok");
    resetKeywordForm();
    await loadKeywords();
  } catch (err) {
    const code = err.body && err.body.code;
    setValidation("error", h("span", { class: "validation-message" }, err.message), code ? h("code", { class: "validation-code" }, code) : null);
  }
}

async function deleteKeyword(k) {
  if (!confirmDelete(t("sv.the-keyword", { word: k.text }))) return;
  try {
    await api("DELETE", `/api/keywords/${encodeURIComponent(k.id)}`);
    if (state.editKeyword && state.editKeyword.id === k.id) resetKeywordForm();
    await loadKeywords();
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- groups and contacts

async function loadGroups() {
  state.groups = await api("GET", "/api/groups");
  renderGroups();
  updateKeywordFormForNumber();
}

function renderGroups() {
  setChildren(
    $("group-list"),
    state.groups.map((g) =>
      h(
        "li",
        { class: "item group-item", dataset: { groupId: g.id } },
        h(
          "div",
          { class: "item-head" },
          h("span", { class: "item-title" }, g.name),
          h("span", { class: "muted group-members" }, tn("sv.members", g.members)),
          state.admin ? h("span", { class: "item-actions" }, actionButton(t("sv.delete"), () => deleteGroup(g), { danger: true, title: t("sv.delete-group", { name: g.name }) })) : null,
        ),
      ),
    ),
  );
  $("group-empty").hidden = state.groups.length > 0;
  const groupOptions = state.groups.map((g) => [g.id, g.name]);
  const filter = $("contact-group-filter");
  options(filter, [["", t("sv.all-groups")], ...groupOptions], filter.value || "");
  const add = $("contact-group");
  options(add, [["", t("sv.no-group")], ...groupOptions], add.value || "");
}

async function createGroup(e) {
  e.preventDefault();
  const error = $("group-error");
  showError(error, null);
  const name = $("group-name").value.trim();
  if (!name) {
    showError(error, new Error(t("sv.group-needs-name")));
    return;
  }
  try {
    await api("POST", "/api/groups", { name });
    $("group-name").value = "";
    await loadGroups();
  } catch (err) {
    showError(error, err);
  }
}

async function deleteGroup(g) {
  if (!confirmDelete(t("sv.the-group", { name: g.name }))) return;
  try {
    await api("DELETE", `/api/groups/${encodeURIComponent(g.id)}`);
    await Promise.all([loadGroups(), loadContacts()]);
  } catch (err) {
    toast(err.message);
  }
}

let contactToken = 0;
async function loadContacts() {
  const token = ++contactToken;
  const q = new URLSearchParams({ limit: "200" });
  const search = $("contact-search").value.trim();
  if (search) q.set("q", search);
  const group = $("contact-group-filter").value;
  if (group) q.set("group", group);
  const rows = await api("GET", `/api/contacts?${q}`);
  if (token !== contactToken) return;
  renderContacts(rows);
}

function renderContacts(rows) {
  const groups = new Map(state.groups.map((g) => [g.id, g.name]));
  setChildren(
    $("contact-list"),
    rows.map((c) =>
      h(
        "tr",
        { class: "contact-row", dataset: { contactId: c.id, phone: c.phone, blocked: String(c.blocked) } },
        h("td", { class: "contact-phone" }, c.phone),
        h("td", { class: "contact-name" }, c.name || ""),
        h("td", null, c.group_ids.map((g) => chip(groups.get(g) || "?"))),
        h(
          "td",
          null,
          c.blocked ? chip(t("sv.blocked"), "danger") : null,
          c.opted_out_of.map((n) => chip(n === "*" ? t("sv.opted-out-campaigns") : t("sv.opted-out-of", { number: n }), "warn")),
        ),
        h(
          "td",
          { class: "cell-actions" },
          state.admin
            ? actionButton(c.blocked ? t("sv.unblock") : t("sv.block"), () => toggleBlock(c), {
                danger: !c.blocked,
                title: `${c.blocked ? t("sv.unblock") : t("sv.block")} ${c.phone}`,
              })
            : null,
        ),
      ),
    ),
  );
  $("contact-empty").hidden = rows.length > 0;
}

async function toggleBlock(c) {
  try {
    await api("PATCH", `/api/contacts/${encodeURIComponent(c.id)}`, { blocked: !c.blocked });
    await loadContacts();
  } catch (err) {
    toast(err.message);
  }
}

async function createContact(e) {
  e.preventDefault();
  const error = $("contact-error");
  const phoneInput = $("contact-phone");
  showError(error, null);
  phoneInput.removeAttribute("aria-invalid");
  const phone = phoneInput.value.trim();
  // A first check here; the hub decides whether the number is real.
  if (!/^\+?[0-9 ()./-]+$/.test(phone) || phone.replace(/\D/g, "").length < 3) {
    phoneInput.setAttribute("aria-invalid", "true");
    showError(error, new Error(t("sv.enter-phone")));
    return;
  }
  const group = $("contact-group").value;
  try {
    await api("POST", "/api/contacts", {
      phone,
      name: $("contact-name").value.trim() || null,
      group_ids: group ? [group] : [],
    });
    phoneInput.value = "";
    $("contact-name").value = "";
    toast(t("sv.contact-added"), "ok");
    await Promise.all([loadContacts(), loadGroups()]);
  } catch (err) {
    if (err.field === "phone") phoneInput.setAttribute("aria-invalid", "true");
    showError(error, err);
  }
}

async function importContacts() {
  const input = $("contact-import-file");
  const result = $("contact-import-result");
  const file = input.files && input.files[0];
  if (!file) return;
  result.dataset.state = "pending";
  result.textContent = t("sv.importing", { file: file.name });
  try {
    const text = await file.text();
    const response = await fetch("/api/contacts/import", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv; charset=utf-8", Accept: "application/json" },
      body: text,
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 401) {
      goToLogin();
      return;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    result.dataset.state = "ok";
    result.textContent = t("sv.imported", { contacts: tn("sv.contacts-n", body.contacts), file: file.name });
    await Promise.all([loadContacts(), loadGroups()]);
  } catch (err) {
    result.dataset.state = "error";
    result.textContent = t("sv.nothing-imported", { error: err.message });
  } finally {
    input.value = "";
  }
}

// ---------------------------------------------------------------- autoresponders

async function loadAutoresponders() {
  state.autoresponders = await api("GET", "/api/autoresponders");
  renderAutoresponders();
  updateKeywordFormForNumber();
}

function conditionChips(a) {
  const chips = [];
  if (a.on_keyword) chips.push(chip(t("sv.on-keyword")));
  if (a.first_message) chips.push(chip(t("sv.first-message")));
  if (a.outside_hours) chips.push(chip(t("sv.outside-hours", { tz: a.outside_hours.timezone })));
  if (!chips.length) chips.push(chip(t("sv.every-message")));
  return chips;
}

function renderAutoresponders() {
  setChildren(
    $("autoresponder-list"),
    state.autoresponders.map((a) =>
      h(
        "li",
        { class: "item autoresponder-item", dataset: { autoresponderId: a.id } },
        h(
          "div",
          { class: "item-head" },
          h("span", { class: "item-title" }, a.name || t("sv.autoresponder")),
          a.active ? null : chip(t("sv.inactive"), "muted"),
          h("span", { class: "muted" }, numberName(a.number_id)),
        ),
        h("p", { class: "item-text" }, a.template),
        h(
          "div",
          { class: "item-meta" },
          conditionChips(a),
          chip(t("sv.at-most-per", { n: a.limit_count, window: duration(a.limit_window_s) }), "muted"),
          a.placeholders.map((p) => chip(`{${p}}`, KNOWN_PLACEHOLDERS.has(p) ? "muted" : "warn")),
        ),
        state.admin
          ? h(
              "div",
              { class: "item-actions" },
              actionButton(t("sv.edit"), () => editAutoresponder(a), { title: t("sv.edit-x", { x: a.name || t("sv.autoresponder") }) }),
              actionButton(t("sv.delete"), () => deleteAutoresponder(a), { danger: true, title: t("sv.delete-x", { x: a.name || t("sv.autoresponder") }) }),
            )
          : null,
      ),
    ),
  );
  $("autoresponder-empty").hidden = state.autoresponders.length > 0;
}

function buildWeekEditor() {
  setChildren(
    $("ar-week"),
    DAYS.map((day, i) =>
      h(
        "div",
        { class: "hours-day" },
        h("label", { for: `ar-day-${i}` }, day),
        h("input", {
          id: `ar-day-${i}`,
          type: "text",
          inputmode: "numeric",
          autocomplete: "off",
          spellcheck: "false",
          placeholder: i < 5 ? "09:00-17:00" : "closed",
          value: i < 5 ? "09:00-17:00" : "",
          oninput: (e) => checkRanges(e.target),
        }),
      ),
    ),
  );
}

function rangesOf(input) {
  return input.value
    .split(",")
    .map((r) => r.replace(/\s+/g, ""))
    .filter(Boolean);
}

function checkRanges(input) {
  const bad = rangesOf(input).some((r) => !RANGE_RE.test(r));
  input.setAttribute("aria-invalid", bad ? "true" : "false");
  return !bad;
}

function renderPlaceholders() {
  const template = $("ar-template").value;
  const found = [...new Set([...template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)(?:\|[^{}\r\n]*)?\}/g)].map((m) => m[1]))];
  const node = $("ar-placeholders");
  if (!found.length) {
    node.textContent = t("sv.placeholders");
    return;
  }
  setChildren(
    node,
    t("sv.uses"),
    found.map((p) =>
      h(
        "span",
        {
          class: `chip placeholder ${KNOWN_PLACEHOLDERS.has(p) ? "chip-ok" : "chip-warn"}`,
          dataset: { placeholder: p },
          title: KNOWN_PLACEHOLDERS.has(p) ? t("sv.filled-by-hub") : t("sv.filled-from-field"),
        },
        `{${p}}`,
      ),
    ),
  );
}

function autoresponderBody() {
  let hours = null;
  if ($("ar-outside-hours").checked) {
    hours = { timezone: $("ar-tz").value.trim() || "Europe/Warsaw", week: DAYS.map((_, i) => rangesOf($(`ar-day-${i}`))) };
  }
  return {
    number_id: $("ar-number").value,
    name: $("ar-name").value.trim(),
    template: $("ar-template").value,
    on_keyword: $("ar-on-keyword").checked,
    first_message: $("ar-first-message").checked,
    outside_hours: hours,
    limit_count: Number($("ar-limit-count").value || 0),
    limit_window_s: Math.round(Number($("ar-limit-window").value || 60) * 60),
    position: state.editAutoresponder ? state.editAutoresponder.position : state.autoresponders.length,
    active: $("ar-active").checked,
  };
}

async function submitAutoresponder(e) {
  e.preventDefault();
  const error = $("ar-error");
  showError(error, null);
  if (!$("ar-template").value.trim()) {
    showError(error, new Error(t("sv.write-reply")));
    $("ar-template").focus();
    return;
  }
  if ($("ar-outside-hours").checked) {
    const bad = DAYS.map((_, i) => $(`ar-day-${i}`)).filter((input) => !checkRanges(input));
    if (bad.length) {
      showError(error, new Error(t("sv.hours-format")));
      bad[0].focus();
      return;
    }
  }
  try {
    if (state.editAutoresponder) {
      await api("PATCH", `/api/autoresponders/${encodeURIComponent(state.editAutoresponder.id)}`, autoresponderBody());
      toast(t("sv.autoresponder-saved"), "ok");
    } else {
      await api("POST", "/api/autoresponders", autoresponderBody());
      toast(t("sv.autoresponder-created"), "ok");
    }
    resetAutoresponderForm();
    await Promise.all([loadAutoresponders(), loadKeywords()]);
  } catch (err) {
    showError(error, err);
  }
}

function resetAutoresponderForm() {
  state.editAutoresponder = null;
  $("ar-form-title").textContent = t("sv.new-autoresponder");
  $("ar-submit").textContent = t("sv.create-autoresponder");
  $("ar-cancel").hidden = true;
  $("ar-name").value = "";
  $("ar-template").value = "";
  $("ar-on-keyword").checked = false;
  $("ar-first-message").checked = false;
  $("ar-outside-hours").checked = false;
  $("ar-hours").hidden = true;
  $("ar-limit-count").value = "5";
  $("ar-limit-window").value = "60";
  $("ar-active").checked = true;
  showError($("ar-error"), null);
  buildWeekEditor();
  renderPlaceholders();
}

function editAutoresponder(a) {
  state.editAutoresponder = a;
  selectTab("autoresponders");
  $("ar-form-title").textContent = t("sv.edit-x", { x: a.name || t("sv.autoresponder") });
  $("ar-submit").textContent = t("sv.save-autoresponder");
  $("ar-cancel").hidden = false;
  $("ar-number").value = a.number_id;
  $("ar-name").value = a.name || "";
  $("ar-template").value = a.template;
  $("ar-on-keyword").checked = a.on_keyword;
  $("ar-first-message").checked = a.first_message;
  $("ar-outside-hours").checked = Boolean(a.outside_hours);
  $("ar-hours").hidden = !a.outside_hours;
  buildWeekEditor();
  if (a.outside_hours) {
    $("ar-tz").value = a.outside_hours.timezone;
    DAYS.forEach((_, i) => {
      $(`ar-day-${i}`).value = (a.outside_hours.week[i] || []).join(", ");
    });
  }
  $("ar-limit-count").value = String(a.limit_count);
  $("ar-limit-window").value = String(Math.round(a.limit_window_s / 60) || 1);
  $("ar-active").checked = a.active;
  renderPlaceholders();
  $("ar-template").focus();
}

async function deleteAutoresponder(a) {
  if (!confirmDelete(t("sv.the-autoresponder", { name: a.name || a.template }))) return;
  try {
    await api("DELETE", `/api/autoresponders/${encodeURIComponent(a.id)}`);
    await loadAutoresponders();
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- surveys and contests

async function loadSurveys() {
  state.surveys = await api("GET", "/api/surveys");
  renderSurveys();
  updateKeywordFormForNumber();
  await Promise.all(state.surveys.map((s) => loadResults(s.id)));
  await Promise.all(state.surveys.filter((s) => s.contest).map((s) => loadDraws(s.id)));
}

async function loadResults(id) {
  const before = state.resultEvents.get(id) || 0;
  try {
    const results = await api("GET", `/api/surveys/${encodeURIComponent(id)}/results`);
    // A live update that came while this was on its way is newer: keep it.
    if ((state.resultEvents.get(id) || 0) !== before) return;
    applyResults(results);
  } catch (err) {
    if (err.status !== 404) toast(err.message);
  }
}

async function loadDraws(id) {
  try {
    const draws = await api("GET", `/api/surveys/${encodeURIComponent(id)}/draws`);
    if (draws.length) {
      state.draws.set(id, draws[draws.length - 1]);
      renderDraw(id);
    }
  } catch (err) {
    toast(err.message);
  }
}

function applyResults(results) {
  state.results.set(results.survey_id, results);
  const card = document.querySelector(`.survey-card[data-survey-id="${CSS.escape(results.survey_id)}"]`);
  if (card) renderResults(card.querySelector(".survey-results"), results);
}

function renderSurveys() {
  setChildren(
    $("survey-list"),
    state.surveys.map((s) => {
      const resultsNode = h("div", { class: "survey-results", "aria-live": "polite" });
      const card = h(
        "article",
        { class: "survey-card", dataset: { surveyId: s.id, contest: String(s.contest) }, "aria-label": s.name },
        h(
          "div",
          { class: "item-head" },
          h("h3", { class: "item-title" }, s.name),
          chip(s.contest ? "contest" : "survey", s.contest ? "warn" : "survey"),
          h("span", { class: "muted" }, numberName(s.number_id)),
        ),
        h(
          "div",
          { class: "item-meta" },
          chip(tn("sv.questions", s.questions.length), "muted"),
          chip(tOr(`sv.votes-${s.vote_limit}`, s.vote_limit), "muted"),
          s.opens_at ? chip(t("sv.opens-at", { time: fullTime(s.opens_at) }), "muted") : null,
          s.closes_at ? chip(t("sv.closes-at", { time: fullTime(s.closes_at) }), "muted") : null,
        ),
        resultsNode,
        h(
          "div",
          { class: "item-actions" },
          h("a", { class: "btn btn-small answers-csv", href: `/api/surveys/${encodeURIComponent(s.id)}/answers.csv`, download: `answers-${s.id}.csv` }, t("sv.answers-csv")),
          state.admin ? actionButton(t("sv.edit"), () => editSurvey(s), { title: t("sv.edit-x", { x: s.name }) }) : null,
          state.admin ? actionButton(t("sv.delete"), () => deleteSurvey(s), { danger: true, title: t("sv.delete-x", { x: s.name }) }) : null,
        ),
        s.contest ? drawBox(s) : null,
      );
      const results = state.results.get(s.id);
      if (results) renderResults(resultsNode, results);
      else resultsNode.appendChild(h("p", { class: "muted" }, t("sv.loading-results")));
      return card;
    }),
  );
  $("survey-empty").hidden = state.surveys.length > 0;
  for (const s of state.surveys) if (state.draws.has(s.id)) renderDraw(s.id);
}

/** Every configured answer of a question, with its count (answers nobody gave count 0). */
function answerRows(question, results) {
  const counts = new Map((results ? results.answers : []).map((a) => [a.answer, a.count]));
  const rows = [];
  if (question && question.answers === "choice") {
    for (const choice of question.choices) {
      rows.push({ answer: choice, count: counts.get(choice) || 0 });
      counts.delete(choice);
    }
  }
  for (const [answer, count] of counts) rows.push({ answer, count });
  return rows;
}

function renderResults(node, results) {
  const survey = state.surveys.find((s) => s.id === results.survey_id);
  const byId = new Map((results.questions || []).map((q) => [q.id, q]));
  const questions = survey ? survey.questions : results.questions;
  node.dataset.total = String((results.questions || []).reduce((n, q) => n + q.total, 0));
  setChildren(
    node,
    results.contest ? h("p", { class: "entrants" }, t("sv.entrants-correct"), h("strong", { class: "entrant-count" }, String(results.entrants))) : null,
    questions.map((q) => {
      const r = byId.get(q.id);
      const rows = answerRows(q, r);
      const total = r ? r.total : 0;
      return h(
        "figure",
        { class: "question-results", dataset: { questionId: q.id, total: String(total) } },
        h("figcaption", null, h("span", { class: "question-text" }, q.text), h("span", { class: "muted" }, ` · ${tn("sv.answers", total)}`)),
        rows.length ? barChart(rows, q.correct) : h("p", { class: "muted" }, t("sv.no-answers")),
      );
    }),
  );
}

/** A horizontal bar chart: one row per answer, the bar's length its share of the largest count. */
function barChart(rows, correct) {
  const rowH = 26;
  const width = 420;
  const labelW = 120;
  const countW = 44;
  const barMax = width - labelW - countW;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const height = rows.length * rowH;
  const chart = svg("svg", {
    class: "bar-chart",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    preserveAspectRatio: "xMinYMin meet",
    "aria-label": rows.map((r) => `${r.answer}: ${r.count}`).join(", "),
  });
  rows.forEach((r, i) => {
    const y = i * rowH;
    const w = r.count ? Math.max(2, Math.round((r.count / max) * barMax)) : 0;
    const label = r.answer.length > 16 ? `${r.answer.slice(0, 15)}…` : r.answer;
    const isCorrect = correct && r.answer.toLowerCase() === String(correct).toLowerCase();
    chart.appendChild(
      svg(
        "g",
        { class: `bar-row${isCorrect ? " correct" : ""}`, "data-answer": r.answer, "data-count": r.count },
        svg("title", { text: `${r.answer}: ${r.count}` }),
        svg("text", { class: "bar-label", x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", text: label }),
        svg("rect", { class: "bar-track", x: labelW, y: y + 5, width: barMax, height: rowH - 10, rx: 3 }),
        svg("rect", { class: "bar", x: labelW, y: y + 5, width: w, height: rowH - 10, rx: 3 }),
        svg("text", { class: "bar-count", x: labelW + barMax + 8, y: y + rowH / 2 + 4, text: String(r.count) }),
      ),
    );
  });
  return chart;
}

function drawBox(s) {
  const winners = h("input", { id: `draw-winners-${s.id}`, type: "number", min: "1", max: "1000", value: "1", class: "input-small" });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const result = h("div", { class: "draw-result", "aria-live": "polite" });
  const form = state.admin
    ? h(
        "form",
        {
          class: "inline-form draw-form",
          novalidate: true,
          onsubmit: async (e) => {
            e.preventDefault();
            showError(error, null);
            try {
              const draw = await api("POST", `/api/surveys/${encodeURIComponent(s.id)}/draws`, { winners: Number(winners.value || 1) });
              state.draws.set(s.id, draw);
              renderDraw(s.id);
            } catch (err) {
              showError(error, err);
            }
          },
        },
        h("label", { for: winners.id }, t("sv.winners")),
        winners,
        h("button", { class: "btn btn-primary btn-small draw-button", type: "submit" }, t("sv.draw-winners")),
      )
    : null;
  return h("div", { class: "draw-box" }, h("h4", null, t("sv.draw")), form, error, result);
}

function renderDraw(id) {
  const draw = state.draws.get(id);
  const node = document.querySelector(`.survey-card[data-survey-id="${CSS.escape(id)}"] .draw-result`);
  if (!draw || !node) return;
  setChildren(
    node,
    h(
      "dl",
      { class: "facts" },
      h("dt", null, t("sv.drawn")),
      h("dd", null, fullTime(draw.at)),
      h("dt", null, t("sv.seed")),
      h("dd", null, h("code", { class: "draw-seed" }, draw.seed)),
      h("dt", null, t("sv.entrants-n", { n: draw.entrants.length })),
      h("dd", { class: "draw-entrants" }, draw.entrants.join(", ")),
      h("dt", null, t("sv.winners")),
      h("dd", null, h("ol", { class: "draw-winners" }, draw.winners.map((w) => h("li", null, w)))),
    ),
    h("a", { class: "btn btn-small", href: `/api/surveys/${encodeURIComponent(id)}/draws/${encodeURIComponent(draw.id)}/entrants.csv`, download: `draw-${draw.id}.csv` }, t("sv.entrants-csv")),
  );
}

let questionCounter = 0;
function addQuestion(q = {}) {
  const n = ++questionCounter;
  const id = (suffix) => `sv-q${n}-${suffix}`;
  const type = h(
    "select",
    { id: id("type"), class: "q-type" },
    h("option", { value: "choice" }, t("sv.q-choice")),
    h("option", { value: "number" }, t("sv.q-number")),
    h("option", { value: "text" }, t("sv.q-text")),
  );
  type.value = q.answers || "choice";
  const text = h("textarea", { id: id("text"), class: "q-text", rows: "2", maxlength: "1000" });
  text.value = q.text || "";
  const choices = h("input", { id: id("choices"), class: "q-choices", type: "text", autocomplete: "off", placeholder: "A, B, C", value: (q.choices || []).join(", ") });
  const min = h("input", { id: id("min"), class: "q-min", type: "number", value: q.minimum ?? "" });
  const max = h("input", { id: id("max"), class: "q-max", type: "number", value: q.maximum ?? "" });
  const correct = h("input", { id: id("correct"), class: "q-correct", type: "text", autocomplete: "off", value: q.correct || "" });
  const hint = h("input", { id: id("hint"), class: "q-hint", type: "text", autocomplete: "off", maxlength: "1000", placeholder: t("sv.q-hint-placeholder"), value: q.hint || "" });
  const choiceField = h("div", { class: "field q-choice-field" }, h("label", { for: choices.id }, t("sv.q-choices")), choices);
  const rangeField = h(
    "div",
    { class: "form-row q-range-field" },
    h("div", { class: "field" }, h("label", { for: min.id }, t("sv.q-min")), min),
    h("div", { class: "field" }, h("label", { for: max.id }, t("sv.q-max")), max),
  );
  const correctField = h("div", { class: "field q-correct-field" }, h("label", { for: correct.id }, t("sv.q-correct")), correct);
  const box = h(
    "fieldset",
    { class: "question", dataset: { questionId: q.id || "" } },
    h("legend", { class: "question-legend" }, t("sv.question")),
    h("div", { class: "field" }, h("label", { for: text.id }, t("sv.q-text-label")), text),
    h("div", { class: "field" }, h("label", { for: type.id }, t("sv.q-answers")), type),
    choiceField,
    rangeField,
    correctField,
    h("div", { class: "field" }, h("label", { for: hint.id }, t("sv.q-hint")), hint),
    h("button", { class: "btn btn-small btn-danger q-remove", type: "button", onclick: () => { box.remove(); numberQuestions(); } }, t("sv.remove-question")),
  );
  const sync = () => {
    choiceField.hidden = type.value !== "choice";
    rangeField.hidden = type.value !== "number";
    correctField.hidden = !$("sv-contest").checked || type.value === "text";
  };
  type.addEventListener("change", sync);
  box.sync = sync;
  $("sv-questions").appendChild(box);
  sync();
  numberQuestions();
  return box;
}

function numberQuestions() {
  const boxes = [...$("sv-questions").querySelectorAll(".question")];
  boxes.forEach((box, i) => {
    box.querySelector(".question-legend").textContent = t("sv.question-n", { n: i + 1 });
    box.querySelector(".q-remove").hidden = boxes.length < 2;
  });
}

function surveyBody() {
  const contest = $("sv-contest").checked;
  const used = new Set();
  const questions = [...$("sv-questions").querySelectorAll(".question")].map((box, i) => {
    let id = box.dataset.questionId || `q${i + 1}`;
    while (used.has(id)) id = `${id}x`;
    used.add(id);
    const answers = box.querySelector(".q-type").value;
    const num = (sel) => {
      const v = box.querySelector(sel).value;
      return v === "" ? null : Number(v);
    };
    return {
      id,
      text: box.querySelector(".q-text").value.trim(),
      answers,
      choices: answers === "choice" ? words(box.querySelector(".q-choices").value) : [],
      minimum: answers === "number" ? num(".q-min") : null,
      maximum: answers === "number" ? num(".q-max") : null,
      hint: box.querySelector(".q-hint").value.trim() || null,
      correct: contest && answers !== "text" ? box.querySelector(".q-correct").value.trim() || null : null,
    };
  });
  const text = (id) => $(id).value.trim() || null;
  return {
    number_id: $("sv-number").value,
    name: $("sv-name").value.trim(),
    questions,
    vote_limit: $("sv-vote-limit").value,
    opens_at: isoFromLocal($("sv-opens").value),
    closes_at: isoFromLocal($("sv-closes").value),
    timezone: state.editSurvey ? state.editSurvey.timezone : BROWSER_TZ,
    thanks_text: text("sv-thanks"),
    closed_text: text("sv-closed"),
    not_open_text: text("sv-not-open"),
    limit_text: text("sv-limit-text"),
  };
}

function checkSurvey(body) {
  if (!body.number_id) return t("sv.needs-individual");
  if (!body.name) return t("sv.needs-name");
  for (const [i, q] of body.questions.entries()) {
    if (!q.text) return t("sv.q-needs-text", { n: i + 1 });
    if (q.answers === "choice" && !q.choices.length) return t("sv.q-needs-choices", { n: i + 1 });
    if ($("sv-contest").checked && q.answers !== "text" && !q.correct) return t("sv.q-needs-correct", { n: i + 1 });
  }
  if ($("sv-contest").checked && body.questions.every((q) => !q.correct)) return t("sv.contest-needs-correct");
  if (body.opens_at && body.closes_at && body.opens_at >= body.closes_at) return t("sv.open-before-close");
  return null;
}

async function submitSurvey(e) {
  e.preventDefault();
  const error = $("sv-error");
  showError(error, null);
  const body = surveyBody();
  const problem = checkSurvey(body);
  if (problem) {
    showError(error, new Error(problem));
    return;
  }
  try {
    if (state.editSurvey) {
      await api("PATCH", `/api/surveys/${encodeURIComponent(state.editSurvey.id)}`, body);
      toast(t("sv.survey-saved"), "ok");
    } else {
      await api("POST", "/api/surveys", body);
      toast(t($("sv-contest").checked ? "sv.contest-created" : "sv.survey-created"), "ok");
    }
    resetSurveyForm();
    await loadSurveys();
    renderKeywords();
  } catch (err) {
    showError(error, err);
  }
}

function resetSurveyForm() {
  state.editSurvey = null;
  $("sv-form-title").textContent = t("sv.new-survey-or-contest");
  $("sv-submit").textContent = t("sv.create");
  $("sv-cancel").hidden = true;
  for (const id of ["sv-name", "sv-opens", "sv-closes", "sv-thanks", "sv-closed", "sv-not-open", "sv-limit-text"]) $(id).value = "";
  $("sv-vote-limit").value = "once";
  $("sv-contest").checked = false;
  $("sv-contest").disabled = false;
  $("sv-questions").replaceChildren();
  showError($("sv-error"), null);
  addQuestion();
}

function editSurvey(s) {
  state.editSurvey = s;
  selectTab("surveys");
  $("sv-form-title").textContent = t("sv.edit-x", { x: s.name });
  $("sv-submit").textContent = t("sv.save");
  $("sv-cancel").hidden = false;
  $("sv-number").value = s.number_id;
  $("sv-name").value = s.name;
  $("sv-contest").checked = s.contest;
  $("sv-vote-limit").value = s.vote_limit;
  $("sv-opens").value = localInput(s.opens_at);
  $("sv-closes").value = localInput(s.closes_at);
  $("sv-thanks").value = s.thanks_text || "";
  $("sv-closed").value = s.closed_text || "";
  $("sv-not-open").value = s.not_open_text || "";
  $("sv-limit-text").value = s.limit_text || "";
  $("sv-questions").replaceChildren();
  for (const q of s.questions) addQuestion(q);
  $("sv-name").focus();
}

async function deleteSurvey(s) {
  if (!confirmDelete(t(s.contest ? "sv.the-contest" : "sv.the-survey", { name: s.name }))) return;
  try {
    await api("DELETE", `/api/surveys/${encodeURIComponent(s.id)}`);
    if (state.editSurvey && state.editSurvey.id === s.id) resetSurveyForm();
    await loadSurveys();
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- statistics

const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: BROWSER_TZ, year: "numeric", month: "2-digit", day: "2-digit" });

function lastDays(count) {
  const days = [];
  const now = Date.now();
  for (let i = count - 1; i >= 0; i -= 1) days.push(dayFormat.format(new Date(now - i * 86400000)));
  return [...new Set(days)];
}

let statsToken = 0;
async function loadStats() {
  const token = ++statsToken;
  const days = Number($("stats-days").value || 30);
  const q = `days=${days}&tz=${encodeURIComponent(BROWSER_TZ)}`;
  try {
    const [keywords, numbers, first] = await Promise.all([
      api("GET", `/api/stats/keywords?${q}`),
      api("GET", `/api/stats/numbers?${q}`),
      api("GET", `/api/stats/first-response?days=${days}`),
    ]);
    if (token !== statsToken) return;
    state.stats = { days: lastDays(days), keywords, numbers, first };
    renderStats();
    state.statsLoaded = true;
    document.body.dataset.statsLoaded = "true";
  } catch (err) {
    toast(err.message);
  }
}

function renderStats() {
  const { days, keywords, numbers, first } = state.stats;
  setChildren(
    $("first-response"),
    [
      [t("sv.st-conversations"), String(first.conversations)],
      [t("sv.st-answered"), String(first.answered)],
      [t("sv.st-waiting"), String(first.unanswered)],
      [t("sv.st-median"), duration(first.median_s)],
      [t("sv.st-mean"), duration(first.mean_s)],
      [t("sv.st-longest"), duration(first.max_s)],
    ].map(([label, value]) => h("div", { class: "figure" }, h("dt", null, label), h("dd", null, value))),
  );

  const names = [...new Set(keywords.map((r) => r.keyword))].sort();
  const byDay = new Map(days.map((d) => [d, []]));
  for (const r of keywords) {
    if (!byDay.has(r.day)) byDay.set(r.day, []);
    byDay.get(r.day).push({ series: names.indexOf(r.keyword), name: r.keyword, value: r.messages });
  }
  renderColumnChart($("chart-keywords"), byDay, names, "stacked", t("sv.no-keyword-messages"), t("sv.keyword-messages-per-day"));

  const select = $("stats-number");
  const seen = [...new Set([...state.numbers.filter((n) => n.owned).map((n) => n.e164), ...numbers.map((r) => r.number)])];
  options(select, seen.map((e) => [e, e]), select.value && seen.includes(select.value) ? select.value : seen[0]);
  renderNumberChart();
}

function renderNumberChart() {
  if (!state.stats) return;
  const { days, numbers } = state.stats;
  const number = $("stats-number").value;
  const byDay = new Map(days.map((d) => [d, []]));
  for (const r of numbers.filter((x) => x.number === number)) {
    if (!byDay.has(r.day)) byDay.set(r.day, []);
    byDay.get(r.day).push({ series: 0, name: "in", value: r.inbound }, { series: 1, name: "out", value: r.outbound });
  }
  renderColumnChart($("chart-numbers"), byDay, [t("sv.inbound"), t("sv.outbound")], "grouped", t("sv.no-number-messages"), t("sv.messages-per-day-on", { number }));
}

/**
 * Columns per day: "stacked" puts each series on top of the previous one, "grouped" side by
 * side. Every rectangle has a <title> for its exact value; a legend names the series.
 */
function renderColumnChart(container, byDay, seriesNames, mode, emptyText, label) {
  const days = [...byDay.keys()].sort();
  const totals = days.map((d) => byDay.get(d).reduce((n, p) => (mode === "stacked" ? n + p.value : Math.max(n, p.value)), 0));
  const grand = byDay.size ? [...byDay.values()].flat().reduce((n, p) => n + p.value, 0) : 0;
  if (!grand) {
    setChildren(container, h("p", { class: "muted chart-empty" }, emptyText));
    container.dataset.total = "0";
    return;
  }
  const max = Math.max(1, ...totals);
  const width = 640;
  const height = 220;
  const left = 34;
  const bottom = 22;
  const top = 10;
  const plotH = height - top - bottom;
  const slot = (width - left - 4) / days.length;
  const barW = Math.max(2, slot * 0.72);
  const chart = svg("svg", { class: "column-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("sv.chart-total", { label, n: grand }) });
  // Whole-number gridlines: 0, the middle when it is whole, the top.
  for (const value of [...new Set([0, max / 2, max])].filter(Number.isInteger)) {
    const y = top + plotH - (value / max) * plotH;
    chart.appendChild(svg("line", { class: "grid-line", x1: left, x2: width, y1: y, y2: y }));
    chart.appendChild(svg("text", { class: "axis-label", x: left - 4, y: y + 4, "text-anchor": "end", text: String(value) }));
  }
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((day, i) => {
    const x0 = left + i * slot + (slot - barW) / 2;
    const points = byDay.get(day);
    const group = svg("g", { class: "day", "data-day": day, "data-total": points.reduce((n, p) => n + p.value, 0) });
    let stackedY = top + plotH;
    const each = mode === "grouped" ? barW / Math.max(1, seriesNames.length) : barW;
    for (const p of points) {
      if (!p.value) continue;
      const hgt = Math.max(1, (p.value / max) * plotH);
      let x = x0;
      let y;
      if (mode === "stacked") {
        stackedY -= hgt;
        y = stackedY;
      } else {
        x = x0 + p.series * each;
        y = top + plotH - hgt;
      }
      group.appendChild(
        svg(
          "rect",
          { class: `col series-${p.series % 8}`, x: x.toFixed(1), y: y.toFixed(1), width: each.toFixed(1), height: hgt.toFixed(1), "data-series": p.name, "data-value": p.value },
          svg("title", { text: `${day} · ${p.name}: ${p.value}` }),
        ),
      );
    }
    chart.appendChild(group);
    if (i % labelEvery === 0) {
      chart.appendChild(svg("text", { class: "axis-label", x: (x0 + barW / 2).toFixed(1), y: height - 6, "text-anchor": "middle", text: day.slice(5) }));
    }
  });
  const legend = h(
    "ul",
    { class: "legend", "aria-label": t("sv.legend") },
    seriesNames.map((name, i) => h("li", null, h("span", { class: `swatch series-${i % 8}`, "aria-hidden": "true" }), name)),
  );
  container.dataset.total = String(grand);
  setChildren(container, chart, legend);
}

// ---------------------------------------------------------------- live results over /ws

const rt = { socket: null, readyCount: 0 };

function setConnection(name) {
  document.body.dataset.connection = name;
  $("connection-banner").hidden = name !== "down";
}

function connect() {
  rt.socket = pageSocket({ onReady, onEvent: onSocketMessage, setConnection });
}

function onReady() {
  rt.readyCount += 1;
  // Results that changed while the socket was away (or before it first connected).
  for (const s of state.surveys) loadResults(s.id);
}

function onSocketMessage(msg) {
  switch (msg.type) {
    case "keyword.status":
      // The operator decided on a reservation: show its status (and reason) at once.
      loadKeywords().catch((err) => toast(err.message));
      break;
    case "survey.results":
      if (msg.data && msg.data.survey_id) {
        state.resultEvents.set(msg.data.survey_id, (state.resultEvents.get(msg.data.survey_id) || 0) + 1);
        if (!state.surveys.some((s) => s.id === msg.data.survey_id)) {
          loadSurveys().catch((err) => toast(err.message));
        } else {
          applyResults(msg.data);
        }
      }
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- start

function applyRole() {
  document.body.dataset.role = state.admin ? "admin" : "agent";
  $("readonly-note").hidden = state.admin;
  if (state.admin) return;
  for (const node of document.querySelectorAll(".admin-only")) node.hidden = true;
  for (const field of document.querySelectorAll("#messaging-form input, #messaging-form textarea")) {
    field.readOnly = true;
  }
}

function bindUi() {
  bindTabs();
  // Log out: the shared top bar (topbar.js).
  $("messaging-form").addEventListener("submit", saveMessaging);

  $("kw-filter-number").addEventListener("change", renderKeywords);
  $("kw-number").addEventListener("change", () => {
    updateKeywordFormForNumber();
    scheduleValidation();
  });
  $("kw-text").addEventListener("input", scheduleValidation);
  for (const id of ["kw-kind", "kw-survey", "kw-active", "kw-groups", "kw-autoresponders"]) {
    $(id).addEventListener("change", scheduleValidation);
  }
  $("keyword-form").addEventListener("submit", submitKeyword);
  $("kw-cancel").addEventListener("click", resetKeywordForm);

  $("group-form").addEventListener("submit", createGroup);
  let searchTimer = null;
  $("contact-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadContacts().catch((err) => toast(err.message)), 250);
  });
  $("contact-group-filter").addEventListener("change", () => loadContacts().catch((err) => toast(err.message)));
  $("contact-form").addEventListener("submit", createContact);
  $("contact-import-file").addEventListener("change", importContacts);

  $("ar-template").addEventListener("input", renderPlaceholders);
  $("ar-outside-hours").addEventListener("change", () => {
    $("ar-hours").hidden = !$("ar-outside-hours").checked;
  });
  $("ar-form").addEventListener("submit", submitAutoresponder);
  $("ar-cancel").addEventListener("click", resetAutoresponderForm);

  $("sv-add-question").addEventListener("click", () => addQuestion().querySelector(".q-text").focus());
  $("sv-contest").addEventListener("change", () => {
    for (const box of $("sv-questions").querySelectorAll(".question")) box.sync();
  });
  $("survey-form").addEventListener("submit", submitSurvey);
  $("sv-cancel").addEventListener("click", resetSurveyForm);

  $("stats-days").addEventListener("change", loadStats);
  $("unmatched-refresh").addEventListener("click", loadUnmatched);
  $("unmatched-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    loadUnmatched();
  });
  $("unmatched-number").addEventListener("input", () => {
    clearTimeout(unmatchedTimer);
    unmatchedTimer = setTimeout(loadUnmatched, VALIDATE_DELAY_MS);
  });
  $("stats-number").addEventListener("change", renderNumberChart);
}

// ---------------------------------------------------------------- unmatched messages (operator)

let unmatchedRequest = 0;
let unmatchedTimer = null;

async function loadUnmatched() {
  clearTimeout(unmatchedTimer);
  const number = $("unmatched-number").value.replace(/\s+/g, "");
  const query = new URLSearchParams({ limit: "200" });
  if (number) query.set("number", number);
  // Typing refilters; an older answer arriving late must not replace a newer one.
  const request = ++unmatchedRequest;
  let rows;
  try {
    rows = await api("GET", `/api/operator/unmatched?${query}`);
  } catch (err) {
    if (request !== unmatchedRequest) return;
    // Rows of another filter must not stand under this one.
    setChildren($("unmatched-list"));
    $("unmatched-empty").hidden = true;
    toast(err.message);
    return;
  }
  if (request !== unmatchedRequest) return;
  setChildren(
    $("unmatched-list"),
    rows.map((u) =>
      h(
        "tr",
        { class: "unmatched-row", dataset: { id: u.id, reason: u.reason } },
        h("td", { class: "unmatched-time" }, h("time", { datetime: u.received_at }, fullTime(u.received_at))),
        h("td", { class: "unmatched-number" }, u.number),
        h("td", { class: "unmatched-sender" }, u.sender),
        h("td", { class: "unmatched-text" }, u.text),
        h("td", { class: "unmatched-reason" }, unmatchedReason(u.reason)),
      ),
    ),
  );
  $("unmatched-empty").hidden = rows.length > 0;
}

// Test and debugging hooks (nothing secret: the page's own state).
window.__services = {
  get socket() {
    return rt.socket && rt.socket.ws;
  },
  get readyCount() {
    return rt.readyCount;
  },
};

async function main() {
  bindUi();
  resetAutoresponderForm();
  resetSurveyForm();
  setValidation("empty");
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    return;
  }
  state.me = me;
  state.admin = me.kind === "agent" && me.role === "admin";
  $("account-name").textContent = me.account_name || "";
  $("agent-name").textContent = me.name;
  $("agent-avatar").textContent = (me.name || "?").trim().charAt(0).toUpperCase();
  $("tab-unmatched").hidden = !(state.admin && me.operator);
  $("tab-audit").hidden = !state.admin;
  if (state.admin) initAudit(me.account_name || "", (err) => toast(err.message));
  applyRole();
  selectTab(location.hash.slice(1), { updateHash: false });
  try {
    await Promise.all([loadNumbers(), loadGroups(), loadAutoresponders()]);
    await loadMessaging();
    await loadSurveys();
    await Promise.all([loadKeywords(), loadContacts()]);
  } catch (err) {
    toast(err.message);
  }
  document.body.dataset.loaded = "true";
  if (document.body.dataset.tab === "stats") loadStats();
  if (document.body.dataset.tab === "unmatched") loadUnmatched();
  if (document.body.dataset.tab === "audit") loadAudit().catch((err) => toast(err.message));
  connect();
}

main();
