// auth-proxy forwards every request to keyveil's HTTP listener, adding
// "Authorization: Bearer KEY". The conformance suite's server scenarios
// connect with a bare StreamableHTTPClientTransport and raw fetch calls and
// have no option to send a header (checked in 0.1.16), while keyveil always
// protects /mcp; this is the smallest thing that lets the suite in.
//
// Everything else passes through untouched, in both directions and as it
// streams (SSE), including Host and Origin: keyveil, not the proxy, must be
// the one that refuses the dns-rebinding-protection scenario's forged
// Host/Origin.
//
//   node auth-proxy.mjs TARGET_ORIGIN      (key in $KEYVEIL_CONFORMANCE_KEY)
//
// Prints "listening 127.0.0.1:PORT" on stdout once ready.

import http from "node:http";

const target = new URL(process.argv[2] ?? "");
const key = process.env.KEYVEIL_CONFORMANCE_KEY;
if (!key) {
  process.stderr.write("auth-proxy: KEYVEIL_CONFORMANCE_KEY is not set\n");
  process.exit(2);
}

// Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and
// are not forwarded.
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

function forwardable(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name)) out[name] = value;
  }
  return out;
}

const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const headers = forwardable(req.headers);
  headers.authorization = `Bearer ${key}`;
  const up = http.request(
    { agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.statusMessage, forwardable(upRes.headers));
      res.flushHeaders();
      upRes.pipe(res);
      upRes.on("error", () => res.destroy());
    },
  );
  up.on("error", (err) => {
    if (!res.headersSent) {
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`auth-proxy: ${err.code ?? err.message}\n`);
    } else {
      res.destroy();
    }
  });
  // A client that hangs up (an SSE reader cancelling) ends the upstream
  // request too, so keyveil sees the stream close.
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
});

server.listen(0, "127.0.0.1", () => {
  const { address, port } = server.address();
  process.stdout.write(`listening ${address}:${port}\n`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    agent.destroy();
    process.exit(0);
  });
}
