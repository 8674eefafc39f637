/*
 * The top bar every agent page shares (inbox, services, displays, forwarding, campaigns): the page links,
 * who is logged in, and Log out. The markup is the same on each page; this marks the current
 * page, fills in the account and the agent, hides links marked data-admin-only from agents
 * (and data-operator-only from all but the platform operator's admins), and logs out. It also
 * puts its own words in the page's language and holds the language switch (i18n.js).
 */
import { $, api } from "/static/common.js";
import { languageSwitch, t } from "/static/i18n.js";

// The top bar's markup is copied on every page; its words are set here so no page has to mark them.
function translate() {
  const nav = document.querySelector(".topbar-nav");
  if (nav) nav.setAttribute("aria-label", t("nav.pages"));
  for (const link of document.querySelectorAll(".topbar-nav a[id^='nav-']")) {
    link.textContent = t(`nav.${link.id.slice(4)}`);
  }
  const logout = $("logout");
  if (logout) {
    logout.textContent = t("nav.logout");
    if (!$("lang-switch")) logout.before(languageSwitch());
  }
}

function markCurrent() {
  for (const link of document.querySelectorAll(".topbar-nav a")) {
    if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function showWho() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (_) {
    return; // the page's own script says why (or goes to the login page)
  }
  const admin = me.kind !== "token" && me.role === "admin";
  for (const link of document.querySelectorAll(".topbar [data-admin-only]")) link.hidden = !admin;
  // The operator's page is for the platform operator's admins only (its API refuses anyone else).
  for (const link of document.querySelectorAll(".topbar [data-operator-only]")) link.hidden = !(admin && me.operator);
  if ($("account-name")) $("account-name").textContent = me.account_name || "";
  if ($("agent-name")) $("agent-name").textContent = me.name || "";
  if ($("agent-avatar")) $("agent-avatar").textContent = (me.name || "?").trim().charAt(0).toUpperCase();
  document.querySelector(".topbar").dataset.ready = "true";
}

async function logOut() {
  try {
    await api("POST", "/api/auth/logout", undefined, { noRedirect: true });
  } catch (_) {
    /* leave anyway */
  }
  location.replace("/login");
}

translate();
markCurrent();
if ($("logout")) $("logout").addEventListener("click", logOut);
showWho();
