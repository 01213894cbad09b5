// Demands the credential configured through the environment, like a real API:
//   APIQ_JS_API_KEY       the API key's value (unset: no API key accepted)
//   APIQ_JS_API_KEY_IN    where it travels: header (default), query or cookie
//   APIQ_JS_API_KEY_NAME  the header, query parameter or cookie name (default X-API-Key)
//   APIQ_JS_BEARER_TOKEN  the bearer token's value (unset: no bearer accepted)
// With neither value set every request passes. Either credential is enough.
'use strict';

const apiKey = process.env.APIQ_JS_API_KEY || '';
const apiKeyIn = process.env.APIQ_JS_API_KEY_IN || 'header';
const apiKeyName = process.env.APIQ_JS_API_KEY_NAME || 'X-API-Key';
const bearer = process.env.APIQ_JS_BEARER_TOKEN || '';

function cookie(req, name) {
  for (const part of (req.get('Cookie') || '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      return decodeURIComponent(part.slice(at + 1).trim());
    }
  }
  return undefined;
}

function presentedKey(req) {
  switch (apiKeyIn) {
    case 'query': {
      const value = req.query[apiKeyName];
      // json-server reads every query parameter as a filter: the key is not one.
      delete req.query[apiKeyName];
      return value;
    }
    case 'cookie':
      return cookie(req, apiKeyName);
    default:
      return req.get(apiKeyName);
  }
}

function presentedBearer(req) {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('Authorization') || '');
  return match ? match[1] : undefined;
}

module.exports = (req, res, next) => {
  if (!apiKey && !bearer) return next();
  const key = presentedKey(req);
  if (apiKey && key === apiKey) return next();
  if (bearer && presentedBearer(req) === bearer) return next();
  if (bearer) res.set('WWW-Authenticate', 'Bearer realm="json-server"');
  res.status(401).json({ error: 'missing or invalid credentials' });
};
