/**
 * Readying the HTTP client while restic runs (`preloadDelivery`, sinks/http.ts): its rehearsal
 * request goes through an in-memory socket, so nothing connects anywhere, not even to the
 * destination it readies for; the real request after it is sent as usual.
 */
import assert from 'node:assert/strict';
import { createServer as createTcpServer, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { preloadDelivery, sendHttp } from '../../src/sinks/http.js';

describe('preloadDelivery', () => {
  it('opens no connection, for http and https, and the next request works', async () => {
    let connections = 0;
    let requests = 0;
    const server = createTcpServer((socket) => {
      connections++;
      socket.on('data', (d) => {
        if (d.toString('latin1').includes('\r\n\r\n')) {
          requests++;
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    // Every socket's connect in this process, not only those to our server.
    const connect = Socket.prototype.connect;
    let connectCalls = 0;
    Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
      connectCalls++;
      return (connect as (...a: unknown[]) => Socket).apply(this, args);
    } as typeof connect;
    try {
      preloadDelivery([
        { kind: 'pushgateway', urls: [`http://127.0.0.1:${port}`] },
        { kind: 'remote-write', url: `https://127.0.0.1:${port}/api/v1/write` },
        { kind: 'otlp', url: 'not a url' },
        { kind: 'textfile', path: '/nonexistent/x.prom' },
      ] as never);
      await sleep(300);
      assert.equal(connectCalls, 0, 'the rehearsal connected a socket');
      assert.equal(connections, 0, 'the rehearsal reached the destination');
      const r = await sendHttp(
        {
          method: 'POST',
          url: `http://127.0.0.1:${port}/metrics/job/x`,
          body: Buffer.from('x 1\n'),
          action: 'pushing to',
        },
        {},
      );
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.deepEqual([connections, requests], [1, 1]);
      assert.equal(connectCalls, 1);
    } finally {
      Socket.prototype.connect = connect;
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
