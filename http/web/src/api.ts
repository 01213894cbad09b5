// The REST API as the interface uses it: same origin, the session cookie
// sent by the browser, the CSRF cookie's value echoed on state changes.

export class APIError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The value of a readable cookie, or "". */
export function cookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

function headers(method: string, extra?: Record<string, string>): Headers {
  const h = new Headers(extra);
  h.set("Accept", "application/json");
  if (method !== "GET" && method !== "HEAD") {
    const csrf = cookie("apiq_csrf");
    if (csrf) h.set("X-CSRF-Token", csrf);
  }
  return h;
}

async function errorOf(res: Response): Promise<APIError> {
  let body: { error?: { code?: string; message?: string; details?: unknown } } = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: keep the status text
  }
  const e = body.error ?? {};
  return new APIError(res.status, e.code ?? "http_" + res.status, e.message ?? res.statusText, e.details);
}

/** A listener told when the session ends (a 401 from any call). */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** Sends a JSON request and decodes the JSON answer (undefined for 204). */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers(method), credentials: "same-origin" };
  if (body !== undefined) {
    (init.headers as Headers).set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  return send<T>(path, init);
}

/** Sends a multipart form (a document upload). */
export async function upload<T>(method: string, path: string, form: FormData): Promise<T> {
  return send<T>(path, { method, headers: headers(method), credentials: "same-origin", body: form });
}

async function send<T>(path: string, init: RequestInit): Promise<T> {
  const res = await fetch(path, init);
  if (res.status === 401 && !path.startsWith("/v1/auth/")) onUnauthorized();
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => call<T>("GET", path);

/** Whether a command succeeded but its view did not catch up in time
 * (504 projection_timeout): reading again later shows it. */
export const isLag = (err: unknown) => err instanceof APIError && err.code === "projection_timeout";

/** GET, asked again while the server answers projection_timeout (each
 * answer waited several seconds for the read model already). */
export async function getFresh<T>(path: string, tries = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await get<T>(path);
    } catch (err) {
      if (!isLag(err) || i >= tries) throw err;
    }
  }
}
export const post = <T>(path: string, body: unknown = {}) => call<T>("POST", path, body);

/** Builds a query string from the set values. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

/** Signs in with a password: the server sets the cookies and redirects. */
export async function passwordLogin(email: string, password: string, tenantID: string, otp: string): Promise<void> {
  const body: Record<string, string> = { email, password };
  if (tenantID) body.tenant_id = tenantID;
  if (otp) body.otp = otp;
  const res = await fetch("/v1/auth/session", {
    method: "POST",
    headers: headers("POST", { "Content-Type": "application/json" }),
    body: JSON.stringify(body),
    credentials: "same-origin",
    redirect: "manual",
  });
  // 303 to "/" on success: an opaque redirect for fetch.
  if (res.type === "opaqueredirect" || res.ok) return;
  throw await errorOf(res);
}

/** Calls the API with a bearer token held in memory only (the short
 * enrolment token of a tenant that requires TOTP). */
export async function callWithToken<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const h = headers(method, { Authorization: "Bearer " + token });
  if (body !== undefined) h.set("Content-Type", "application/json");
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit" });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export async function logout(): Promise<void> {
  await call("POST", "/v1/auth/logout");
}

// The shapes the pages read (see http/openapi/openapi.yaml).

export type Role = "USER" | "ADMIN" | "AUDITOR";

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  enabled: boolean;
  totp_enabled?: boolean;
  created_at: string;
}

export interface Me {
  user: User;
  tenant_id: string;
  auth_method: string;
}

export interface Warning {
  code: string;
  message: string;
  pointer?: string;
  line?: number;
}

export interface Connection {
  id: string;
  name: string;
  base_url: string;
  document_url?: string;
  status: "active" | "disabled" | "needs_reauthorization";
  auth: { type: string; hint?: string; key_id?: string; expires_at?: string; authorized?: boolean };
  document: { title: string; openapi_version: string; api_version?: string; operation_count: number; warnings: Warning[] };
  last_test?: { at: string; ok: boolean; method: string; path: string; status?: number; duration_ms: number; error?: string };
  created_at: string;
  updated_at: string;
  position?: string;
}

