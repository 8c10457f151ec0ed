/**
 * The daemon's Containerfile and Kubernetes manifests, without a cluster or a registry:
 * every manifest under deploy/kubernetes/ passes the Kubernetes and prometheus-operator
 * schemas (npm's kubernetes-models); the daemon's manifests and the Containerfile agree
 * (user, fsGroup, paths, port, Secrets, selectors); the packages the Containerfile installs
 * exist in Debian 12; and the pod is replayed on this machine: its volumes laid out as the
 * kubelet makes them with fsGroup (volume roots root-owned, group 10001, mode 2775; Secret
 * files 0440), the image's environment, uid and gid and its resticprom (the single executable),
 * then `config validate`, `init`, a real `backup` with Debian's restic, and the daemon's /metrics read with the ServiceMonitor's
 * basic auth.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ensureSeaBuilt, ROOT, SEA } from '../helpers/cli.js';
import { waitUntil } from '../helpers/e2e.js';
import { makeSourceTree } from '../helpers/restic.js';
import { freePort, makeTempDir } from '../helpers/services.js';

type Obj = Record<string, unknown>;
const K8S = join(ROOT, 'deploy', 'kubernetes');
const DAEMON = join(K8S, 'daemon');
const CONTAINERFILE = join(ROOT, 'deploy', 'container', 'Containerfile');

function get(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[k];
  }
  return cur;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}

function manifestsOf(files: string[]): { file: string; doc: Obj }[] {
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).flatMap((d) => {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      const doc = d.toJS() as Obj | null;
      return doc ? [{ file: relative(ROOT, file), doc }] : [];
    }),
  );
}

/** The kubernetes-models class of an object's apiVersion and kind. */
async function modelOf(apiVersion: string, kind: string): Promise<new (o: Obj) => { validate(): void }> {
  const module = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  const model = ((await import(module)) as Record<string, unknown>)[kind];
  assert.equal(typeof model, 'function', `no schema for ${apiVersion} ${kind} in ${module}`);
  return model as new (
    o: Obj,
  ) => { validate(): void };
}

/** The Containerfile's instructions: keyword and arguments, continuation lines joined. */
function containerfileInstructions(): { op: string; args: string }[] {
  const text = readFileSync(CONTAINERFILE, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      assert.ok(m, `Containerfile: not an instruction: ${l}`);
      return { op: m[1] as string, args: (m[2] as string).replace(/\s+/g, ' ') };
    });
}

const all = manifestsOf(yamlFiles(K8S));
const daemon = manifestsOf(yamlFiles(DAEMON));
const ofKind = (kind: string, name?: string) => {
  const found = daemon.filter(
    (m) => m.doc.kind === kind && (name === undefined || get(m.doc, 'metadata.name') === name),
  );
  assert.ok(found.length > 0, `no ${kind}${name ? ` ${name}` : ''} in deploy/kubernetes/daemon`);
  return found.map((m) => m.doc);
};
const deployment = ofKind('Deployment')[0] as Obj;
const pod = get(deployment, 'spec.template.spec') as Obj;
const container = (pod.containers as Obj[])[0] as Obj;
const mounts = container.volumeMounts as Obj[];
const volumes = pod.volumes as Obj[];
const configMap = ofKind('ConfigMap', 'resticprom-config')[0] as Obj;
const configData = configMap.data as Record<string, string>;
const configText = configData['resticprom.yaml'] as string;
const instructions = containerfileInstructions();
const envOfImage = Object.fromEntries(
  instructions
    .filter((i) => i.op === 'ENV')
    .flatMap((i) => [...i.args.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string])),
);
const [imageUid, imageGid] = (instructions.find((i) => i.op === 'USER')?.args ?? '').split(':').map(Number);

/** Where a volume is mounted in the container. */
function mountOf(volume: string): Obj {
  const m = mounts.find((x) => x.name === volume);
  assert.ok(m, `volume ${volume} is not mounted`);
  return m;
}

