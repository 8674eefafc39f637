/*
 * The contact panel beside the thread, the composer's "cannot text" notice, and the search
 * result's matched message.
 *
 * One request (GET /api/contacts/{id}/profile) brings the contact's name and fields (editable,
 * PATCH /api/contacts/{id}/details), groups, opt-outs and blocks with where and when each was set,
 * the conversations with each of the account's numbers (links), whether a reply can go out in
 * each and why not, and the campaigns the contact received. The panel is a column beside the
 * thread on a wide screen and a sheet over the thread on a narrow one; the toggle remembers
 * whether it is open (wide screens only).
 */
import { $, api, fullTime, h, setChildren, shortTime, toast } from "/static/common.js";
import { t, tOr } from "/static/i18n.js";
import { fold } from "/static/inbox-search.js";

const WIDE = "(min-width: 1101px)";
const REMEMBER = "inbox.contactPanel";
const FIELD_NAME = /^[\p{L}_][\p{L}\p{N}_-]{0,39}$/u;

const panel = {
  conv: null, // the conversation whose contact is shown
  profile: null,
  token: 0,
  refreshTimer: null,
  blocked: "", // why the composer cannot send, "" when it can
  matches: new Map(), // conversation id -> the message a search by words matched
};

function els() {
  return {
    inbox: $("inbox"),
    panel: $("contact-panel"),
    toggle: $("contact-toggle"),
    notice: $("composer-blocked"),
    send: $("reply-send"),
  };
}

function wide() {
  return matchMedia(WIDE).matches;
}

function setOpen(open, { remember = false } = {}) {
  const e = els();
  e.panel.hidden = !open || !panel.conv;
  e.inbox.classList.toggle("contact-open", open && Boolean(panel.conv));
  e.toggle.setAttribute("aria-expanded", String(open && Boolean(panel.conv)));
  if (remember && wide()) localStorage.setItem(REMEMBER, open ? "open" : "closed");
}

function isOpen() {
  return !els().panel.hidden;
}

/** Bind the toggle; call once. */
export function initContact() {
  const e = els();
  e.toggle.addEventListener("click", () => {
    setOpen(!isOpen(), { remember: true });
    if (isOpen()) e.panel.focus({ preventScroll: true });
  });
  // A window narrowed (a phone turned, a window resized) turns the column into a sheet over the
  // thread: close it, so the thread and its back button stay in reach; widened, restore the choice.
  matchMedia(WIDE).addEventListener("change", () => {
    if (panel.conv) setOpen(wide() && localStorage.getItem(REMEMBER) !== "closed");
  });
  e.panel.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !wide()) {
      setOpen(false);
      e.toggle.focus();
    }
  });
}

/** Show the contact of `conv` (null: none), and what the composer may do in it. */
export function showContact(conv) {
  const changed = (panel.conv && panel.conv.id) !== (conv && conv.id);
  panel.conv = conv;
  if (!conv) {
    panel.profile = null;
    setComposer(null);
    setOpen(false);
    return;
  }
  if (changed) {
    panel.profile = null;
    setComposer(null);
    setChildren(els().panel, h("p", { class: "contact-loading" }, t("ct.loading")));
    // A wide screen keeps the panel as the agent left it; a narrow one opens the thread first.
    setOpen(wide() && localStorage.getItem(REMEMBER) !== "closed");
  }
  load();
}

/** A new message or a change in the shown conversation: the opt-outs may have changed. */
export function refreshContact(conversationId) {
  if (!panel.conv || panel.conv.id !== conversationId) return;
  clearTimeout(panel.refreshTimer);
  panel.refreshTimer = setTimeout(load, 300);
}

/** Why the composer cannot send now ("" when it can). */
export function sendBlocked() {
  return panel.blocked;
}

