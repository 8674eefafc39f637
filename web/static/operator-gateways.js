/*
 * The gateways a number may use (`/api/operator/gateways`), offered in the numbers' Gateway
 * selects; one that cannot send yet (twilio without credentials) says so in its option. The
 * numbers section's gateways table shows each one's texts per minute and last error.
 */
import { $, api, h, messageTime, setChildren } from "/static/common.js";
import { labelCells } from "/static/operator-shared.js";
import { t, tn } from "/static/i18n.js";

let gateways = [];

export async function loadGateways() {
  gateways = await api("GET", "/api/operator/gateways");
  renderGateways();
}

/** "yes", "no", or for a gateway with binds (SMPP) how many this process holds. */
function configured(g) {
  if (!g.configured) return t("op.gw-no");
  if (g.binds === null || g.binds === undefined) return t("op.gw-yes");
  return g.binds ? t("op.gw-bound", { n: g.binds }) : t("op.gw-not-bound");
}

function gatewayRow(g) {
  const error = g.last_error ? `${messageTime(g.last_error_at)}: ${g.last_error}` : t("op.gw-none");
  return h(
    "tr",
    { class: "gateway-row", dataset: { name: g.name } },
    h("td", { class: "gateway-name", text: g.name }),
    h("td", { class: "gateway-configured", text: configured(g) }),
    h("td", { class: "gateway-in", text: String(g.in_last_minute) }),
    h("td", { class: "gateway-out", text: String(g.out_last_minute) }),
    h("td", { class: "gateway-error op-reason", text: error }),
  );
}

function renderGateways() {
  const list = $("gateway-list");
  if (!list) return;
  setChildren(list, gateways.map(gatewayRow));
  labelCells(list);
}

/** Fill `select` with the gateways, `selected` picked (kept as an option even if unknown). */
export function gatewayOptions(select, selected) {
  const list = gateways.some((g) => g.name === selected) || !selected ? gateways : [...gateways, { name: selected, configured: false }];
  setChildren(
    select,
    list.map((g) =>
      h("option", {
        value: g.name,
        selected: g.name === selected,
        text: g.configured ? g.name : t("op.gw-not-configured", { name: g.name }),
      }),
    ),
  );
}
