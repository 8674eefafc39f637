/*
 * The operator page's numbers: every number with its type (explained on hover), gateway and
 * owner; add one (its gateway picked from the hub's); edit its gateway, label and (shared and
 * 2WAY numbers) the texts, words and automatic-reply limit; assign or move an individual number;
 * release a number from the hub.
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { gatewayOptions, loadGateways } from "/static/operator-gateways.js";
import { accounts, labelCells, onAccounts, optionalInt, showError, submitting } from "/static/operator-shared.js";
import { t, tn } from "/static/i18n.js";

/** What each type means, shown as the type's title and under the type picker. */
export const typeHelp = (type) => (["ND", "SC", "NDI", "SCI", "2WAY", "ECO+", "OWN"].includes(type) ? t(`numtype.${type}`) : type);
const INDIVIDUAL = new Set(["NDI", "SCI", "OWN"]);
const CREATABLE = ["ND", "SC", "NDI", "SCI", "2WAY", "ECO+"];

const state = { numbers: [], editing: null };

function typeOf(n) {
  return n.type === "2WAY" && n.eco_plus ? "ECO+" : n.type;
}

function ownerText(n) {
  if (n.account_id) {
    const a = accounts.byId.get(n.account_id);
    return a ? `${a.name} (${a.slug})` : n.account_slug || n.account_id;
  }
  return n.type === "2WAY" ? t("op.owner-pool") : t("op.owner-shared");
}

function numberRow(n) {
  const type = typeOf(n);
  return h(
    "tr",
    { class: "number-row", dataset: { numberId: n.id, e164: n.e164, type } },
    h("td", { class: "number-e164" }, h("strong", { text: n.e164 })),
    h("td", null, h("abbr", { class: "type-badge", title: typeHelp(type), text: type })),
    h("td", { class: "number-provider", text: n.provider }),
    h("td", { class: "number-owner", text: ownerText(n) }),
    h("td", { class: "number-label", text: n.label }),
    h(
      "td",
      { class: "cell-actions" },
      h("button", { class: "btn btn-ghost", type: "button", text: t("op.edit"), "aria-label": t("op.edit-number", { number: n.e164 }), onClick: () => openEditor(n.id) }),
    ),
  );
}

export async function loadNumbers() {
  const [list] = await Promise.all([api("GET", "/api/operator/numbers"), loadGateways()]);
  state.numbers = list;
  gatewayOptions($("number-provider"), $("number-provider").value || "simulator");
  renderNumbers();
}

function renderNumbers() {
  setChildren($("number-list"), state.numbers.map(numberRow));
  labelCells($("number-list"));
  $("numbers-count").textContent = tn("op.numbers-n", state.numbers.length);
  if (state.editing) fillEditor();
}

function accountOptions(select, selected) {
  const choices = accounts.list.filter((a) => !a.operator || a.id === selected);
  setChildren(
    select,
    choices.map((a) => h("option", { value: a.id, selected: a.id === selected, text: `${a.name} (${a.slug})` })),
  );
}

function syncTypeField() {
  const type = $("number-type").value;
  $("number-type-hint").textContent = typeHelp(type);
  $("number-account-field").hidden = !INDIVIDUAL.has(type);
}

const words = (list) => (list || []).join(", ");
const wordList = (input) => {
  const list = input.value.split(",").map((w) => w.trim()).filter(Boolean);
  return list.length ? list : null;
};

function fillEditor() {
  const n = state.numbers.find((x) => x.id === state.editing);
  if (!n) {
    closeEditor();
    return;
  }
  const individual = INDIVIDUAL.has(n.type);
  $("number-editor").dataset.numberId = n.id;
  $("number-editor-title").textContent = `${n.e164} · ${typeOf(n)} · ${ownerText(n)}`;
  $("ns-label").value = n.label;
  gatewayOptions($("ns-provider"), n.provider);
  $("ns-eco-field").hidden = n.type !== "2WAY";
  $("ns-eco").checked = n.eco_plus;
  $("ns-shared").hidden = individual;
  $("ns-limit").hidden = individual;
  $("ns-default-reply").value = n.default_reply || "";
  $("ns-help-text").value = n.help_text || "";
  $("ns-opt-in-reply").value = n.opt_in_reply || "";
  $("ns-opt-out-words").value = words(n.opt_out_words);
  $("ns-opt-in-words").value = words(n.opt_in_words);
  $("ns-help-words").value = words(n.help_words);
  $("ns-limit-default").checked = n.auto_reply_limit.default;
  $("ns-limit-count").value = n.auto_reply_limit.max_count;
  $("ns-limit-window").value = Math.round(n.auto_reply_limit.window_s / 60);
  syncLimit();
  $("assign-form").hidden = !individual;
  $("assign-label").textContent = n.account_id ? t("op.move-to-account") : t("op.assign-to-account");
  $("assign-submit").textContent = n.account_id ? t("op.move") : t("op.assign");
  accountOptions($("assign-account"), n.account_id);
}