describe('Kubernetes manifests pass the schemas', () => {
  it('every object under deploy/kubernetes/ is valid for kubernetes-models', async () => {
    const kinds: string[] = [];
    for (const { file, doc } of all) {
      if (doc.kind === 'Kustomization') continue;
      const Model = await modelOf(String(doc.apiVersion), String(doc.kind));
      assert.doesNotThrow(() => new Model(doc).validate(), `${file}: ${doc.kind}`);
      kinds.push(`${doc.kind}/${get(doc, 'metadata.name')}`);
    }
    // The daemon's objects are among them, and an invalid one is caught.
    for (const k of ['Deployment/resticprom', 'Service/resticprom', 'ServiceMonitor/resticprom']) {
      assert.ok(kinds.includes(k), k);
    }
    const Deployment = await modelOf('apps/v1', 'Deployment');
    const broken = structuredClone(deployment);
    (get(broken, 'spec.template.spec.securityContext') as Obj).fsGroup = '10001';
    assert.throws(() => new Deployment(broken).validate(), /fsGroup must be integer/);
  });

  it("each kustomization lists exactly its folder's files", () => {
    for (const dir of [K8S, DAEMON]) {
      const k = manifestsOf([join(dir, 'kustomization.yaml')])[0]?.doc as Obj;
      const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      assert.deepEqual([...(k.resources as string[])].sort(), files.sort(), dir);
    }
  });
});

describe('the daemon: Deployment, Service, ServiceMonitor, Containerfile agree', () => {
  it('one replica, Recreate; the pod runs as the image user with fsGroup; a grace period above the daemon', () => {
    assert.equal(get(deployment, 'spec.replicas'), 1);
    assert.equal(get(deployment, 'spec.strategy.type'), 'Recreate');
    const selector = get(deployment, 'spec.selector.matchLabels') as Record<string, string>;
    const labels = get(deployment, 'spec.template.metadata.labels') as Record<string, string>;
    for (const [k, v] of Object.entries(selector)) assert.equal(labels[k], v);
    assert.deepEqual(
      {
        uid: get(pod, 'securityContext.runAsUser'),
        gid: get(pod, 'securityContext.runAsGroup'),
        fsGroup: get(pod, 'securityContext.fsGroup'),
        nonRoot: get(pod, 'securityContext.runAsNonRoot'),
      },
      { uid: imageUid, gid: imageGid, fsGroup: imageGid, nonRoot: true },
    );
    assert.ok(imageUid !== undefined && imageUid > 0);
    // daemon.grace-period defaults to 5m.
    assert.ok((pod.terminationGracePeriodSeconds as number) > 300);
    assert.equal(get(container, 'securityContext.readOnlyRootFilesystem'), true);
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    assert.match(String(container.image), new RegExp(`/resticprom:${version.replaceAll('.', '\\.')}$`));
  });

  it('config, secrets and state are where the image and the config look for them', () => {
    const volume = (name: string) => volumes.find((v) => v.name === name) as Obj;
    assert.equal(mountOf('config').mountPath, envOfImage.RESTICPROM_CONFIG);
    assert.equal(get(volume('config'), 'configMap.name'), get(configMap, 'metadata.name'));
    const state = mountOf('state').mountPath as string;
    assert.equal(state, envOfImage.RESTICPROM_STATE_DIR);
    assert.match(configText, new RegExp(`^state-dir: ${state}$`, 'm'));
    assert.ok(instructions.some((i) => i.op === 'VOLUME' && i.args.includes(`"${state}"`)));
    const pvcs = ofKind('PersistentVolumeClaim').map((p) => get(p, 'metadata.name'));
    for (const v of volumes.filter((x) => x.persistentVolumeClaim)) {
      assert.ok(pvcs.includes(get(v, 'persistentVolumeClaim.claimName')), String(v.name));
    }
    assert.equal(mountOf('restic-cache').mountPath, envOfImage.RESTIC_CACHE_DIR);
    // Every password-file of the config is a key of the mounted Secret.
    const secretDir = mountOf('secrets').mountPath as string;
    const secret = ofKind('Secret', get(volume('secrets'), 'secret.secretName') as string)[0] as Obj;
    const files = [...configText.matchAll(/password-file: (\S+)/g)].map((m) => m[1] as string);
    assert.equal(files.length, 2);
    for (const f of files) {
      assert.equal(dirname(f), secretDir);
      assert.ok(Object.hasOwn(secret.stringData as Obj, f.slice(secretDir.length + 1)), f);
    }
  });

  it('the port: the image listens where the container, Service and ServiceMonitor point', () => {
    const cmd = JSON.parse(instructions.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
    assert.deepEqual(cmd, ['daemon', '--listen', ':9987']);
    assert.deepEqual(JSON.parse(instructions.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]'), [
      '/usr/local/bin/resticprom',
    ]);
    assert.equal(instructions.find((i) => i.op === 'EXPOSE')?.args, '9987');
    assert.deepEqual(container.ports, [{ name: 'http', containerPort: 9987 }]);
    const svc = ofKind('Service')[0] as Obj;
    assert.deepEqual(get(svc, 'spec.selector'), get(deployment, 'spec.selector.matchLabels'));
    assert.deepEqual(get(svc, 'spec.ports'), [{ name: 'http', port: 9987, targetPort: 'http' }]);
    const sm = ofKind('ServiceMonitor')[0] as Obj;
    assert.deepEqual(get(sm, 'spec.selector.matchLabels'), get(svc, 'spec.selector'));
    const endpoint = (get(sm, 'spec.endpoints') as Obj[])[0] as Obj;
    assert.deepEqual(
      { port: endpoint.port, path: endpoint.path, honorLabels: endpoint.honorLabels },
      { port: 'http', path: '/metrics', honorLabels: true },
    );
    const auth = ofKind('Secret', get(endpoint, 'basicAuth.password.name') as string)[0] as Obj;
    assert.equal(get(auth, `stringData.${get(endpoint, 'basicAuth.username.key')}`), 'prometheus');
    const web = ofKind('Secret', 'resticprom-secrets')[0] as Obj;
    assert.equal(
      get(auth, `stringData.${get(endpoint, 'basicAuth.password.key')}`),
      get(web, 'stringData.web-password'),
    );
    assert.match(configText, /^ {4}username: prometheus$/m);
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      assert.deepEqual(get(container, `${probe}.httpGet`), { path: '/healthz', port: 'http' });
    }
  });

  it('the Containerfile: Debian 12, the single executable, a non-root user; its packages exist in Debian 12', (t) => {
    assert.equal(instructions[0]?.op, 'FROM');
    assert.equal(instructions[0]?.args, 'docker.io/library/debian:12-slim');
    const seaConfig = JSON.parse(readFileSync(join(ROOT, 'sea-config.json'), 'utf8')) as { main: string };
    const copy = instructions.find((i) => i.op === 'COPY');
    assert.equal(copy?.args, `${join(dirname(seaConfig.main), 'resticprom')} /usr/local/bin/resticprom`);
    const run = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const install = /apt-get install -y --no-install-recommends ([a-z0-9 .+-]+?) &&/.exec(
      run.join(' && '),
    )?.[1];
    assert.deepEqual(install?.split(' '), ['restic', 'ca-certificates', 'tzdata']);
    assert.ok(
      run.some((r) => r.includes(`--uid ${imageUid} `) && r.includes(`--gid ${imageGid} resticprom`)),
    );
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    if (!/^VERSION_ID="12"$/m.test(osRelease) || !/^ID=debian$/m.test(osRelease)) {
      t.skip("this machine's apt lists are not Debian 12's");
      return;
    }
    const names = install ?? '';
    const show = spawnSync('apt-cache', ['show', '--no-all-versions', ...names.split(' ')], {
      encoding: 'utf8',
    });
    assert.equal(show.status, 0, `apt-cache show ${names}: ${show.stderr}`);
    assert.deepEqual(
      [...show.stdout.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]),
      names.split(' '),
    );
  });
});

