// A webhook and heartbeat receiver for the lab: records every request, then answers it the
// way the mode file says, read afresh for each request.
//
//   node receiver.js PORT LOG MODE_FILE
//
// Each request is appended to LOG as one JSON line, before it is answered (a request the
// receiver never answers is recorded too): {"n", "at", "method", "url", "mode",
// "headers": {content-type, user-agent}, "body"}. Modes (the first word of MODE_FILE;
// "ok" when the file is missing or empty):
//   ok             200 "ok"
//   hang           read the request and never answer
//   status CODE    answer CODE (e.g. "status 503", "status 404")
//   retry SECONDS  429 with Retry-After: SECONDS
// Listens on 127.0.0.1 only and prints "listening" once bound.
'use strict';
const http = require('http');
const fs = require('fs');

const [portText, logPath, modePath] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || !logPath || !modePath) {
  console.error('usage: receiver.js PORT LOG MODE_FILE');
  process.exit(2);
}

let n = 0;

function mode() {
  try {
    const words = fs.readFileSync(modePath, 'utf8').trim().split(/\s+/);
    return words[0] ? words : ['ok'];
  } catch (err) {
    return ['ok'];
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const [kind, arg] = mode();
    n += 1;
    const record = {
      n,
      at: new Date().toISOString(),
      method: req.method,
      url: req.url,
      mode: kind,
      headers: { 'content-type': req.headers['content-type'] || null, 'user-agent': req.headers['user-agent'] || null },
      body: Buffer.concat(chunks).toString('utf8'),
    };
    fs.appendFileSync(logPath, JSON.stringify(record) + '\n');
    switch (kind) {
      case 'hang':
        // The socket stays open until the client gives up.
        return;
      case 'status':
        res.writeHead(Number(arg) || 500, { 'content-type': 'text/plain' });
        res.end(`answered ${arg}\n`);
        return;
      case 'retry':
        res.writeHead(429, { 'retry-after': arg || '1', 'content-type': 'text/plain' });
        res.end('slow down\n');
        return;
      default:
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
    }
  });
});
server.on('clientError', (err, socket) => socket.destroy());
server.listen(port, '127.0.0.1', () => console.log('listening'));
