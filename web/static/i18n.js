/*
 * The pages' language: Polish or English, chosen once and remembered.
 *
 * The choice is, in order: what the user picked (localStorage "hub.lang", mirrored in the
 * "hub_lang" cookie), else the first of the browser's preferred languages the hub speaks, else
 * English. A public screen overrides it with its own setting (`useLanguage`), without storing it.
 *
 * Static text in the HTML carries `data-i18n="key"` (its text) or `data-i18n-placeholder`,
 * `data-i18n-title`, `data-i18n-aria-label` (an attribute); script text goes through `t(key,
 * params)` and, for counts, `tn(key, n)`, which picks the plural form with Intl.PluralRules
 * ("1 wiadomość, 2 wiadomości, 5 wiadomości"). The dictionaries are small ES modules under
 * /static/i18n/, one per language and concern, loaded with this module: no build step.
 * See docs/i18n.md.
 */
import enCommon from "/static/i18n/en-common.js";
import plCommon from "/static/i18n/pl-common.js";
import enOperator from "/static/i18n/en-operator.js";
import plOperator from "/static/i18n/pl-operator.js";
import enServices from "/static/i18n/en-services.js";
import plServices from "/static/i18n/pl-services.js";
import enDisplays from "/static/i18n/en-displays.js";
import plDisplays from "/static/i18n/pl-displays.js";
import enForwarding from "/static/i18n/en-forwarding.js";
import plForwarding from "/static/i18n/pl-forwarding.js";
import enSimulator from "/static/i18n/en-simulator.js";
import plSimulator from "/static/i18n/pl-simulator.js";
import enScreen from "/static/i18n/en-screen.js";
import plScreen from "/static/i18n/pl-screen.js";
import enCampaigns from "/static/i18n/en-campaigns.js";
import plCampaigns from "/static/i18n/pl-campaigns.js";
import enCampaignReasons from "/static/i18n/en-campaign-reasons.js";
import plCampaignReasons from "/static/i18n/pl-campaign-reasons.js";
import enInbox from "/static/i18n/en-inbox.js";
import plInbox from "/static/i18n/pl-inbox.js";
import enInboxCompose from "/static/i18n/en-inbox-compose.js";
import plInboxCompose from "/static/i18n/pl-inbox-compose.js";
import enInboxContact from "/static/i18n/en-inbox-contact.js";
import plInboxContact from "/static/i18n/pl-inbox-contact.js";

export const LANGUAGES = { pl: "Polski", en: "English" };
const DICTIONARIES = {
  en: Object.assign({}, enCommon, enOperator, enServices, enDisplays, enForwarding, enSimulator, enScreen, enCampaigns, enCampaignReasons, enInbox, enInboxCompose, enInboxContact),
  pl: Object.assign({}, plCommon, plOperator, plServices, plDisplays, plForwarding, plSimulator, plScreen, plCampaigns, plCampaignReasons, plInbox, plInboxCompose, plInboxContact),
};
// The locale dates and numbers are written in when the browser's own one is another language.
const DEFAULT_LOCALE = { pl: "pl-PL", en: "en-GB" };
const STORE_KEY = "hub.lang";
const COOKIE = "hub_lang";

function stored() {
  try {
    const value = localStorage.getItem(STORE_KEY);
    if (value in LANGUAGES) return value;
  } catch (_) {
    /* storage blocked: fall back to the cookie */
  }
  const match = document.cookie.match(/(?:^|;\s*)hub_lang=(\w+)/);
  return match && match[1] in LANGUAGES ? match[1] : null;
}

function preferred() {
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

let current = stored() || preferred();

/** The page's language: "pl" or "en". */
export function lang() {
  return current;
}

/** The BCP 47 locale for dates and numbers: the browser's own when it is of the page's language. */
export function locale() {
  const browser = navigator.language || "";
  return browser.toLowerCase().split("-")[0] === current ? browser : DEFAULT_LOCALE[current];
}

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The text of `key` in the page's language (English if missing there), `{name}` filled from params. */
export function t(key, params) {
  const text = DICTIONARIES[current][key] ?? DICTIONARIES.en[key];
  if (text === undefined) {
    console.warn(`i18n: no text for ${key}`);
    return key;
  }
  return fill(text, params);
}

/** The text of `key` when a dictionary has it, else `fallback` (for codes the hub may add later). */
export function tOr(key, fallback, params) {
  return DICTIONARIES[current][key] !== undefined || DICTIONARIES.en[key] !== undefined ? t(key, params) : fallback;
}

const pluralRules = {};
/** The plural form of `key` for `n` (`key.one`, `key.few`, `key.many`, `key.other`); `{n}` is n. */
export function tn(key, n, params) {
  const rules = (pluralRules[current] ||= new Intl.PluralRules(current));
  const dict = DICTIONARIES[current];
  const form = rules.select(n);
  const found = dict[`${key}.${form}`] !== undefined ? `${key}.${form}` : `${key}.other`;
  return t(found, { n: formatNumber(n), ...params });
}

const formats = new Map();
function formatter(kind, options) {
  const id = `${locale()}|${kind}`;
  if (!formats.has(id)) formats.set(id, new Intl.DateTimeFormat(locale(), options));
  return formats.get(id);
}

function asDate(value) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "14:03" in Polish, "14:03" or "2:03 pm" in English as the browser's locale has it. */
export function formatTime(value) {
  const d = asDate(value);
  return d ? formatter("time", { hour: "2-digit", minute: "2-digit" }).format(d) : "";
}

/** "3 gru" / "3 Dec". */
export function formatDate(value) {
  const d = asDate(value);
  return d ? formatter("date", { day: "numeric", month: "short" }).format(d) : "";
}

/** Date and time in full ("4 gru 2026, 14:03:05"). */
export function formatDateTime(value) {
  const d = asDate(value);
  return d ? formatter("full", { dateStyle: "medium", timeStyle: "medium" }).format(d) : "";
}

export function formatNumber(n) {
  return Number.isFinite(n) ? new Intl.NumberFormat(locale()).format(n) : String(n);
}

const ATTRIBUTES = ["placeholder", "title", "aria-label"];
/** Put the page's language into the static text marked with data-i18n* under `root`. */
export function applyI18n(root = document) {
  document.documentElement.lang = current;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const name of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-i18n-${name}]`)) {
      node.setAttribute(name, t(node.getAttribute(`data-i18n-${name}`)));
    }
  }
}

/** Remember `code` as the user's language (this browser) and show the page in it. */
export function setLanguage(code) {
  if (!(code in LANGUAGES) || code === current) return;
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch (_) {
    /* the cookie below still remembers it */
  }
  document.cookie = `${COOKIE}=${code}; path=/; max-age=31536000; SameSite=Lax`;
  // Reloading re-renders every list and date in the new language without each page knowing how.
  location.reload();
}

/** A public screen speaks its own language, whatever the browser prefers; nothing is stored. */
export function useLanguage(code) {
  if (!(code in LANGUAGES) || code === current) return false;
  current = code;
  applyI18n();
  return true;
}

/** The language picker (a small select) for the top bar and the login page. */
export function languageSwitch() {
  const select = document.createElement("select");
  select.id = "lang-switch";
  select.className = "lang-switch";
  select.setAttribute("aria-label", t("common.language"));
  select.title = t("common.language");
  for (const [code, name] of Object.entries(LANGUAGES)) {
    const option = new Option(code.toUpperCase(), code, false, code === current);
    option.lang = code;
    option.title = name;
    option.setAttribute("aria-label", name);
    select.add(option);
  }
  select.addEventListener("change", () => setLanguage(select.value));
  return select;
}

applyI18n();
