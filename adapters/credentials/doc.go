// Package credentials turns a connection's auth input into sealed
// connection.Credentials and applies them to outbound calls: API keys
// (header, query, cookie), bearer tokens, basic auth, OAuth2 client
// credentials and the OAuth2 authorization-code flow with PKCE and state,
// with tokens refreshed before they expire (one refresh at a time per
// connection, across processes), rotated refresh tokens handed to a
// TokenStore to persist, refused tokens reported as
// ErrReauthorizationRequired, and revocation (RFC 7009) on delete.
//
// Secrets exist in plaintext only in memory, at call time: events carry
// vault ciphertexts scoped to (tenant, KeyOwner(connection id), field).
// Every request to a token, revocation or discovery endpoint goes through
// the SSRF-safe outbound client.
//
// How the connection commands and routes use a Manager:
//
//   - register or rotate: creds, err := m.Seal(ctx, tenant, id, input,
//     credentials.Document{Schemes: result.SecuritySchemes, BaseURL: baseURL}),
//     then append connection.credentials_set (or _rotated) with creds and
//     call m.Forget(tenant, id);
//   - GET /v1/connections/{id}/oauth/start: url, err := m.Start(ctx, tenant,
//     id, userID, redirectURI, creds), then redirect the browser to url;
//   - GET /v1/oauth/callback: a, err := m.Complete(ctx, state, code), then
//     append connection.oauth_tokens_refreshed with a.Tokens to the stream
//     of a.ConnectionID in a.Tenant;
//   - calls: res, applied, err := m.Do(ctx, tenant, id, creds, req), then
//     scrub res with applied.Scrubber() before storing anything of it; on
//     errors.Is(err, ErrReauthorizationRequired) append
//     connection.reauthorization_required with the ReauthorizationError's
//     Reason;
//   - delete: m.Revoke(ctx, tenant, id, creds) before
//     vault.DestroyOwnerKeys(ctx, tenant, KeyOwner(id)).
//
// Refreshed tokens are persisted through the TokenStore (the connection's
// stream; StreamTokenStore implements it on the event store port), never
// in a table of this package: the stream stays the source of truth, and the
// Manager re-reads it under the refresh lock before deciding to refresh.
package credentials
