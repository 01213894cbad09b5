// Sign in: a password form, and single sign-on through a provider of the
// tenant (the provider id names the tenant; an ADMIN finds it on Admin).
import { passwordLogin } from "../api";
import { h, replace, errorBox, busy, field } from "../dom";

const ssoErrors: Record<string, string> = {
  sso_failed: "Single sign-on failed.",
  not_found: "That single sign-on provider does not exist.",
  forbidden: "Your account may not sign in here.",
};

export function loginPage(root: HTMLElement, signedIn: () => Promise<void>): void {
  const messages = h("div");
  const ssoError = new URLSearchParams(location.search).get("sso_error");
  if (ssoError) messages.appendChild(errorBox({ code: ssoError, message: ssoErrors[ssoError] ?? "Single sign-on failed." }));

  const submit = h("button", { type: "submit", id: "login-submit" }, "Sign in") as HTMLButtonElement;
  const form = h(
    "form#login-form",
    null,
    h("label", null, "Email", h("input", { name: "email", type: "email", autocomplete: "username", required: true })),
    h("label", null, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    h("details", null, h("summary", null, "Tenant"),
      h("label", null, "Tenant id (only when your email is in several tenants)", h("input", { name: "tenant_id" }))),
    submit,
  ) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(messages);
    try {
      await busy(submit, "Signing in…", () => passwordLogin(field(form, "email"), field(form, "password"), field(form, "tenant_id")));
      history.replaceState(null, "", location.pathname === "/login" ? "/" : location.pathname);
      await signedIn();
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });

  const sso = h(
    "form.sso",
    { id: "sso-form" },
    h("label", null, "Single sign-on provider id", h("input", { name: "provider", required: true, placeholder: "e.g. 7f0c…" })),
    h("button", { type: "submit" }, "Sign in with single sign-on"),
  ) as HTMLFormElement;
  sso.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.assign("/v1/auth/sso/" + encodeURIComponent(field(sso, "provider")) + "/start");
  });

  replace(
    root,
    h("main.login", null, h("h1", null, "APIQ"), h("p.muted", null, "Sign in to run plans on your APIs."), messages, form, h("hr"), sso),
  );
}
