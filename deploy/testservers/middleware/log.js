// Prints one plain line per request (method, path without the query string,
// status) so a failing Go test can show what the server saw; the query string
// is left out because it may carry an API key.
'use strict';

module.exports = (req, res, next) => {
  res.on('finish', () => {
    const replayed = res.get('Idempotent-Replayed') ? ' (replayed)' : '';
    process.stdout.write(`${req.method} ${req.path} ${res.statusCode}${replayed}\n`);
  });
  next();
};
