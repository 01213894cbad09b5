// Sign in: a password form, and single sign-on through a provider of the
// tenant (the provider id names the tenant; an ADMIN finds it on Admin).
import { APIError, callWithToken, get, passwordLogin, query } from "../api";
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
    h("label", null, "One-time code (when you use an authenticator app)",
      h("input", { name: "otp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 16 })),
    h("details", null, h("summary", null, "Tenant"),
      h("label", null, "Tenant id (only when your email is in several tenants)", h("input", { name: "tenant_id" }))),
    submit,
  ) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(messages);
    try {
      await busy(submit, "Signing in…", () =>
        passwordLogin(field(form, "email"), field(form, "password"), field(form, "tenant_id"), field(form, "otp")));
      history.replaceState(null, "", location.pathname === "/login" ? "/" : location.pathname);
      await signedIn();
    } catch (err) {
      messages.appendChild(errorBox(err));
      if (err instanceof APIError && (err.code === "otp_required" || err.code === "invalid_otp")) {
        (form.elements.namedItem("otp") as HTMLInputElement).focus();
      }
      const token = (err as APIError).details as { access_token?: string } | undefined;
      if (err instanceof APIError && err.code === "totp_enrollment_required" && token?.access_token) {
        messages.appendChild(enrolment(token.access_token));
      }
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
    location.assign(startURL(field(sso, "provider")));
  });

  // With ?tenant=<id> (the sign-in link on Admin), one button per provider.
  const buttons = h("div#sso-buttons");
  const tenant = new URLSearchParams(location.search).get("tenant");
  if (tenant) {
    get<{ providers: { id: string; name: string }[] }>("/v1/auth/sso/providers" + query({ tenant }))
      .then((r) => replace(buttons, r.providers.map((p) => h("p", null, h("a.button.sso-provider", { href: startURL(p.id) }, "Sign in with " + p.name)))))
      .catch((err) => replace(buttons, errorBox(err)));
  }

  replace(
    root,
    h("main.login", null, h("h1", null, "APIQ"), h("p.muted", null, "Sign in to run plans on your APIs."), messages, form, h("hr"), buttons,
      tenant ? h("details", null, h("summary", null, "Another single sign-on provider"), sso) : sso),
  );
}

function startURL(provider: string): string {
  return "/v1/auth/sso/" + encodeURIComponent(provider) + "/start";
}

/** Sets up the second factor with the enrolment token (kept in memory only). */
function enrolment(token: string): HTMLElement {
  const el = h("div.notice#totp-enrolment", null, "Your tenant requires a second factor. ");
  const start = h("button", { type: "button" }, "Set up an authenticator app") as HTMLButtonElement;
  start.addEventListener("click", async () => {
    try {
      const r = await busy(start, "Starting…", () => callWithToken<{ secret: string; otpauth_url: string }>(token, "POST", "/v1/me/totp"));
      const confirm = h("form.inline", null, h("input", { name: "code", required: true, inputmode: "numeric", placeholder: "first code" }),
        h("button", { type: "submit" }, "Confirm")) as HTMLFormElement;
      confirm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          await callWithToken(token, "POST", "/v1/me/totp/confirm", { code: field(confirm, "code") });
          replace(el, "The second factor is on. Sign in again with a code from your app.");
        } catch (err) {
          el.appendChild(errorBox(err));
        }
      });
      replace(el, h("p", null, "Add this secret to your authenticator app (shown once): ", h("code.secret", null, r.secret)),
        h("p", null, h("code", null, r.otpauth_url)), confirm);
    } catch (err) {
      el.appendChild(errorBox(err));
    }
  });
  el.appendChild(start);
  return el;
}
