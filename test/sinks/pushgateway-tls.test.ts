import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SinkError } from '../../src/errors.js';
import { type PushgatewayTarget, sendToTarget } from '../../src/sinks/target.js';
import type { MetricsPayload } from '../../src/sinks/types.js';
import {
  bcryptHash,
  makeCertificates,
  makeTempDir,
  type RunningService,
  startPushgateway,
} from '../helpers/services.js';

const PASSWORD = 's3cr3t-Pässword';
let tmp: { dir: string; cleanup: () => void };
let certs: ReturnType<typeof makeCertificates>;
let authGw: RunningService;
let mtlsGw: RunningService;

function payload(text: string, job: string): MetricsPayload {
  return { text, job, grouping: {}, method: 'put', measuredAt: Date.now() };
}

/** Reads a group's value of family `name` back over https. */
async function readBack(gw: RunningService, job: string, name: string, extra: Record<string, unknown> = {}) {
  const { Agent, fetch } = await import('undici');
  const dispatcher = new Agent({ connect: { ca: readFileSync(certs.caFile), ...extra } });
  try {
    const res = await fetch(`${gw.url}/api/v1/metrics`, {
      dispatcher,
      headers: { Authorization: `Basic ${Buffer.from(`push:${PASSWORD}`).toString('base64')}` },
    });
    const body = (await res.json()) as {
      data: { labels: Record<string, string>; [k: string]: unknown }[];
    };
    const grp = body.data.find((g) => g.labels.job === job);
    const fam = grp?.[name] as { metrics: { value: string }[] } | undefined;
    return fam?.metrics.map((m) => m.value);
  } finally {
    await dispatcher.close();
  }
}

