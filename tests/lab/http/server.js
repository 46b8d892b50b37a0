// Health endpoints that misbehave the ways real apps do after a reboot, one per run:
//
//   node server.js ok PORT                 200 {"status":"ok","checks":{"db":"up"}}
//   node server.js slow-bind PORT          binds its port only 5 s after start, then ok
//   node server.js hang PORT               accepts connections and never answers
//   node server.js error PORT              500 with a two-line body
//   node server.js redirect-loop PORT      302 /a -> /b -> /a -> ...
//   node server.js big PORT                200 with a 10 MB body
//   node server.js tls PORT CERT KEY       https, 200 ok, with the given (self-signed) cert
//
// Everything listens on 127.0.0.1 only. The process prints "listening" once bound.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');

const [mode, portText, certPath, keyPath] = process.argv.slice(2);
const port = Number(portText);

function ok(req, res) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', checks: { db: 'up' } }) + '\n');
}

function listen(server) {
  server.listen(port, '127.0.0.1', () => console.log('listening'));
}

const handlers = {
  ok: () => listen(http.createServer(ok)),
  'slow-bind': () => setTimeout(() => listen(http.createServer(ok)), 5000),
  // The request is read and then left alone: the socket stays open until the client gives up.
  hang: () => listen(http.createServer(() => {})),
  error: () =>
    listen(
      http.createServer((req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('database unreachable: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect\n');
      }),
    ),
  'redirect-loop': () =>
    listen(
      http.createServer((req, res) => {
        res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' });
        res.end();
      }),
    ),
  big: () =>
    listen(
      http.createServer((req, res) => {
        const total = 10 * 1024 * 1024;
        const chunk = Buffer.alloc(64 * 1024, 'x');
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': total });
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        // A client that stops reading closes the socket; that is expected.
        res.on('error', () => {});
        req.socket.on('error', () => {});
        pump();
      }),
    ),
  tls: () =>
    listen(https.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) }, ok)),
};

const start = handlers[mode];
if (!start || !Number.isInteger(port)) {
  console.error(`usage: server.js ${Object.keys(handlers).join('|')} PORT [CERT KEY]`);
  process.exit(2);
}
start();
