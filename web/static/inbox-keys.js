/*
 * The inbox's keyboard shortcuts: j/k move through the list, Enter opens (the row's button does it),
 * e closes the open conversation, a assigns it to me, ? shows the list. Only the page's own controls
 * are used (the buttons and the assignee select), so a shortcut does just what a click would. None
 * fires while typing in a field or with Ctrl, Alt or Meta held (those are the browser's).
 */
import { api, h } from "/static/common.js";
import { lang } from "/static/i18n.js";

const HELP = {
  en: {
    title: "Keyboard shortcuts",
    close: "Close",
    keys: [
      ["j", "Next conversation"],
      ["k", "Previous conversation"],
      ["Enter", "Open the conversation"],
      ["e", "Close the open conversation"],
      ["a", "Assign the open conversation to me"],
      ["Ctrl+Enter", "Send the reply"],
      ["?", "Show this list"],
    ],
  },
  pl: {
    title: "Skróty klawiszowe",
    close: "Zamknij",
    keys: [
      ["j", "Następna rozmowa"],
      ["k", "Poprzednia rozmowa"],
      ["Enter", "Otwórz rozmowę"],
      ["e", "Zamknij otwartą rozmowę"],
      ["a", "Przypisz otwartą rozmowę do mnie"],
      ["Ctrl+Enter", "Wyślij odpowiedź"],
      ["?", "Pokaż tę listę"],
    ],
  },
};

let meId = null;
let dialog = null;

function typing(target) {
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], dialog"));
}

function rowButtons() {
  return [...document.querySelectorAll("#conversation-list .conv-row .conv-phone")];
}

function move(step) {
  const buttons = rowButtons();
  if (!buttons.length) return;
  const row = document.activeElement?.closest?.("#conversation-list .conv-row");
  const current = row ? buttons.indexOf(row.querySelector(".conv-phone")) : -1;
  const active = buttons.findIndex((b) => b.closest(".conv-row").classList.contains("active"));
  const from = current >= 0 ? current : active;
  const next = from < 0 ? 0 : Math.min(buttons.length - 1, Math.max(0, from + step));
  buttons[next].focus();
  buttons[next].scrollIntoView({ block: "nearest" });
}

function closeOpen() {
  const toggle = document.getElementById("status-toggle");
  if (toggle && !toggle.disabled && toggle.offsetParent && toggle.dataset.action === "closed") toggle.click();
}

async function assignToMe() {
  const select = document.getElementById("assign-select");
  if (!select || select.disabled || !select.offsetParent) return;
  if (!meId) meId = (await api("GET", "/api/me")).id;
  if (!meId || select.value === meId || !select.querySelector(`option[value="${CSS.escape(meId)}"]`)) return;
  select.value = meId;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

function showHelp() {
  const text = HELP[lang()] || HELP.en;
  if (!dialog) {
    const close = h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, text.close);
    dialog = h(
      "dialog",
      { id: "keys-help", class: "canned-dialog keys-help", "aria-labelledby": "keys-help-title" },
      h("h2", { id: "keys-help-title" }, text.title),
      h("dl", null, ...text.keys.flatMap(([key, what]) => [h("dt", null, h("kbd", null, key)), h("dd", null, what)])),
      close,
    );
    document.body.appendChild(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

const ACTIONS = { j: () => move(1), k: () => move(-1), e: closeOpen, a: assignToMe, "?": showHelp };

document.addEventListener("keydown", (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.altKey || e.metaKey || typing(e.target)) return;
  const action = ACTIONS[e.key];
  if (!action) return;
  e.preventDefault();
  action();
});
