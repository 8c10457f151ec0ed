/**
 * Shared pieces of the fault suite: a seeded PRNG, gateway stand-ins that fail on
 * demand (count every request they see), and readers for the state directory.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { spawnCli } from '../helpers/cli.js';

/** mulberry32: a small seeded PRNG, so a failing kill schedule can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a stand-in does with request number `n` (1-based). */
export type StandInAction =
  | { status: number; body?: string }
  /** Read the request headers, then destroy the socket without answering. */
  | { close: true }
  /** Forward the request to this base URL (a real gateway) and relay its answer. */
  | { proxy: string };

/** A gateway stand-in: an HTTP server on loopback that answers as told and counts requests. */
export interface StandIn {
  url: string;
  port: number;
  /** Requests seen so far: method, path and body. */
  requests: { method: string; path: string; body: string }[];
  close: () => Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts a stand-in whose answer to request `n` is `script(n)`. */
export async function startStandIn(script: (n: number) => StandInAction, port = 0): Promise<StandIn> {
  const requests: StandIn['requests'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer((req, res) => {
    const n = requests.length + 1;
    const action = script(n);
    const entry = { method: req.method ?? '', path: req.url ?? '', body: '' };
    requests.push(entry);
    if ('close' in action) {
      // Headers are read (this handler runs after them); drop the connection mid-request.
      req.socket.destroy();
      return;
    }
    void readBody(req).then(async (body) => {
      entry.body = body;
      if ('proxy' in action) {
        const r = await fetch(`${action.proxy}${req.url ?? ''}`, {
          method: req.method ?? 'POST',
          body,
          headers: { 'Content-Type': req.headers['content-type'] ?? 'text/plain' },
        });
        res.writeHead(r.status, { 'Content-Type': 'text/plain' });
        res.end(await r.text());
        return;
      }
      res.writeHead(action.status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(action.body ?? '');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A TCP server that accepts connections, reads what comes, and never answers. */
export interface Staller {
  url: string;
  port: number;
  /** Connections accepted so far. */
  connections: () => number;
  /** Connections on which a request (some bytes) arrived. */
  requests: () => number;
  close: () => Promise<void>;
}

/** Starts a {@link Staller} on a free loopback port. */
export async function startStaller(): Promise<Staller> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  const server = createNetServer((s) => {
    connections++;
    sockets.add(s);
    let seen = false;
    s.on('data', () => {
      if (!seen) requests++;
      seen = true;
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => connections,
    requests: () => requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An outbox entry as read from its file (the parts the tests look at). */
export interface EntryFile {
  id: string;
  attempts: number;
  lastError?: string;
  payload: { text: string; job: string; grouping: Record<string, string>; method: string };
}

/** Pending outbox entries of `stateDir`, oldest first. */
export function pendingEntries(stateDir: string): EntryFile[] {
  const dir = join(stateDir, 'outbox');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/.test(n))
    .sort()
    .map((n) => (JSON.parse(readFileSync(join(dir, n), 'utf8')) as { entry: EntryFile }).entry);
}

/** Dead letters of `stateDir`: the `.json` files of `outbox/dead`, parsed. */
export function deadLetters(stateDir: string): {
  dead: { reason: string; status?: number; body?: string };
  entry?: EntryFile;
}[] {
  const dir = join(stateDir, 'outbox', 'dead');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')));
}

/** Every file under `dir` whose name ends in `.tmp` (recursively). */
export function tempFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    // lstat: a quarantined symbolic link (dangling, or to a folder) is a file here, not followed.
    if (lstatSync(p).isDirectory()) out.push(...tempFilesUnder(p));
    else if (name.endsWith('.tmp')) out.push(p);
  }
  return out;
}

/** The value of `name{labels}` in exposition `text` (labels matched as a substring), or undefined. */
export function sampleValue(text: string, name: string, labels = ''): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    return line.slice(line.lastIndexOf(' ') + 1);
  }
  return undefined;
}

/** Options of {@link faultConfig}. */
export interface FaultConfigOptions {
  stateDir: string;
  /** The test's temp folder: the repository path, the `password` file and the backed-up paths. */
  dir: string;
  /** The fake restic (`FAKE_RESTIC`). */
  restic: string;
  hostname: string;
  job: string;
  /** The Pushgateway's loopback port. */
  port: number;
  /** @default 'p' */
  profile?: string;
  /** @default ['t1', 't2'] */
  tiers?: readonly string[];
}

/**
 * The config the fault tests back up with: one profile whose tiers each push to their own
 * group (`instance="{profile}-{tier}"`) of a Pushgateway on loopback, with no retries.
 */
export function faultConfig(o: FaultConfigOptions): string {
  const tiers = (o.tiers ?? ['t1', 't2']).map((t, i) => `      ${t}: { schedule: "${i * 30} * * * *" }\n`);
  return `state-dir: ${o.stateDir}
hostname: ${o.hostname}
restic-binary: ${o.restic}
profiles:
  ${o.profile ?? 'p'}:
    repository: ${join(o.dir, 'repo')}
    password-file: ${join(o.dir, 'password')}
    paths: [${o.dir}]
    tiers:
${tiers.join('')}    metrics:
      job: ${o.job}
      grouping: { instance: "{profile}-{tier}" }
      pushgateway: { url: "http://127.0.0.1:${o.port}", retries: 0, timeout: 2s }
`;
}

/** How a CLI run of {@link runMaybeKilled} ended. */
export interface MaybeKilled {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Wall time of the run, ms. */
  ms: number;
}

/** Runs the built CLI with `args`, sending SIGKILL after `killAfterMs` when it is given. */
export async function runMaybeKilled(
  args: string[],
  env: NodeJS.ProcessEnv,
  killAfterMs: number | undefined,
): Promise<MaybeKilled> {
  const startedAt = performance.now();
  const child = spawnCli(args, { env });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const end = await done;
  clearTimeout(timer);
  return { ...end, stderr, ms: performance.now() - startedAt };
}
