// Honours Idempotency-Key on POST the way Stripe does, when
// APIQ_JS_IDEMPOTENCY=1: the first request with a key runs and its response is
// stored; a later one with the same key and the same parameters gets that
// stored response again (header Idempotent-Replayed: true) and creates
// nothing; the same key with other parameters is a 400, and while the first
// request is still running a second one is a 409.
'use strict';

const crypto = require('crypto');

const enabled = process.env.APIQ_JS_IDEMPOTENCY === '1';
const stored = new Map();
// How long a request whose client went away may take before its key is free.
const abandonAfter = 30 * 1000;

function fingerprint(req) {
  return crypto.createHash('sha256')
    .update(`${req.method} ${req.path}\n${JSON.stringify(req.body === undefined ? null : req.body)}`)
    .digest('hex');
}

function idempotencyError(res, status, message) {
  res.status(status).json({ error: { type: 'idempotency_error', message } });
}

function toBuffer(chunk, encoding) {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return null;
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8');
}

module.exports = (req, res, next) => {
  const key = req.get('Idempotency-Key');
  if (!enabled || req.method !== 'POST' || !key) return next();

  const print = fingerprint(req);
  const prior = stored.get(key);
  if (prior) {
    if (prior.fingerprint !== print) {
      return idempotencyError(res, 400,
        'Keys for idempotent requests can only be used with the same parameters they were first used with.');
    }
    if (!prior.done) {
      return idempotencyError(res, 409,
        'There is currently another in-progress request using this Idempotency-Key; try again later.');
    }
    res.set(prior.headers);
    res.set('Idempotent-Replayed', 'true');
    return res.status(prior.status).send(prior.body);
  }

  const entry = { fingerprint: print, done: false };
  stored.set(key, entry);
  const chunks = [];
  const write = res.write;
  const end = res.end;
  res.write = function (chunk, encoding, ...rest) {
    const buf = toBuffer(chunk, encoding);
    if (buf) chunks.push(buf);
    return write.call(this, chunk, encoding, ...rest);
  };
  res.end = function (chunk, encoding, ...rest) {
    const buf = toBuffer(chunk, encoding);
    if (buf) chunks.push(buf);
    const headers = {};
    for (const name of ['Content-Type', 'Location']) {
      const value = res.get(name);
      if (value) headers[name] = value;
    }
    Object.assign(entry, { done: true, status: res.statusCode, headers, body: Buffer.concat(chunks) });
    return end.call(this, chunk, encoding, ...rest);
  };
  // A client that drops the connection does not stop the request: json-server
  // parsed its body before this middleware ran and still creates the record
  // (after its --delay pause too), so the key keeps the result it gets, as
  // Stripe keeps the result of a request that started executing. Only a
  // request that never answers gives its key up, after abandonAfter.
  res.on('close', () => {
    if (entry.done) return;
    setTimeout(() => {
      if (!entry.done && stored.get(key) === entry) stored.delete(key);
    }, abandonAfter).unref();
  });
  next();
};
