/**
 * A pass-through HTTP hop in its own process, for bench:gateway's floor: Node's HTTP server reading the request body
 * whole and forwarding it with Node's HTTP client (kept-alive connections), writing each piece of the answer back as
 * it comes. No authentication, metering, parsing or durable books: what any two-hop path of Node processes (a gateway
 * in front of a runner in front of llama-server) costs before it does anything of its own.
 *
 *   node --import tsx tests/bench/pass-through.ts <upstream base URL>   (prints its own URL on its first line)
 */
import { Agent, createServer, request } from 'node:http';

const upstream = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length }
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/octet-stream' });
        answer.on('data', (piece: Buffer) => res.write(piece));
        answer.on('end', () => res.end());
        answer.on('error', () => res.destroy());
      }
    );
    forwarded.on('error', () => res.destroy());
    forwarded.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') console.log(`http://127.0.0.1:${address.port}`);
});
