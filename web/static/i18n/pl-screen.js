// Polish texts: screen. Keys and plural forms: docs/i18n.md.
export default {
  "scr.sms-billboard": "Tablica SMS",
  "scr.messages": "Wiadomości",
  "scr.results": "Wyniki",
  "scr.host": "Prowadzący",
  "scr.empty": "Wyślij SMS",
  "scr.revoked": "Link tego ekranu został unieważniony.",
  "scr.no-token": "Otwórz tę stronę linkiem ekranu z panelu Ekrany.",
  "scr.invalid": "Link tego ekranu jest nieważny (unieważniony lub błędnie wpisany)."
};
