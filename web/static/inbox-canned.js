/*
 * Canned replies in the composer: "/" at the start of the text opens the agent's replies
 * (account-wide and their own) filtered by shortcut and text; the pick replaces "/…" with the
 * reply filled for the open conversation by the hub (GET /api/canned-replies?conversation_id=).
 * A dialog manages them: everyone their own, admins the account-wide ones (docs/inbox.md).
 */
import { api, h, setChildren, toast } from "/static/common.js";
import { t } from "/static/i18n.js";
import { Picker } from "/static/inbox-picker.js";

const ctx = {
  me: null,
  selected: () => null,
  text: null,
  onChange: () => {},
  replies: null, // a promise of the list for ctx.repliesFor
  repliesFor: null,
};

const TRIGGER = /^\/([^\s/]*)$/;

function isAdmin() {
  return ctx.me && ctx.me.role === "admin";
}

function forget() {
  ctx.replies = null;
  ctx.repliesFor = null;
}

/** The replies filled for a conversation (null: unfilled); one request at a time is shared. */
function repliesOf(conversationId) {
  if (ctx.repliesFor === conversationId && ctx.replies) return ctx.replies;
  const query = conversationId ? `?conversation_id=${encodeURIComponent(conversationId)}` : "";
  const loading = api("GET", `/api/canned-replies${query}`).catch((err) => {
    if (ctx.replies === loading) forget();
    throw err;
  });
  ctx.replies = loading;
  ctx.repliesFor = conversationId;
  return loading;
}

function matches(reply, query) {
  if (!query) return true;
  const q = query.toLowerCase();
  return reply.shortcut.includes(q) || (reply.rendered || reply.text).toLowerCase().includes(q);
}

let picker = null;
let inputs = 0;

async function onInput() {
  const mine = ++inputs;
  const caret = ctx.text.selectionStart;
  const m = TRIGGER.exec(ctx.text.value.slice(0, caret));
  if (!m || ctx.text.value.slice(caret).trim().includes("\n") || document.body.dataset.composer === "note") {
    picker.close();
    return;
  }
  const id = ctx.selected();
  // A fresh "/" reads the list again: the contact's name or the replies may have changed.
  if (m[1] === "") forget();
  let rows;
  try {
    rows = await repliesOf(id);
  } catch (err) {
    toast(err.message);
    return;
  }
  // Only the latest keystroke's list shows (an earlier one would reset the arrow keys' choice).
  const now = TRIGGER.exec(ctx.text.value.slice(0, ctx.text.selectionStart));
  if (mine !== inputs || !now || ctx.selected() !== id) return;
  const shown = rows.filter((r) => matches(r, now[1])).slice(0, 30);
  picker.show(
    shown.map((r) => ({
      key: r.id,
      title: `/${r.shortcut}`,
      detail: `${r.scope === "account" ? "" : `· ${t("in.canned-mine")} · `}${r.rendered ?? r.text}`,
      reply: r,
    })),
  );
}

function insert(item) {
  const t = ctx.text;
  const caret = t.selectionStart;
  const before = t.value.slice(0, caret);
  const head = TRIGGER.test(before) ? "" : before;
  const text = item.reply.rendered ?? item.reply.text;
  t.value = head + text + t.value.slice(caret);
  const at = head.length + text.length;
  t.setSelectionRange(at, at);
  t.focus();
  ctx.onChange();
}

// ---------------------------------------------------------------- the dialog

const dlg = {};

function buildDialog() {
  const scope = h(
    "select",
    { id: "canned-scope" },
    h("option", { value: "personal" }, t("in.canned-only-me")),
    h("option", { value: "account" }, t("in.canned-everyone")),
  );
  dlg.scopeRow = h("div", { class: "canned-field" }, h("label", { for: "canned-scope" }, t("in.canned-for")), scope);
  dlg.scopeRow.hidden = !isAdmin();
  dlg.scope = scope;
  dlg.shortcut = h("input", { id: "canned-shortcut", maxlength: "33", autocomplete: "off", required: true, placeholder: t("in.canned-shortcut-placeholder") });
  dlg.body = h("textarea", {
    id: "canned-text",
    rows: "3",
    maxlength: "1600",
    required: true,
    placeholder: t("in.canned-text-placeholder"),
    "aria-describedby": "canned-help",
  });
  dlg.error = h("p", { class: "canned-error", role: "alert", hidden: true });
  dlg.save = h("button", { class: "btn btn-primary", type: "submit" }, t("in.add"));
  dlg.cancelEdit = h("button", { class: "btn btn-ghost", type: "button", hidden: true, onclick: () => resetForm() }, t("in.canned-cancel-edit"));
  dlg.form = h(
    "form",
    { class: "canned-form", onsubmit: (e) => { e.preventDefault(); save(); } },
    h("div", { class: "canned-field" }, h("label", { for: "canned-shortcut" }, t("in.canned-shortcut")), dlg.shortcut),
    h("div", { class: "canned-field" }, h("label", { for: "canned-text" }, t("in.canned-text")), dlg.body),
    h("p", { id: "canned-help", class: "canned-help" }, t("in.canned-variables")),
    dlg.scopeRow,
    dlg.error,
    h("div", { class: "canned-buttons" }, dlg.cancelEdit, dlg.save),
  );
  dlg.list = h("ul", { class: "canned-list", "aria-label": t("in.canned-replies") });
  dlg.node = h(
    "dialog",
    { id: "canned-dialog", class: "canned-dialog", "aria-labelledby": "canned-title" },
    h(
      "div",
      { class: "canned-head" },
      h("h2", { id: "canned-title" }, t("in.canned-replies")),
      h("button", { class: "btn btn-ghost btn-icon", type: "button", "aria-label": t("in.close"), onclick: () => dlg.node.close() }, "×"),
    ),
    h("p", { class: "canned-help" }, t("in.canned-hint")),
    dlg.list,
    dlg.form,
  );
  document.body.appendChild(dlg.node);
}