const asRoot =
  process.getuid?.() === 0 ? false : 'replaying the pod needs root (to take its uid and fsGroup)';

describe('the pod replayed: volumes as the kubelet lays them out with fsGroup', { skip: asRoot }, () => {
  const tmp = makeTempDir('resticprom-pod-');
  const root = join(tmp.dir, 'pod');
  let daemonProcess: ChildProcess | undefined;
  after(() => {
    daemonProcess?.kill('SIGKILL');
    tmp.cleanup();
  });
  const fsGroup = get(pod, 'securityContext.fsGroup') as number;
  const uid = get(pod, 'securityContext.runAsUser') as number;
  /** A path of the pod's file system on this machine. */
  const inPod = (p: string) => join(root, p);
  const mountPaths = mounts.map((m) => m.mountPath as string).sort((a, b) => b.length - a.length);
  /** Rewrites the pod's absolute paths in a text to where they are on this machine (one pass). */
  const mountPattern = new RegExp(`(^|[\\s\\[=:])(${mountPaths.join('|')})(?=[/\\s\\],]|$)`, 'gm');
  const mapPaths = (text: string) =>
    text.replace(mountPattern, (_, before: string, p: string) => `${before}${inPod(p)}`);
  const env = {
    ...Object.fromEntries(Object.entries(envOfImage).map(([k, v]) => [k, mapPaths(v)])),
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
  };
  /** The image's resticprom: the single executable, where the Containerfile copies it. */
  const copy = instructions.find((i) => i.op === 'COPY')?.args.split(' ') ?? [];
  const bin = inPod(copy[1] ?? '');
  /** setpriv's arguments that take the pod's user: its uid and gid, fsGroup as its only extra group. */
  const podUser = () => [`--reuid=${uid}`, `--regid=${imageGid}`, `--groups=${fsGroup}`, '--', bin];
  /** Runs the image's resticprom as the pod's user. */
  const asPod = (args: string[]) =>
    spawnSync('setpriv', [...podUser(), ...args], {
      cwd: inPod('/tmp'),
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('config validate, init and a real backup as uid 10001 on fsGroup volumes; /metrics with the scrape credentials', async () => {
    await ensureSeaBuilt();
    mkdirSync(dirname(bin), { recursive: true });
    assert.equal(join(ROOT, copy[0] ?? ''), SEA);
    copyFileSync(SEA, bin);
    chmodSync(bin, 0o755);
    chmodSync(tmp.dir, 0o755);
    for (const m of mounts) {
      const v = volumes.find((x) => x.name === m.name) as Obj;
      const path = inPod(m.mountPath as string);
      const readOnlyFile = (content: string, mode: number) => {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, content);
        chownSync(path, 0, fsGroup);
        chmodSync(path, mode);
      };
      if (v.configMap && m.subPath) {
        readOnlyFile(mapPaths(configData[m.subPath as string] as string), 0o644);
      } else if (v.secret) {
        const secret = ofKind('Secret', get(v, 'secret.secretName') as string)[0] as Obj;
        mkdirSync(path, { recursive: true });
        for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) {
          writeFileSync(join(path, key), value);
          chownSync(join(path, key), 0, fsGroup);
          // The kubelet adds group read to defaultMode (0400) for the fsGroup.
          chmodSync(join(path, key), (get(v, 'secret.defaultMode') as number) | 0o440);
        }
      } else if (v.nfs) {
        makeSourceTree(path, { files: 12, bytes: 700 });
        for (const f of readdirSync(path, { recursive: true })) chmodSync(join(path, String(f)), 0o755);
      } else {
        // A volume root: root-owned, the fsGroup's, group-writable, setgid (emptyDir: 2777).
        mkdirSync(path, { recursive: true });
        chownSync(path, 0, fsGroup);
        chmodSync(path, v.emptyDir ? 0o2777 : 0o2775);
      }
    }
    const validate = asPod(['config', 'validate']);
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /^ok: \/\S+\/pod\/etc\/resticprom\/resticprom\.yaml: 1 profile, 4 tiers;/);
    assert.equal(validate.stderr, '');
    const init = asPod(['init', '--profile', 'nfs']);
    assert.equal(init.status, 0, init.stderr);
    const backup = asPod(['backup', '--tier', 'daily', '--quiet']);
    assert.equal(backup.status, 0, backup.stderr);
    const history = readFileSync(
      join(inPod(envOfImage.RESTICPROM_STATE_DIR as string), 'history.jsonl'),
      'utf8',
    );
    assert.match(history, /"outcome":"success"/);

    const port = await freePort();
    daemonProcess = spawn('setpriv', [...podUser(), 'daemon', '--listen', `127.0.0.1:${port}`], {
      cwd: inPod('/tmp'),
      env,
      stdio: 'ignore',
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(
      'the daemon to answer /healthz',
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200,
      30_000,
    );
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const sm = ofKind('ServiceMonitor')[0] as Obj;
    const endpoint = (get(sm, 'spec.endpoints') as Obj[])[0] as Obj;
    const auth = ofKind('Secret', get(endpoint, 'basicAuth.password.name') as string)[0] as Obj;
    const credentials = `${get(auth, 'stringData.username')}:${get(auth, 'stringData.password')}`;
    const res = await fetch(`${url}${endpoint.path}`, {
      headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    const body = await res.text();
    const labels = '{profile="nfs",tier="daily",host="nfs-server",job="nfs_backup",instance="daily"}';
    assert.ok(body.includes(`\nrestic_backup_status${labels} 2\n`), body);
    assert.ok(body.includes(`\nrestic_backup_processed_files${labels} 12\n`), body);
  });
});
