// English texts: screen. Keys and plural forms: docs/i18n.md.
export default {
  "scr.sms-billboard": "SMS Billboard",
  "scr.messages": "Messages",
  "scr.results": "Results",
  "scr.host": "Host",
  "scr.empty": "Send a text",
  "scr.revoked": "This screen's link was revoked.",
  "scr.no-token": "Open this page with the screen link from the Displays panel.",
  "scr.invalid": "This screen's link is not valid (revoked or mistyped)."
};
