import { $, api } from "/static/common.js";
import { languageSwitch, t } from "/static/i18n.js";

const form = $("login-form");
const email = $("email");
const password = $("password");
const error = $("login-error");
const submit = $("login-submit");

document.querySelector(".login-card").prepend(languageSwitch());

function showError(text) {
  error.textContent = text;
  error.hidden = !text;
}

// Already logged in: straight to the inbox.
api("GET", "/api/me", undefined, { noRedirect: true }).then(
  () => location.replace("/inbox"),
  () => {},
);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  if (!email.value.trim() || !password.value) {
    showError(t("login.enter-both"));
    (email.value.trim() ? password : email).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t("login.logging-in");
  try {
    await api("POST", "/api/auth/login", { email: email.value.trim(), password: password.value }, { noRedirect: true });
    location.assign("/inbox");
  } catch (err) {
    showError(err.message || t("login.failed"));
    password.select();
    submit.disabled = false;
    submit.textContent = t("login.log-in");
  }
});
