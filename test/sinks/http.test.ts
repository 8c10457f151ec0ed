import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SinkError } from '../../src/errors.js';
import { backoffDelay, parseRetryAfter, sendHttp, userAgent } from '../../src/sinks/http.js';
import { type PushgatewayTarget, sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import { freePort, makeTempDir } from '../helpers/services.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A tiny HTTP server answering with the scripted responses in turn (the last one repeats). */
async function scriptedServer(
  script: ((req: IncomingMessage, res: ServerResponse) => void)[],
): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      const step = script[Math.min(seen.length - 1, script.length - 1)] as (typeof script)[number];
      step(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const status =
  (code: number, body = '', headers: Record<string, string> = {}) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(code, headers);
    res.end(body);
  };

function payload(method: MetricsPayload['method'] = 'put'): MetricsPayload {
  return { text: '# TYPE a gauge\na 1\n', job: 'j', grouping: { instance: 'x' }, method, measuredAt: 0 };
}

/** Records sleeps instead of waiting. */
function fakeSleep(): { sleep: (ms: number) => Promise<void>; slept: number[] } {
  const slept: number[] = [];
  return { slept, sleep: async (ms) => void slept.push(ms) };
}

async function rejection(p: Promise<unknown>): Promise<SinkError> {
  const err = await p.then(
    () => assert.fail('expected a SinkError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkError, String(err));
  return err;
}

let tmp: { dir: string; cleanup: () => void };
before(() => {
  tmp = makeTempDir();
});
after(() => tmp.cleanup());

describe('sendToTarget over HTTP: retries', () => {
  it('503, 503, 200: three attempts then success, with full-jitter backoff', async () => {
    const srv = await scriptedServer([status(503, 'busy'), status(503, 'busy'), status(200)]);
    try {
      const { sleep, slept } = fakeSleep();
      const retries: { attempt: number; delayMs: number; status: number | undefined }[] = [];
      await sendToTarget(
        payload(),
        { kind: 'pushgateway', url: srv.url },
        {
          sleep,
          random: () => 0.5,
          onRetry: (i) => retries.push({ attempt: i.attempt, delayMs: i.delayMs, status: i.error.status }),
        },
      );
      assert.deepEqual(
        srv.seen.map((s) => `${s.method} ${s.url}`),
        ['PUT /metrics/job/j/instance/x', 'PUT /metrics/job/j/instance/x', 'PUT /metrics/job/j/instance/x'],
      );
      // 0.5 * 500 ms, then 0.5 * 1000 ms.
      assert.deepEqual(slept, [250, 500]);
      assert.deepEqual(retries, [
        { attempt: 1, delayMs: 250, status: 503 },
        { attempt: 2, delayMs: 500, status: 503 },
      ]);
      const first = srv.seen[0] as Seen;
      assert.equal(first.body.toString(), '# TYPE a gauge\na 1\n');
      assert.equal(first.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(first.headers['user-agent'], userAgent());
      assert.match(userAgent(), /^resticprom\/\d+\.\d+\.\d+/);
    } finally {
      await srv.close();
    }
  });

  it('gives up after `retries` retries with a retryable error naming the attempts', async () => {
    const srv = await scriptedServer([status(502, 'bad gateway\nupstream down')]);
    try {
      const { sleep, slept } = fakeSleep();
      const err = await rejection(
        sendToTarget(
          payload(),
          { kind: 'pushgateway', url: srv.url, retries: 2 },
          { sleep, random: () => 1 },
        ),
      );
      assert.equal(srv.seen.length, 3);
      assert.deepEqual(slept, [500, 1000]);
      assert.equal(err.isRetryable, true);
      assert.equal(err.status, 502);
      assert.equal(err.body, 'bad gateway\nupstream down');
      assert.equal(
        err.message,
        `unexpected status 502 while pushing to ${srv.url}/metrics/job/j/instance/x: bad gateway upstream down (after 3 attempts)`,
      );
    } finally {
      await srv.close();
    }
  });

  it('429 with Retry-After: waits what the server asks', async () => {
    const srv = await scriptedServer([status(429, 'slow down', { 'Retry-After': '2' }), status(200)]);
    try {
      const { sleep, slept } = fakeSleep();
      await sendToTarget(payload(), { kind: 'pushgateway', url: srv.url }, { sleep, random: () => 0 });
      assert.equal(srv.seen.length, 2);
      assert.deepEqual(slept, [2000]);
    } finally {
      await srv.close();
    }
  });

  it('a Retry-After beyond 30 s ends the retries at once (the outbox tries later)', async () => {
    const srv = await scriptedServer([status(503, '', { 'Retry-After': '120' })]);
    try {
      const { sleep, slept } = fakeSleep();
      const err = await rejection(sendToTarget(payload(), { kind: 'pushgateway', url: srv.url }, { sleep }));
      assert.equal(srv.seen.length, 1);
      assert.deepEqual(slept, []);
      assert.equal(err.isRetryable, true);
      assert.equal(
        err.message,
        `unexpected status 503 while pushing to ${srv.url}/metrics/job/j/instance/x (the server asks to retry after 120 s)`,
      );
    } finally {
      await srv.close();
    }
  });

  it('other 4xx: one attempt, not retryable, body quoted', async () => {
    const srv = await scriptedServer([status(400, 'text format parsing error in line 1: bad\n')]);
    try {
      const { sleep, slept } = fakeSleep();
      const err = await rejection(
        sendToTarget(payload('post'), { kind: 'pushgateway', url: srv.url }, { sleep }),
      );
      assert.equal(srv.seen.length, 1);
      assert.equal(srv.seen[0]?.method, 'POST');
      assert.deepEqual(slept, []);
      assert.equal(err.isRetryable, false);
      assert.equal(
        err.message,
        `unexpected status 400 while pushing to ${srv.url}/metrics/job/j/instance/x: text format parsing error in line 1: bad`,
      );
    } finally {
      await srv.close();
    }
  });

  it('does not follow redirects', async () => {
    const srv = await scriptedServer([status(301, '', { Location: 'https://user:pw@elsewhere/x' })]);
    try {
      const err = await rejection(sendToTarget(payload(), { kind: 'pushgateway', url: srv.url }));
      assert.equal(srv.seen.length, 1);
      assert.equal(err.isRetryable, false);
      assert.equal(
        err.message,
        `unexpected status 301 while pushing to ${srv.url}/metrics/job/j/instance/x (redirects are not followed; it points to https://***:***@elsewhere/x)`,
      );
    } finally {
      await srv.close();
    }
  });

  it('refused connections are retried, then a retryable SinkError', async () => {
    const port = await freePort();
    const { sleep, slept } = fakeSleep();
    const url = `http://127.0.0.1:${port}`;
    const err = await rejection(
      sendToTarget(payload(), { kind: 'pushgateway', url, retries: 2 }, { sleep, random: () => 0.1 }),
    );
    assert.deepEqual(slept, [50, 100]);
    assert.equal(err.isRetryable, true);
    assert.equal(err.status, undefined);
    assert.equal(
      err.message,
      `network error while pushing to ${url}/metrics/job/j/instance/x: connect ECONNREFUSED 127.0.0.1:${port} (after 3 attempts)`,
    );
  });

  it('a server that never answers: each attempt times out', async () => {
    const srv = await scriptedServer([() => undefined]);
    try {
      const { sleep } = fakeSleep();
      const err = await rejection(
        sendToTarget(payload(), { kind: 'pushgateway', url: srv.url, timeoutMs: 150, retries: 1 }, { sleep }),
      );
      assert.equal(srv.seen.length, 2);
      assert.equal(err.isRetryable, true);
      assert.equal(
        err.message,
        `timeout after 150 ms while pushing to ${srv.url}/metrics/job/j/instance/x (after 2 attempts)`,
      );
    } finally {
      await srv.close();
    }
  });

  it('an aborted signal stops the waiting between retries', async () => {
    const srv = await scriptedServer([status(503)]);
    try {
      const ctrl = new AbortController();
      const err = await rejection(
        sendToTarget(
          payload(),
          { kind: 'pushgateway', url: srv.url, retries: 5 },
          { signal: ctrl.signal, random: () => 1, onRetry: () => ctrl.abort(new Error('stop')) },
        ),
      );
      assert.equal(srv.seen.length, 1);
      assert.equal(err.message, `aborted while pushing to ${srv.url}/metrics/job/j/instance/x`);
      assert.equal(err.isRetryable, true);
    } finally {
      await srv.close();
    }
  });
});

describe('sendToTarget over HTTP: headers and auth', () => {
  it('bearer token from a file, extra headers, gzip body, DELETE without body', async () => {
    const srv = await scriptedServer([status(200), status(202)]);
    try {
      const tokenFile = join(tmp.dir, 'token');
      writeFileSync(tokenFile, 'tok-123\n\n');
      const target: PushgatewayTarget = {
        kind: 'pushgateway',
        url: `${srv.url}/prefix/`,
        gzip: true,
        bearerToken: { file: tokenFile },
        headers: { 'X-Scope-OrgID': 'tenant-1' },
      };
      await sendToTarget(payload('post'), target);
      await sendToTarget(payload('delete'), target);
      const [push, del] = srv.seen as [Seen, Seen];
      assert.equal(push.url, '/prefix/metrics/job/j/instance/x');
      assert.equal(push.headers.authorization, 'Bearer tok-123');
      assert.equal(push.headers['x-scope-orgid'], 'tenant-1');
      assert.equal(push.headers['content-encoding'], 'gzip');
      assert.equal(gunzipSync(push.body).toString(), '# TYPE a gauge\na 1\n');
      assert.equal(del.method, 'DELETE');
      assert.equal(del.url, '/prefix/metrics/job/j/instance/x');
      assert.equal(del.body.length, 0);
    } finally {
      await srv.close();
    }
  });

  it('basic auth from an env var, given through opts.env', async () => {
    const srv = await scriptedServer([status(200)]);
    try {
      await sendHttp(
        { method: 'POST', url: srv.url, action: 'pushing to', body: Buffer.from('x') },
        { basicAuth: { username: 'u', password: { env: 'PW' } } },
        { env: { PW: 'p:w' } },
      );
      assert.equal(srv.seen[0]?.headers.authorization, `Basic ${Buffer.from('u:p:w').toString('base64')}`);
    } finally {
      await srv.close();
    }
  });

  it('an unreadable secret file or CA file is named, not retried, kept for later', async () => {
    const err = await rejection(
      sendHttp(
        { method: 'POST', url: 'http://127.0.0.1:1/', action: 'pushing to' },
        { bearerToken: { file: '/nonexistent/token' } },
      ),
    );
    assert.equal(err.message, 'bearer token: cannot read /nonexistent/token (ENOENT)');
    assert.equal(err.isRetryable, true);
    const err2 = await rejection(
      sendHttp(
        { method: 'POST', url: 'https://127.0.0.1:1/', action: 'pushing to' },
        { caFile: '/nonexistent/ca.pem' },
      ),
    );
    assert.equal(err2.message, 'cannot read ca-file /nonexistent/ca.pem (ENOENT)');
  });
});

describe('backoff helpers', () => {
  it('backoffDelay doubles from 500 ms and caps at 30 s', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 7, 8, 20].map((n) => backoffDelay(n, () => 0.999999)),
      [499, 999, 1999, 3999, 29999, 29999, 29999],
    );
    assert.equal(
      backoffDelay(3, () => 0),
      0,
    );
  });

  it('parseRetryAfter reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('7'), 7000);
    assert.equal(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
      10_000,
    );
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});