function resetForm() {
  dlg.editing = null;
  dlg.shortcut.value = "";
  dlg.body.value = "";
  dlg.scope.disabled = false;
  dlg.save.textContent = t("in.add");
  dlg.cancelEdit.hidden = true;
  dlg.error.hidden = true;
}

function canChange(reply) {
  return reply.scope === "personal" || isAdmin();
}

async function renderList() {
  let rows;
  try {
    rows = await repliesOf(null);
  } catch (err) {
    toast(err.message);
    return;
  }
  const items = rows.map((r) =>
    h(
      "li",
      { class: "canned-item", dataset: { shortcut: r.shortcut } },
      h(
        "div",
        { class: "canned-item-head" },
        h("strong", {}, `/${r.shortcut}`),
        h("span", { class: `canned-scope canned-scope-${r.scope}` }, r.scope === "account" ? t("in.canned-everyone-short") : t("in.canned-mine")),
        canChange(r)
          ? h(
              "span",
              { class: "canned-item-actions" },
              h("button", { class: "btn btn-ghost", type: "button", onclick: () => edit(r), "aria-label": t("in.canned-edit-aria", { shortcut: r.shortcut }) }, t("in.edit")),
              h("button", { class: "btn btn-ghost", type: "button", onclick: () => remove(r), "aria-label": t("in.canned-delete-aria", { shortcut: r.shortcut }) }, t("in.delete")),
            )
          : null,
      ),
      h("div", { class: "canned-item-text" }, r.text),
    ),
  );
  setChildren(dlg.list, items.length ? items : [h("li", { class: "canned-none" }, t("in.canned-none"))]);
}

function edit(reply) {
  dlg.editing = reply;
  dlg.shortcut.value = reply.shortcut;
  dlg.body.value = reply.text;
  dlg.scope.value = reply.scope;
  dlg.scope.disabled = true;
  dlg.save.textContent = t("in.save");
  dlg.cancelEdit.hidden = false;
  dlg.error.hidden = true;
  dlg.shortcut.focus();
}

async function remove(reply) {
  if (!confirm(t("in.canned-delete-confirm", { shortcut: reply.shortcut }))) return;
  try {
    await api("DELETE", `/api/canned-replies/${encodeURIComponent(reply.id)}`);
  } catch (err) {
    toast(err.message);
  }
  forget();
  renderList();
}

async function save() {
  const body = { shortcut: dlg.shortcut.value, text: dlg.body.value };
  dlg.save.disabled = true;
  try {
    if (dlg.editing) await api("PATCH", `/api/canned-replies/${encodeURIComponent(dlg.editing.id)}`, body);
    else await api("POST", "/api/canned-replies", { ...body, scope: dlg.scope.value });
    resetForm();
    forget();
    await renderList();
  } catch (err) {
    dlg.error.textContent = err.message;
    dlg.error.hidden = false;
    const field = err.field === "text" ? dlg.body : err.field === "shortcut" ? dlg.shortcut : null;
    if (field) field.focus();
  } finally {
    dlg.save.disabled = false;
  }
}

function openDialog() {
  if (!dlg.node) buildDialog();
  resetForm();
  forget();
  renderList();
  dlg.node.showModal();
  dlg.shortcut.focus();
}

/** Wire the "/" picker and the dialog's button into the composer. */
export function initCanned({ me, selected, text, actions, onChange }) {
  Object.assign(ctx, { me, selected, text, onChange });
  picker = new Picker(text, { label: t("in.canned-replies"), onPick: insert, empty: t("in.canned-no-match") });
  text.addEventListener("input", onInput);
  const button = h(
    "button",
    { id: "canned-manage", class: "btn btn-ghost", type: "button", title: t("in.canned-button-title"), onclick: openDialog },
    t("in.canned-button"),
  );
  actions.insertBefore(button, actions.firstChild);
}