async function load() {
  const conv = panel.conv;
  if (!conv) return;
  const token = ++panel.token;
  try {
    const profile = await api("GET", `/api/contacts/${encodeURIComponent(conv.contact.id)}/profile`);
    if (token !== panel.token) return;
    panel.profile = profile;
    render();
  } catch (err) {
    if (token !== panel.token) return;
    setChildren(els().panel, h("p", { class: "contact-error", role: "alert" }, err.message || t("ct.load-failed")));
  }
}

// ---------------------------------------------------------------- the composer

function setComposer(thread) {
  const e = els();
  const reasons = thread && !thread.can_text ? thread.reasons.map((r) => r.text) : [];
  panel.blocked = reasons.join("; ");
  e.notice.hidden = !reasons.length;
  setChildren(
    e.notice,
    reasons.length ? h("strong", null, t("ct.cannot-text-this")) : null,
    reasons.length === 1 ? reasons[0] : reasons.length ? h("ul", null, reasons.map((r) => h("li", null, r))) : null,
  );
  e.send.disabled = reasons.length > 0;
  e.send.title = reasons.length ? panel.blocked : "";
}

// ---------------------------------------------------------------- the panel

function render() {
  const p = panel.profile;
  const conv = panel.conv;
  const thread = p.conversations.find((th) => th.id === conv.id) || null;
  setComposer(thread);
  const close = h(
    "button",
    { class: "btn btn-ghost btn-icon contact-close", type: "button", "aria-label": t("ct.close-panel") },
    "×",
  );
  close.addEventListener("click", () => {
    setOpen(false, { remember: true });
    els().toggle.focus();
  });
  setChildren(
    els().panel,
    h("div", { class: "contact-head" }, h("h2", { id: "contact-title" }, t("ct.contact")), close),
    statusSection(p, thread),
    detailsForm(p),
    section(t("ct.groups"), p.groups.length ? h("ul", { class: "contact-chips" }, p.groups.map((g) => h("li", null, g.name))) : empty(t("ct.no-group"))),
    section(t("ct.threads"), threadList(p, conv)),
    section(t("ct.campaigns"), campaignList(p)),
  );
}

function section(title, ...body) {
  return h("section", { class: "contact-section" }, h("h3", null, title), ...body);
}

function empty(text) {
  return h("p", { class: "contact-empty" }, text);
}

function statusSection(p, thread) {
  const items = p.stops.map((s) =>
    h(
      "li",
      { class: `contact-stop contact-stop-${s.kind}`, dataset: { kind: s.kind } },
      h("span", { class: "contact-stop-text" }, s.text),
      " ",
      h("time", { datetime: s.at, title: fullTime(s.at) }, shortTime(s.at)),
    ),
  );
  const others = thread ? thread.reasons.filter((r) => r.code !== "opted_out" && r.code !== "blocked") : [];
  for (const r of others) items.push(h("li", { class: "contact-stop", dataset: { kind: r.code } }, r.text));
  const ok = !items.length;
  return section(
    t("ct.consent"),
    ok ? h("p", { class: "contact-ok" }, t("ct.can-text")) : h("ul", { class: "contact-stops" }, items),
  );
}

