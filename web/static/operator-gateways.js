/*
 * The gateways a number may use (`/api/operator/gateways`), offered in the numbers' Gateway
 * selects; one that cannot send yet (twilio without credentials) says so in its option.
 */
import { api, h, setChildren } from "/static/common.js";

let gateways = [];

export async function loadGateways() {
  gateways = await api("GET", "/api/operator/gateways");
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
        text: g.configured ? g.name : `${g.name} (not configured)`,
      }),
    ),
  );
}