export interface Endpoint {
  connection_id: string;
  operation_id: string;
  method: string;
  path: string;
  summary: string;
  side_effect: SideEffect;
  deprecated: boolean;
  tags: string[];
}

export interface EndpointHit {
  connection_id: string;
  connection_name: string;
  operation_id: string;
  method: string;
  path: string;
  summary: string;
  score: number;
  side_effect: SideEffect;
  deprecated: boolean;
}

export type SideEffect = "read" | "write" | "destructive";

export interface TestResult {
  ok: boolean;
  operation_id: string;
  method: string;
  path: string;
  status?: number;
  duration_ms: number;
  error?: string;
}

export interface PlanStep {
  id: string;
  kind: "call" | "condition" | "foreach" | "transform";
  description?: string;
  call?: {
    connection_id: string;
    operation_id: string;
    side_effect?: SideEffect;
    path?: Record<string, unknown>;
    query?: Record<string, unknown>;
    header?: Record<string, unknown>;
    body?: unknown;
  };
  condition?: { expr: string; then?: string[]; else?: string[] };
  foreach?: { items: string; max_iterations: number; steps: PlanStep[] };
  transform?: { expr: string };
}

export interface Tokens {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface PlanVersion {
  version: number;
  status: string;
  prompt: string;
  created_at: string;
  confidence?: string;
  plan?: { inputs?: { name: string; default?: unknown }[]; steps: PlanStep[] };
  summary?: {
    calls: { step: string; operation_id: string; method?: string; path?: string; side_effect: SideEffect }[];
    mutating_calls: number;
    destructive_calls: number;
    max_calls: number;
    credentials: { connection_id: string; connection_name?: string; type: string; key_id?: string }[];
    tokens: Tokens;
  };
  errors: { step?: string; field?: string; code: string; message: string }[];
  reason?: string;
  message?: string;
  planning: { mode: string; model?: string; usage: Tokens };
}

export interface Plan {
  id: string;
  status: string;
  version: number;
  prompt: string;
  requested_by: string;
  confirmation?: { version: number; by: string; at: string };
  rejection?: { by: string; reason: string; at: string };
  versions: PlanVersion[];
  created_at: string;
  updated_at: string;
  position?: string;
}

export interface PlanListItem {
  id: string;
  status: string;
  version: number;
  prompt: string;
  confirmed_version?: number;
  created_at: string;
}

export interface ExecutionStep {
  key: string;
  step_id: string;
  kind: string;
  status: string;
  attempts: number;
  http_status?: number;
  duration_ms: number;
  request?: Record<string, unknown>;
  response?: { status?: number; body?: unknown; body_bytes?: number };
  error?: string;
}

export interface Execution {
  id: string;
  plan_id: string;
  plan_version: number;
  status: string;
  inputs: Record<string, unknown>;
  outcome?: { step?: string; reason?: string; done?: string[] };
  created_at: string;
  updated_at: string;
  finished_at?: string;
  /** The execution stream's version this view reflects. */
  version: number;
  steps?: ExecutionStep[];
}

export interface AuditEvent {
  event_id: string;
  sequence?: number;
  occurred_at: string;
  actor: { subject?: string; role?: string; auth_method?: string };
  action: string;
  resource: { type: string; id: string };
  stream: string;
  stream_version: number;
  outcome: string;
  correlation_id?: string;
  request_id?: string;
  summary: Record<string, unknown>;
}

export interface SSOProvider {
  id: string;
  name: string;
  issuer_url: string;
  client_id: string;
  allowed_domains: string[];
  default_role: Role;
  created_at: string;
}

/** An API token as GET /v1/tokens lists it: never its secret. */
export interface APIToken {
  id: string;
  name: string;
  user_id: string;
  created_at: string;
  expires_at?: string;
  revoked_at?: string;
  revoked: boolean;
}

/** GET /v1/keys: the master keys (KEKs) and the tenant's data keys under each. */
export interface KeyStatus {
  active_kek: string;
  keks: { id: string; active: boolean; in_keyring: boolean; data_keys: number }[];
  rotation_complete: boolean;
}
