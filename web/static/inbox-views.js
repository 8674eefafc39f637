/*
 * Saved views in the inbox sidebar: an agent names the current combination of filters (number,
 * label, status, assignee, unread) and picks it again later; stored per agent by the hub
 * (GET/POST/DELETE /api/views; docs/inbox.md, "Filters and views").
 */
import { $, api, h, setChildren, toast } from "/static/common.js";
import { t, tOr } from "/static/i18n.js";

const FIELDS = ["number_id", "label", "status", "assignee", "unread"];
let views = [];
let bridge = null;
let activeId = null;

/** The filters a view keeps, from the inbox's current ones (empty ones left out). */
function currentFilters() {
  const f = bridge.filters();
  const out = {};
  for (const field of FIELDS) {
    if (f[field]) out[field] = field === "unread" ? true : f[field];
  }
  return out;
}

function render() {
  const list = $("views-list");
  setChildren(
    list,
    views.map((v) =>
      h(
        "li",
        { class: "views-item" },
        h(
          "button",
          {
            type: "button",
            class: `btn btn-ghost views-pick${v.id === activeId ? " active" : ""}`,
            "aria-pressed": v.id === activeId ? "true" : "false",
            onclick: () => pick(v),
          },
          v.name,
        ),
        h(
          "button",
          { type: "button", class: "btn btn-ghost views-delete", "aria-label": t("in.view-delete", { name: v.name }), onclick: () => remove(v) },
          "×",
        ),
      ),
    ),
  );
  $("views-empty").hidden = views.length > 0;
}

function pick(view) {
  activeId = view.id;
  // A field the view does not name goes back to its widest choice ("All" statuses, anyone).
  bridge.setFilters({
    status: view.filters.status || "",
    assignee: view.filters.assignee || "",
    unread: Boolean(view.filters.unread),
    label: view.filters.label || "",
    number_id: view.filters.number_id || "",
  });
  render();
}

async function remove(view) {
  try {
    await api("DELETE", `/api/views/${encodeURIComponent(view.id)}`);
    if (activeId === view.id) activeId = null;
    await load();
  } catch (err) {
    toast(err.message);
  }
}

async function save(e) {
  e.preventDefault();
  const name = $("view-name");
  try {
    const view = await api("POST", "/api/views", { name: name.value, filters: currentFilters() });
    name.value = "";
    activeId = view.id;
    await load();
  } catch (err) {
    toast(err.message);
  }
}

async function load() {
  views = await api("GET", "/api/views");
  render();
}

/** The filters changed by hand: no view is the current one any more. */
export function viewsFiltersChanged() {
  if (activeId === null) return;
  activeId = null;
  render();
}

/** Start the views and the extra filter choices (numbers, agents). `b`: the inbox bridge. */
export async function initViews(me, b) {
  bridge = b;
  const numbers = $("filter-number");
  for (const n of me.numbers || []) {
    // The number's type (ND, ECO+…) explained on hover, with the words of the common dictionary.
    const title = n.type ? `${n.type}: ${tOr(`numtype.${n.type}`, n.type)}` : null;
    numbers.appendChild(h("option", { value: n.id, title }, n.label ? `${n.e164} (${n.label})` : n.e164));
  }
  numbers.hidden = !(me.numbers || []).length;
  const assignee = $("filter-assignee");
  for (const a of me.agents || []) {
    if (a.id !== me.id) assignee.appendChild(h("option", { value: a.id }, a.name));
  }
  if (me.kind !== "agent") {
    $("views-panel").hidden = true;
    return;
  }
  // On a phone the list comes first: the views stay folded until asked for.
  if (matchMedia("(max-width: 760px)").matches) $("views-panel").open = false;
  $("view-save").addEventListener("submit", save);
  try {
    await load();
  } catch (err) {
    toast(err.message);
  }
}
