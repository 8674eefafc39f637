import { $, api } from "/static/common.js";

const form = $("login-form");
const email = $("email");
const password = $("password");
const error = $("login-error");
const submit = $("login-submit");

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
    showError("Enter your e-mail and password.");
    (email.value.trim() ? password : email).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "Logging in…";
  try {
    await api("POST", "/api/auth/login", { email: email.value.trim(), password: password.value }, { noRedirect: true });
    location.assign("/inbox");
  } catch (err) {
    showError(err.message || "Could not log in.");
    password.select();
    submit.disabled = false;
    submit.textContent = "Log in";
  }
});
