// Account: who you are, and your second factor (TOTP) for password logins.
import { call, get, post, type Me } from "../api";
import { h, append, replace, badge, errorBox, busy, field } from "../dom";
import type { Context } from "../main";

export async function accountPage(ctx: Context): Promise<void> {
  const me = await get<Me>("/v1/me");
  const totp = h("section#totp");
  append(ctx.main, [
    h("h1", null, "Account"),
    h("dl.facts", null,
      h("dt", null, "Email"), h("dd", null, me.user.email),
      h("dt", null, "Name"), h("dd", null, me.user.name),
      h("dt", null, "Role"), h("dd", null, badge(me.user.role, "role")),
      h("dt", null, "Signed in with"), h("dd", null, me.auth_method),
      h("dt", null, "Tenant"), h("dd", null, h("code", null, me.tenant_id))),
    totp,
  ]);
  secondFactor(totp, me);
}

function secondFactor(el: HTMLElement, me: Me): void {
  const messages = h("div");
  const on = me.user.totp_enabled === true;
  const status = h("p", null, "Second factor: ", badge(on ? "on" : "off", on ? "active" : "disabled"));
  if (me.auth_method === "sso") {
    replace(el, h("h2", null, "Second factor"), status, h("p.muted", null, "You signed in with single sign-on: your provider owns your factors."));
    return;
  }
  const reload = async () => secondFactor(el, await get<Me>("/v1/me"));
  if (on) {
    const form = h("form.inline", { id: "totp-disable" }, h("input", { name: "code", required: true, inputmode: "numeric", placeholder: "current code" }),
      h("button", { type: "submit" }, "Turn off")) as HTMLFormElement;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await busy(form.querySelector("button")!, "Turning off…", () => call("DELETE", "/v1/me/totp", { code: field(form, "code") }));
        await reload();
      } catch (err) {
        messages.appendChild(errorBox(err));
      }
    });
    replace(el, h("h2", null, "Second factor"), status, messages, form);
    return;
  }
  const start = h("button", { type: "button", id: "totp-start" }, "Set up an authenticator app") as HTMLButtonElement;
  start.addEventListener("click", async () => {
    try {
      const r = await busy(start, "Starting…", () => post<{ secret: string; otpauth_url: string }>("/v1/me/totp"));
      const confirm = h("form.inline", { id: "totp-confirm" }, h("input", { name: "code", required: true, inputmode: "numeric", placeholder: "first code" }),
        h("button", { type: "submit" }, "Confirm")) as HTMLFormElement;
      confirm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          await busy(confirm.querySelector("button")!, "Confirming…", () => post("/v1/me/totp/confirm", { code: field(confirm, "code") }));
          await reload();
        } catch (err) {
          messages.appendChild(errorBox(err));
        }
      });
      replace(el, h("h2", null, "Second factor"), status, messages,
        h("p", null, "Add this secret to your authenticator app (shown once): ", h("code.secret", null, r.secret)),
        h("p", null, h("code", null, r.otpauth_url)), confirm);
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });
  replace(el, h("h2", null, "Second factor"), status, h("p.muted", null, "Password logins then also need a code from the app."), messages, start);
}
