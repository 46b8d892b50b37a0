// A tiny app: refuses to start without its configuration, answers on its port.
const http = require('http');
const port = Number(process.argv[2]);
if (!process.env.GREETING) {
  console.error('GREETING is not set');
  process.exit(1);
}
http.createServer((req, res) => res.end(process.env.GREETING + '\n')).listen(port, '127.0.0.1');