function syncLimit() {
  const own = !$("ns-limit-default").checked;
  $("ns-limit-count").disabled = !own;
  $("ns-limit-window").disabled = !own;
}

function openEditor(id) {
  state.editing = id;
  for (const node of ["ns-error", "assign-error", "remove-error"]) showError($(node), null);
  fillEditor();
  $("number-editor").hidden = false;
  $("ns-label").focus();
}

function closeEditor() {
  state.editing = null;
  $("number-editor").hidden = true;
}

function settingsBody(n) {
  const body = { label: $("ns-label").value.trim(), provider: $("ns-provider").value };
  if (n.type === "2WAY") body.eco_plus = $("ns-eco").checked;
  if (INDIVIDUAL.has(n.type)) return body;
  // The word lists are shown with the hub's defaults filled in: only a list the operator changed
  // is sent, so an untouched one keeps following the defaults.
  for (const field of ["opt_out_words", "opt_in_words", "help_words"]) {
    const input = $(`ns-${field.replaceAll("_", "-")}`);
    if (input.value.trim() !== words(n[field])) body[field] = wordList(input);
  }
  Object.assign(body, {
    default_reply: $("ns-default-reply").value.trim() || null,
    help_text: $("ns-help-text").value.trim() || null,
    opt_in_reply: $("ns-opt-in-reply").value.trim() || null,
    auto_reply_limit: $("ns-limit-default").checked
      ? "default"
      : { max_count: optionalInt($("ns-limit-count")) ?? 0, window_s: (optionalInt($("ns-limit-window")) ?? 0) * 60 },
  });
  return body;
}

async function saveSettings(event) {
  event.preventDefault();
  const n = state.numbers.find((x) => x.id === state.editing);
  const done = await submitting($("ns-submit"), $("ns-error"), () => api("PATCH", `/api/operator/numbers/${n.id}`, settingsBody(n)));
  if (done) {
    toast(t("op.number-saved", { number: n.e164 }), "ok");
    await loadNumbers();
  }
}

async function assign(event) {
  event.preventDefault();
  const done = await submitting($("assign-submit"), $("assign-error"), () =>
    api("POST", `/api/operator/numbers/${state.editing}/assign`, { account: $("assign-account").value }),
  );
  if (done) await loadNumbers();
}

async function remove() {
  const n = state.numbers.find((x) => x.id === state.editing);
  if (!window.confirm(t("op.release-confirm", { number: n.e164 }))) return;
  const done = await submitting($("remove-submit"), $("remove-error"), () => api("DELETE", `/api/operator/numbers/${n.id}`));
  if (done) {
    closeEditor();
    toast(t("op.number-released", { number: n.e164 }), "ok");
    await loadNumbers();
  }
}

async function createNumber(event) {
  event.preventDefault();
  const picked = $("number-type").value;
  const body = {
    number: $("number-value").value.trim(),
    type: picked === "ECO+" ? "2WAY" : picked,
    eco_plus: picked === "ECO+",
    provider: $("number-provider").value || "simulator",
    label: $("number-label").value.trim(),
  };
  if (INDIVIDUAL.has(picked)) body.account = $("number-account").value || null;
  const done = await submitting($("number-submit"), $("number-error"), async () => {
    const made = await api("POST", "/api/operator/numbers", body);
    $("number-value").value = "";
    $("number-label").value = "";
    toast(t("op.number-added", { number: made.e164 }), "ok");
  });
  if (done) await loadNumbers();
}

export function initNumbers() {
  setChildren($("number-type"), CREATABLE.map((type) => h("option", { value: type, title: typeHelp(type), text: type })));
  $("number-type").addEventListener("change", syncTypeField);
  syncTypeField();
  $("number-form").addEventListener("submit", createNumber);
  $("number-settings-form").addEventListener("submit", saveSettings);
  $("ns-limit-default").addEventListener("change", syncLimit);
  $("assign-form").addEventListener("submit", assign);
  $("remove-submit").addEventListener("click", remove);
  $("number-editor-close").addEventListener("click", closeEditor);
  onAccounts(() => {
    accountOptions($("number-account"), $("number-account").value);
    if (state.numbers.length) renderNumbers();
  });
}
