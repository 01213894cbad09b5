// Admin (ADMIN): users and roles, single sign-on providers, API tokens,
// key rotation status.
import { get, post, call, query, type APIToken, type KeyStatus, type SSOProvider, type User } from "../api";
import { h, append, replace, badge, table, time, errorBox, busy, field } from "../dom";
import type { Context } from "../main";

const roles = ["USER", "ADMIN", "AUDITOR"];

export async function adminPage(ctx: Context): Promise<void> {
  append(ctx.main, [h("h1", null, "Admin")]);
  const users = h("section#users");
  const sso = h("section#sso");
  const tokens = h("section#tokens");
  const keys = h("section#keys");
  ctx.main.append(users, sso, tokens, keys);
  const security = h("section#security");
  ctx.main.insertBefore(security, sso);
  await Promise.all([usersSection(ctx, users), ssoSection(ctx, sso), securitySection(security),
    tokensSection(tokens), keysSection(keys)]);
}

async function usersSection(ctx: Context, el: HTMLElement, position?: string): Promise<void> {
  const messages = h("div");
  const list = await get<{ users: User[] }>("/v1/users" + query({ min_position: position, limit: 200 }));
  const reload = (p: string) => void usersSection(ctx, el, p);
  const change = async (u: User, patch: Record<string, unknown>) => {
    try {
      const r = await call<{ position: string }>("PATCH", "/v1/users/" + u.id, patch);
      reload(r.position);
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  };
  const submit = h("button", { type: "submit" }, "Create user") as HTMLButtonElement;
  const form = h("form.inline", { id: "create-user" },
    h("input", { name: "email", type: "email", required: true, placeholder: "email" }),
    h("input", { name: "name", required: true, placeholder: "name" }),
    h("input", { name: "password", type: "password", required: true, minlength: 8, placeholder: "initial password", autocomplete: "new-password" }),
    h("select", { name: "role" }, roles.map((r) => h("option", { value: r }, r))),
    submit) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await busy(submit, "Creating…", () => post<{ position: string }>("/v1/users",
        { email: field(form, "email"), name: field(form, "name"), password: field(form, "password"), role: field(form, "role") }));
      reload(r.position);
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });
  replace(el, h("h2", null, "Users and roles"), messages, table(list.users, [
    ["Email", (u) => u.email],
    ["Name", (u) => u.name],
    ["Role", (u) => {
      const s = h("select", { "aria-label": "role of " + u.email, disabled: u.id === ctx.me.user.id },
        roles.map((r) => h("option", { value: r, selected: r === u.role }, r))) as HTMLSelectElement;
      s.addEventListener("change", () => void change(u, { role: s.value }));
      return s;
    }],
    ["State", (u) => badge(u.enabled ? "enabled" : "disabled", u.enabled ? "active" : "disabled")],
    ["Second factor", (u) => u.totp_enabled ? [badge("on", "active"), " ", h("button", { type: "button", onclick: async () => {
      if (!confirm(`Reset the second factor of ${u.email}?`)) return;
      try {
        const r = await call<{ position: string }>("DELETE", `/v1/users/${u.id}/totp`);
        reload(r.position);
      } catch (err) {
        messages.appendChild(errorBox(err));
      }
    } }, "Reset")] : "off"],
    ["Since", (u) => time(u.created_at)],
    ["", (u) => u.id === ctx.me.user.id ? "you" :
      h("button", { type: "button", onclick: () => void change(u, { enabled: !u.enabled }) }, u.enabled ? "Disable" : "Enable")],
  ]), form);
}

async function ssoSection(ctx: Context, el: HTMLElement): Promise<void> {
  const messages = h("div");
  let providers: SSOProvider[] = [];
  try {
    providers = (await get<{ providers: SSOProvider[] }>("/v1/sso/providers")).providers;
  } catch (err) {
    messages.appendChild(errorBox(err));
  }
  const submit = h("button", { type: "submit" }, "Add provider") as HTMLButtonElement;
  const form = h("form.filters", { id: "create-sso" },
    h("label", null, "Name", h("input", { name: "name", required: true })),
    h("label", null, "Issuer URL", h("input", { name: "issuer_url", type: "url", required: true })),
    h("label", null, "Client id", h("input", { name: "client_id", required: true })),
    h("label", null, "Client secret", h("input", { name: "client_secret", type: "password", required: true, autocomplete: "new-password" })),
    h("label", null, "Allowed email domains (comma-separated)", h("input", { name: "allowed_domains" })),
    h("label", null, "Default role", h("select", { name: "default_role" }, roles.map((r) => h("option", { value: r }, r)))),
    submit) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const domains = field(form, "allowed_domains").split(",").map((d) => d.trim()).filter(Boolean);
      const r = await busy(submit, "Checking the issuer…", () => post<{ redirect_uri: string }>("/v1/sso/providers", {
        name: field(form, "name"), issuer_url: field(form, "issuer_url"), client_id: field(form, "client_id"),
        client_secret: field(form, "client_secret"), allowed_domains: domains, default_role: field(form, "default_role"),
      }));
      await ssoSection(ctx, el);
      el.insertBefore(h("p.notice", null, "Register this redirect URI at the provider: ", h("code", null, r.redirect_uri)), el.children[1]);
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });
  replace(el, h("h2", null, "Single sign-on providers"), messages, table(providers, [
    ["Name", (p) => p.name],
    ["Provider id (sign-in)", (p) => h("code", null, p.id)],
    ["Issuer", (p) => p.issuer_url],
    ["Client id", (p) => p.client_id],
    ["Domains", (p) => p.allowed_domains.join(", ") || "any"],
    ["Default role", (p) => p.default_role],
    ["", (p) => h("button", { type: "button", onclick: async () => {
      if (!confirm(`Delete the provider ${p.name}?`)) return;
      try {
        await call("DELETE", "/v1/sso/providers/" + p.id);
        await ssoSection(ctx, el);
      } catch (err) {
        messages.appendChild(errorBox(err));
      }
    } }, "Delete")],
  ], "No provider: users sign in with passwords."),
  providers.length ? h("p#sign-in-link", null, "Your tenant's sign-in page, with a button per provider: ",
    h("code", null, location.origin + "/?tenant=" + encodeURIComponent(ctx.me.tenant_id))) : "",
  h("details", null, h("summary", null, "Add a provider"), form));
}