/** Runs `p` and returns the SinkError it must reject with. */
async function sinkError(p: Promise<unknown>): Promise<SinkError> {
  const err = await p.then(
    () => assert.fail('expected a SinkError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkError, String(err));
  return err;
}

for (const gateway of pushgatewayMatrix()) {
  describe(`Pushgateway ${gateway.version} over https`, { skip: gateway.skip }, () => {
    before(async () => {
      tmp = makeTempDir();
      certs = makeCertificates(tmp.dir);
      const authConfig = join(tmp.dir, 'web-auth.yml');
      writeFileSync(
        authConfig,
        `tls_server_config:
  cert_file: ${certs.serverCert}
  key_file: ${certs.serverKey}
basic_auth_users:
  push: ${bcryptHash(PASSWORD)}
`,
      );
      const mtlsConfig = join(tmp.dir, 'web-mtls.yml');
      writeFileSync(
        mtlsConfig,
        `tls_server_config:
  cert_file: ${certs.serverCert}
  key_file: ${certs.serverKey}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ${certs.caFile}
`,
      );
      [authGw, mtlsGw] = await Promise.all([
        startPushgateway({ bin: gateway.bin, webConfigFile: authConfig, scheme: 'https' }),
        startPushgateway({ bin: gateway.bin, webConfigFile: mtlsConfig, scheme: 'https' }),
      ]);
    });
    after(async () => {
      await Promise.all([authGw?.stop(), mtlsGw?.stop()]);
      tmp.cleanup();
    });

    describe('Pushgateway over https with basic auth', () => {
      const auth = () =>
        ({
          kind: 'pushgateway',
          url: authGw.url,
          retries: 2,
          basicAuth: { username: 'push', password: { value: PASSWORD } },
        }) satisfies PushgatewayTarget;

      it('pushes with ca-file and the right password (password from a file, trailing newline trimmed)', async () => {
        const pwFile = join(tmp.dir, 'pw');
        writeFileSync(pwFile, `${PASSWORD}\n`);
        await sendToTarget(payload('# TYPE a gauge\na 42\n', 'tls'), {
          ...auth(),
          caFile: certs.caFile,
          basicAuth: { username: 'push', password: { file: pwFile } },
        });
        assert.deepEqual(await readBack(authGw, 'tls', 'a'), ['42']);
      });

      it('password from an environment variable', async () => {
        await sendToTarget(
          payload('# TYPE a gauge\na 43\n', 'tls-env'),
          { ...auth(), caFile: certs.caFile, basicAuth: { username: 'push', password: { env: 'GW_PASS' } } },
          { env: { GW_PASS: PASSWORD } },
        );
        assert.deepEqual(await readBack(authGw, 'tls-env', 'a'), ['43']);
      });

      it('without ca-file fails at once with a clear TLS message, kept for later', async () => {
        const retries: number[] = [];
        const err = await sinkError(
          sendToTarget(payload('a 1\n', 'tls'), auth(), { onRetry: (i) => retries.push(i.attempt) }),
        );
        assert.equal(
          err.message,
          `TLS error talking to ${authGw.url}: unable to verify the first certificate (set ca-file or --ca-file)`,
        );
        assert.equal(err.isRetryable, true);
        assert.deepEqual(retries, []);
      });

      it('with insecureSkipVerify succeeds', async () => {
        await sendToTarget(payload('# TYPE a gauge\na 44\n', 'tls-insecure'), {
          ...auth(),
          insecureSkipVerify: true,
        });
        assert.deepEqual(await readBack(authGw, 'tls-insecure', 'a'), ['44']);
      });

      it('a wrong password is a 401: not retried, and the message does not contain it', async () => {
        const wrong = 'wrong-Pässword-123';
        const retries: number[] = [];
        const err = await sinkError(
          sendToTarget(
            payload('a 1\n', 'tls'),
            { ...auth(), caFile: certs.caFile, basicAuth: { username: 'push', password: { value: wrong } } },
            { onRetry: (i) => retries.push(i.attempt) },
          ),
        );
        assert.equal(err.status, 401);
        assert.equal(err.isRetryable, false);
        assert.equal(
          err.message,
          `unexpected status 401 while pushing to ${authGw.url}/metrics/job/tls: Unauthorized (check the credentials)`,
        );
        assert.ok(!err.message.includes(wrong) && !err.message.includes(PASSWORD));
        assert.deepEqual(retries, []);
      });

      it('credentials in the URL become basic auth and are masked in messages', async () => {
        const u = new URL(authGw.url);
        u.username = 'push';
        u.password = encodeURIComponent(PASSWORD);
        await sendToTarget(payload('# TYPE a gauge\na 45\n', 'tls-url'), {
          kind: 'pushgateway',
          url: u.toString(),
          caFile: certs.caFile,
        });
        assert.deepEqual(await readBack(authGw, 'tls-url', 'a'), ['45']);
        u.password = 'nope-xyz';
        const err = await sinkError(
          sendToTarget(payload('a 1\n', 'tls-url'), {
            kind: 'pushgateway',
            url: u.toString(),
            caFile: certs.caFile,
          }),
        );
        assert.equal(err.url, `https://***:***@127.0.0.1:${authGw.port}/metrics/job/tls-url`);
        assert.ok(!err.message.includes('nope-xyz'), err.message);
      });

      it('a missing secret is reported by name, never by value', async () => {
        const err = await sinkError(
          sendToTarget(
            payload('a 1\n', 'tls'),
            {
              ...auth(),
              caFile: certs.caFile,
              basicAuth: { username: 'push', password: { env: 'NOPE_VAR' } },
            },
            { env: {} },
          ),
        );
        assert.equal(err.message, 'basic auth password: environment variable NOPE_VAR is not set');
        assert.equal(err.isRetryable, true);
      });
    });

    describe('Pushgateway over https with client certificates (mTLS)', () => {
      it('pushes with cert-file and key-file', async () => {
        await sendToTarget(payload('# TYPE m gauge\nm 7\n', 'mtls'), {
          kind: 'pushgateway',
          url: mtlsGw.url,
          caFile: certs.caFile,
          certFile: certs.clientCert,
          keyFile: certs.clientKey,
        });
        const values = await readBack(mtlsGw, 'mtls', 'm', {
          cert: readFileSync(certs.clientCert),
          key: readFileSync(certs.clientKey),
        });
        assert.deepEqual(values, ['7']);
      });

      it('fails without a client certificate, with a TLS message', async () => {
        const err = await sinkError(
          sendToTarget(payload('m 1\n', 'mtls'), {
            kind: 'pushgateway',
            url: mtlsGw.url,
            caFile: certs.caFile,
            retries: 0,
          }),
        );
        // Go's TLS stack answers a missing client certificate with alert 42 (bad certificate)
        // over TLS 1.2 (Pushgateway 1.5.1) and alert 116 (certificate required) over TLS 1.3
        // (1.11); OpenSSL names each, and our hint follows either.
        const alert = gateway.version.startsWith('1.5.')
          ? 'sslv3 alert bad certificate'
          : 'tlsv13 alert certificate required';
        assert.equal(
          err.message,
          `TLS error talking to ${mtlsGw.url}: ${alert} (the server may require a client certificate: set cert-file and key-file)`,
        );
        assert.equal(err.isRetryable, true);
        assert.equal(err.url, `${mtlsGw.url}/metrics/job/mtls`);
      });
    });
  });
}

import { pushgatewayMatrix } from '../helpers/matrix.js';
