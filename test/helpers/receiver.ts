/**
 * A local HTTP receiver for notification tests: records every request (method, path
 * with query, headers, body) and answers with a status the test sets; `stop()` and
 * `start()` take it down and bring it back on the same port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { freePort } from './services.js';

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. `/ping/abc/start?rid=...`. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Unix ms. */
  at: number;
}

/** A running receiver. */
export interface Receiver {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** The status of the next answers. @default 200 */
  status: number;
  /** The body of the answers. @default 'OK' */
  answer: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export async function startReceiver(): Promise<Receiver> {
  const port = await freePort();
  let server: Server | undefined;
  const r: Receiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    status: 200,
    answer: 'OK',
    start: () =>
      new Promise((resolve, reject) => {
        const s = createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            r.requests.push({
              method: req.method ?? '',
              url: req.url ?? '',
              headers: req.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              at: Date.now(),
            });
            res.writeHead(r.status, { 'Content-Type': 'text/plain' });
            res.end(r.answer);
          });
        });
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => {
          server = s;
          resolve();
        });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
        server = undefined;
      }),
  };
  await r.start();
  return r;
}