async function tokensSection(el: HTMLElement, position?: string, notice?: HTMLElement): Promise<void> {
  const messages = h("div");
  const issued = h("div#token-issued");
  if (notice) issued.appendChild(notice);
  let tokens: APIToken[] = [];
  try {
    tokens = (await get<{ tokens: APIToken[] }>("/v1/tokens" + query({ min_position: position }))).tokens;
  } catch (err) {
    messages.appendChild(errorBox(err));
  }
  const submit = h("button", { type: "submit" }, "Issue token") as HTMLButtonElement;
  const form = h("form.inline", { id: "create-token" },
    h("input", { name: "name", required: true, placeholder: "token name" }),
    h("input", { name: "user_id", placeholder: "user id (you when empty)" }),
    h("input", { name: "expires_in", type: "number", min: 60, placeholder: "lifetime in seconds" }),
    submit) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(messages);
    try {
      const r = await busy(submit, "Issuing…", () => post<{ id: string; token: string; expires_at?: string; position: string }>("/v1/tokens", {
        name: field(form, "name"), user_id: field(form, "user_id") || undefined,
        expires_in: field(form, "expires_in") ? Number(field(form, "expires_in")) : undefined,
      }));
      await tokensSection(el, r.position, h("div.notice", null, "Token ", h("code", null, r.id), " issued",
        r.expires_at ? `, expires ${time(r.expires_at)}` : "", ". Copy it now, it is not shown again: ", h("code.secret", null, r.token)));
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });
  const state = (t: APIToken) => t.revoked ? [badge("revoked", "disabled"), t.revoked_at ? " " + time(t.revoked_at) : ""] :
    t.expires_at && new Date(t.expires_at) <= new Date() ? badge("expired", "disabled") : badge("active");
  replace(el, h("h2", null, "API tokens"), h("p.muted", null, "Tokens authenticate scripts as a user (Authorization: Bearer apiq_…)."),
    messages, issued, table(tokens, [
      ["Name", (t) => t.name],
      ["Token id", (t) => h("code", null, t.id)],
      ["User id", (t) => h("code", null, t.user_id)],
      ["State", state],
      ["Created", (t) => time(t.created_at)],
      ["Expires", (t) => t.expires_at ? time(t.expires_at) : "never"],
      ["", (t) => t.revoked ? "" : h("button", { type: "button", "aria-label": "revoke " + t.name, onclick: async () => {
        if (!confirm(`Revoke the token ${t.name}?`)) return;
        try {
          const r = await call<{ position: string }>("DELETE", "/v1/tokens/" + encodeURIComponent(t.id));
          await tokensSection(el, r.position);
        } catch (err) {
          messages.appendChild(errorBox(err));
        }
      } }, "Revoke")],
    ], "No API token yet."), form);
}

/** Key rotation status: the active master key and the data keys under each. */
async function keysSection(el: HTMLElement): Promise<void> {
  let st: KeyStatus;
  try {
    st = await get<KeyStatus>("/v1/keys");
  } catch (err) {
    replace(el, h("h2", null, "Key rotation"), errorBox(err));
    return;
  }
  replace(el, h("h2", null, "Key rotation"),
    h("p#key-status", null, "Active master key ", h("code", null, st.active_kek), ": ",
      st.rotation_complete ? badge("rotation complete", "active") : badge("rotation incomplete", "disabled")),
    h("p.muted", null, "Rotate with apiq keys rotate, then restart the servers; every data key of the tenant should then be under the active key."),
    table(st.keks, [
      ["Master key (KEK)", (k) => h("code", null, k.id)],
      ["State", (k) => k.active ? badge("active") : k.in_keyring ? badge("retired", "disabled") : badge("not in keyring", "disabled")],
      ["Data keys of this tenant", (k) => String(k.data_keys)],
    ]));
}

/** The tenant's security settings: a second factor for every password user. */
async function securitySection(el: HTMLElement): Promise<void> {
  const messages = h("div");
  const current = await get<{ totp_required: boolean }>("/v1/tenant/security");
  const box = h("input", { type: "checkbox", id: "totp-required", checked: current.totp_required }) as HTMLInputElement;
  box.addEventListener("change", async () => {
    replace(messages);
    try {
      await call("PUT", "/v1/tenant/security", { totp_required: box.checked });
      messages.appendChild(h("p.notice", null, box.checked ? "Password users now need a second factor." : "A second factor is now optional."));
    } catch (err) {
      box.checked = !box.checked;
      messages.appendChild(errorBox(err));
    }
  });
  replace(el, h("h2", null, "Security"), h("label.check", null, box, " Require a second factor (TOTP) for every password user"), messages);
}