function detailsForm(p) {
  const name = h("input", { id: "contact-name", type: "text", maxlength: "100", value: p.name || "", autocomplete: "off" });
  const rows = h("div", { class: "contact-fields" });
  const addRow = (key = "", value = "") => {
    const row = h("div", { class: "contact-field" });
    const k = h("input", { type: "text", class: "contact-field-key", "aria-label": t("ct.field-name"), maxlength: "40", value: key, placeholder: t("ct.field-placeholder") });
    const v = h("input", { type: "text", class: "contact-field-value", "aria-label": t("ct.field-value"), maxlength: "500", value, placeholder: t("ct.value-placeholder") });
    const remove = h("button", { type: "button", class: "btn btn-ghost btn-icon", "aria-label": t("ct.remove-field", { name: key }).trim() }, "×");
    remove.addEventListener("click", () => row.remove());
    row.append(k, v, remove);
    rows.appendChild(row);
  };
  for (const [k, v] of Object.entries(p.fields)) addRow(k, v);
  const add = h("button", { type: "button", class: "btn btn-ghost contact-add-field" }, t("ct.add-field"));
  add.addEventListener("click", () => {
    addRow();
    rows.lastElementChild.querySelector("input").focus();
  });
  const error = h("p", { class: "contact-form-error", role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "btn" }, t("ct.save"));
  const form = h(
    "form",
    { class: "contact-section contact-form", "aria-labelledby": "contact-title" },
    h("p", { class: "contact-phone" }, p.phone),
    h("label", { for: "contact-name" }, t("ct.name")),
    name,
    h("span", { class: "contact-label" }, t("ct.fields")),
    rows,
    h("div", { class: "contact-form-actions" }, add, save),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fields = {};
    for (const row of rows.querySelectorAll(".contact-field")) {
      const key = row.querySelector(".contact-field-key").value.trim();
      const value = row.querySelector(".contact-field-value").value;
      if (!key && !value.trim()) continue;
      if (!FIELD_NAME.test(key)) {
        showError(error, t("ct.bad-field", { name: key }));
        return;
      }
      fields[key] = value;
    }
    save.disabled = true;
    try {
      panel.profile = await api("PATCH", `/api/contacts/${encodeURIComponent(p.id)}/details`, { name: name.value, fields });
      render();
      toast(t("ct.saved"), "ok");
    } catch (err) {
      showError(error, err.message || t("ct.save-failed"));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function showError(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function threadList(p, conv) {
  if (!p.conversations.length) return empty(t("ct.no-conversations"));
  return h(
    "ul",
    { class: "contact-threads" },
    p.conversations.map((th) =>
      h(
        "li",
        { class: th.id === conv.id ? "current" : null },
        h(
          "a",
          { href: `#c=${th.id}`, "aria-current": th.id === conv.id ? "page" : null },
          h("span", { class: "contact-thread-number" }, th.number),
          " ",
          h("span", { class: `status-pill status-${th.status}` }, tOr(`in.pill.${th.status}`, th.status)),
        ),
        h("span", { class: "contact-thread-last" }, th.last_text || ""),
        th.can_text ? null : h("span", { class: "contact-thread-blocked" }, t("ct.cannot-text")),
      ),
    ),
  );
}

function campaignList(p) {
  if (!p.campaigns.length) return empty(t("ct.none"));
  return h(
    "ul",
    { class: "contact-campaigns" },
    p.campaigns.map((c) =>
      h(
        "li",
        null,
        h("span", { class: "contact-campaign-name" }, c.name),
        " ",
        h("span", { class: "contact-campaign-status" }, c.status),
        c.at ? h("time", { datetime: c.at, title: fullTime(c.at) }, ` ${shortTime(c.at)}`) : null,
      ),
    ),
  );
}

// ---------------------------------------------------------------- search results

/** Keep the messages a search matched, from a page of the list (`more`: a further page). */
export function rememberMatches(rows, more = false) {
  if (!more) panel.matches.clear();
  for (const row of rows) if (row.match) panel.matches.set(row.id, row.match);
}

/** Whether the last search found the conversation by a word of a message's text. */
export function foundByText(conv) {
  return panel.matches.has(conv.id);
}

/**
 * The row's snippet of the message a search by words found in it, the words marked; null when
 * the row was not found by its text. `words`: the searched words, folded.
 */
export function matchSnippet(conv, words) {
  const match = panel.matches.get(conv.id);
  if (!match || !words || !words.length) return null;
  const node = h("span", { class: "conv-snippet conv-match", title: t("ct.search-found") });
  if (match.direction === "out") node.appendChild(document.createTextNode(t("ct.you")));
  for (const part of match.snippet.split(/([\p{L}\p{N}]+)/u)) {
    const hit = part && words.some((w) => fold(part).startsWith(w));
    node.appendChild(hit ? h("mark", null, part) : document.createTextNode(part));
  }
  return node;
}
