/*
 * Labels in the inbox: coloured chips on rows and in the thread header, adding and removing them
 * on a conversation, the label filter's options, and the admins' panel to manage the account's
 * labels (GET/POST/PATCH/DELETE /api/labels; docs/inbox.md, "Labels").
 *
 * A chip's colours come from the hub's fixed palette (dark text on a light background, 4.5:1 or
 * more), so a label is readable whatever colour an admin picks.
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { t } from "/static/i18n.js";

const labels = new Map(); // id -> {id, name, colour, background, text}
let palette = [];
let bridge = null;
let isAdmin = false;
let loaded = false; // the first read is done: before it every id is unknown

/** The account's labels by name. */
export function allLabels() {
  return [...labels.values()];
}

export function labelName(id) {
  const label = labels.get(id);
  return label ? label.name : null;
}

function chip(label, extra) {
  return h(
    "span",
    { class: "label-chip", style: `background:${label.background};color:${label.text}`, dataset: { labelId: label.id } },
    h("span", { class: "label-chip-name" }, label.name),
    extra || null,
  );
}

const asked = new Set(); // unknown label ids already read for: a deleted label is asked about once
let reloadTimer = null;
/** A conversation names a label this page has not read (made since it loaded): read them again, once
 * for a burst. A label since deleted stays unknown and is simply not shown. */
function noticeUnknown(ids) {
  const unknown = ids.filter((id) => !labels.has(id) && !asked.has(id));
  if (!unknown.length || !loaded) return;
  for (const id of unknown) asked.add(id);
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadLabels().catch(() => {}), 200);
}

/** The chips of a conversation's labels for its list row; null when it has none we know. */
export function labelChips(conv) {
  noticeUnknown(conv.labels || []);
  const known = (conv.labels || []).map((id) => labels.get(id)).filter(Boolean);
  if (!known.length) return null;
  return h("span", { class: "label-chips", "aria-label": t("in.labels") }, known.map((l) => chip(l)));
}

/** Fill the options of a <select> of labels, keeping its choice when it still exists. */
export function fillLabelSelect(select, first) {
  const value = select.value;
  setChildren(
    select,
    h("option", { value: "" }, first),
    allLabels().map((l) => h("option", { value: l.id }, l.name)),
  );
  select.value = labels.has(value) ? value : "";
}

async function setOnConversation(convId, labelId, on) {
  const path = `/api/conversations/${encodeURIComponent(convId)}/labels`;
  try {
    const conv = on
      ? await api("POST", path, { label_id: labelId })
      : await api("DELETE", `${path}/${encodeURIComponent(labelId)}`);
    bridge.upsert(conv);
  } catch (err) {
    toast(err.message);
  }
}

/** The labels of the open conversation under its title: chips with a remove button, and "Add label". */
export function renderThreadLabels(conv) {
  const box = $("thread-labels");
  if (!box) return;
  const on = new Set(conv.labels || []);
  const chips = [...on]
    .map((id) => labels.get(id))
    .filter(Boolean)
    .map((l) =>
      chip(
        l,
        h(
          "button",
          {
            type: "button",
            class: "label-chip-remove",
            "aria-label": t("in.label-remove-aria", { name: l.name }),
            title: t("in.label-remove", { name: l.name }),
            onclick: () => setOnConversation(conv.id, l.id, false),
          },
          "×",
        ),
      ),
    );
  const free = allLabels().filter((l) => !on.has(l.id));
  const add = free.length
    ? h(
        "select",
        {
          id: "thread-label-add",
          class: "label-add",
          "aria-label": t("in.label-add-aria"),
          onchange: (e) => {
            if (e.target.value) setOnConversation(conv.id, e.target.value, true);
          },
        },
        h("option", { value: "" }, t("in.label-add")),
        free.map((l) => h("option", { value: l.id }, l.name)),
      )
    : null;
  setChildren(box, chips, add);
}

// ---------------------------------------------------------------- the admins' panel

function colourSelect(value, labelText) {
  return h(
    "select",
    { class: "label-colour", "aria-label": labelText },
    palette.map((p) => h("option", { value: p.colour, selected: p.colour === value }, p.colour)),
  );
}

function renderPanel() {
  const list = $("labels-list");
  if (!list || !isAdmin) return;
  setChildren(
    list,
    allLabels().map((l) => {
      const name = h("input", { type: "text", value: l.name, maxlength: "40", "aria-label": t("in.label-name-of", { name: l.name }) });
      const colour = colourSelect(l.colour, t("in.label-colour-of", { name: l.name }));
      const save = async () => {
        try {
          await api("PATCH", `/api/labels/${encodeURIComponent(l.id)}`, { name: name.value, colour: colour.value });
          await loadLabels();
        } catch (err) {
          toast(err.message);
          name.value = l.name;
        }
      };
      name.addEventListener("change", save);
      colour.addEventListener("change", save);
      return h(
        "li",
        { class: "labels-item" },
        chip(l),
        name,
        colour,
        h(
          "button",
          {
            type: "button",
            class: "btn btn-ghost",
            "aria-label": t("in.label-delete-aria", { name: l.name }),
            onclick: async () => {
              if (!confirm(t("in.label-delete-confirm", { name: l.name }))) return;
              try {
                await api("DELETE", `/api/labels/${encodeURIComponent(l.id)}`);
                await loadLabels();
              } catch (err) {
                toast(err.message);
              }
            },
          },
          t("in.delete"),
        ),
      );
    }),
  );
  $("labels-count").textContent = `(${labels.size})`;
}

async function createLabel(e) {
  e.preventDefault();
  const name = $("label-new-name");
  const typed = name.value;
  try {
    await api("POST", "/api/labels", { name: typed, colour: $("label-new-colour").value });
    if (name.value === typed) name.value = "";
    await loadLabels();
  } catch (err) {
    toast(err.message);
  }
}

/** Read the account's labels again and show them everywhere. */
export async function loadLabels() {
  const rows = await api("GET", "/api/labels");
  labels.clear();
  for (const l of rows) labels.set(l.id, l);
  loaded = true;
  const filter = $("filter-label");
  if (filter) fillLabelSelect(filter, t("in.any-label"));
  renderPanel();
  if (bridge) bridge.labelsChanged();
}

/** Start: labels for everyone, the management panel for admins. `b`: the inbox bridge (inbox.js). */
export async function initLabels(me, b) {
  bridge = b;
  isAdmin = me && me.role === "admin";
  try {
    if (isAdmin) {
      palette = await api("GET", "/api/labels/palette");
      const panel = $("labels-panel");
      panel.hidden = false;
      const select = $("label-new-colour");
      setChildren(select, palette.map((p) => h("option", { value: p.colour }, p.colour)));
      $("label-new").addEventListener("submit", createLabel);
    }
    await loadLabels();
  } catch (err) {
    toast(err.message);
  }
}
