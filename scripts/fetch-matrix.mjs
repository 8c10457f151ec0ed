// Fetches the newer restic, Pushgateway, Prometheus, Alertmanager, node_exporter,
// VictoriaMetrics and restic's rest-server that the test suite runs beside Debian 12's own
// packages (Debian 12 has no rest-server): Debian's packages from the `trixie` and `sid`
// suites, downloaded with `apt-get download` under a private apt configuration (own sources
// list on the machine's own Debian mirror, own lists and cache folders, signatures checked with
// the installed archive keyring) and extracted with `dpkg-deb -x` into
// `.cache/matrix/<package>-<version>/`. The system's apt configuration and its installed
// packages are never touched.
//
// Usage: node scripts/fetch-matrix.mjs [--refresh] [--quiet]
//   --refresh   read the suites' package lists again even when they are less than a day old
// Environment: RESTICPROM_MATRIX_DIR (default .cache/matrix), CI=true (a missing binary fails).
// Writes <dir>/manifest.json, which test/helpers/matrix.ts reads. Exit codes: 0 (also when a
// suite cannot be reached outside CI: the missing binaries are named), 1 when CI=true and a
// binary is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = resolve(process.env.RESTICPROM_MATRIX_DIR ?? join(ROOT, '.cache', 'matrix'));
const REFRESH = process.argv.includes('--refresh');
const QUIET = process.argv.includes('--quiet');
const IS_CI = process.env.CI === 'true';
const LIST_MAX_AGE_MS = 24 * 3600 * 1000;

/** What the suite needs from each suite: package -> the binaries it ships (in usr/bin). */
const WANTED = [
  { suite: 'trixie', pkg: 'restic', bins: ['restic'] },
  { suite: 'trixie', pkg: 'prometheus-pushgateway', bins: ['prometheus-pushgateway'] },
  { suite: 'trixie', pkg: 'prometheus', bins: ['prometheus'] },
  { suite: 'trixie', pkg: 'prometheus-alertmanager', bins: ['prometheus-alertmanager', 'amtool'] },
  { suite: 'sid', pkg: 'restic', bins: ['restic'] },
  { suite: 'sid', pkg: 'prometheus-pushgateway', bins: ['prometheus-pushgateway'] },
  { suite: 'sid', pkg: 'prometheus', bins: ['prometheus'] },
  { suite: 'sid', pkg: 'prometheus-node-exporter', bins: ['prometheus-node-exporter'] },
  { suite: 'sid', pkg: 'victoria-metrics', bins: ['victoria-metrics'] },
  { suite: 'sid', pkg: 'restic-rest-server', bins: ['restic-rest-server'] },
];

function log(msg) {
  if (!QUIET) console.log(`matrix: ${msg}`);
}

/** The machine's Debian mirror and keyring, read from its apt sources (one-line and deb822). */
function findDebianMirror() {
  const files = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', f));
    }
  }
  const entries = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = {};
        for (const line of stanza.split('\n')) {
          if (line.startsWith('#')) continue;
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m) fields[m[1].toLowerCase()] = m[2].trim();
        }
        if (fields.enabled === 'no' || !(fields.types ?? '').split(/\s+/).includes('deb')) continue;
        for (const uri of (fields.uris ?? '').split(/\s+/).filter(Boolean)) {
          entries.push({
            uri,
            suites: (fields.suites ?? '').split(/\s+/),
            components: (fields.components ?? '').split(/\s+/),
            signedBy: fields['signed-by'],
          });
        }
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
        entries.push({ uri: m[2], suites: [m[3]], components: m[4].split(/\s+/), signedBy });
      }
    }
  }
  // The archive itself, not its security or update pockets: a suite without a dash.
  const main = entries.find(
    (e) =>
      e.components.includes('main') && e.suites.some((s) => s !== '' && !s.includes('-') && !s.includes('/')),
  );
  if (!main) return undefined;
  const keyring =
    main.signedBy && existsSync(main.signedBy)
      ? main.signedBy
      : '/usr/share/keyrings/debian-archive-keyring.gpg';
  return { uri: main.uri.replace(/\/+$/, ''), keyring };
}

function aptOptions(aptDir) {
  return [
    '-o',
    `Dir::Etc::SourceList=${join(aptDir, 'matrix.sources')}`,
    '-o',
    `Dir::Etc::SourceParts=${join(aptDir, 'sources.list.d')}`,
    '-o',
    `Dir::Etc::Preferences=${join(aptDir, 'preferences')}`,
    '-o',
    `Dir::Etc::PreferencesParts=${join(aptDir, 'preferences.d')}`,
    '-o',
    `Dir::State::Lists=${join(aptDir, 'lists')}`,
    '-o',
    `Dir::State::status=${join(aptDir, 'status')}`,
    '-o',
    `Dir::Cache=${join(aptDir, 'cache')}`,
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'APT::Get::List-Cleanup=0',
    '-o',
    'Acquire::Retries=2',
  ];
}

/** `apt-get update` with the private configuration; returns an error text or undefined. */
function updateLists(aptDir, mirror) {
  for (const d of ['lists/partial', 'cache/archives/partial', 'sources.list.d', 'preferences.d']) {
    mkdirSync(join(aptDir, d), { recursive: true });
  }
  writeFileSync(join(aptDir, 'status'), '');
  writeFileSync(join(aptDir, 'preferences'), '');
  const suites = [...new Set(WANTED.map((w) => w.suite))].join(' ');
  writeFileSync(
    join(aptDir, 'matrix.sources'),
    `Types: deb\nURIs: ${mirror.uri}\nSuites: ${suites}\nComponents: main\nSigned-By: ${mirror.keyring}\n`,
  );
  const stamp = join(aptDir, 'updated');
  const age = Date.now() - (statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  if (!REFRESH && age < LIST_MAX_AGE_MS) return 'fresh';
  log(`reading the package lists of ${suites} from ${mirror.uri}`);
  const r = spawnSync('apt-get', [...aptOptions(aptDir), '-q', 'update'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  // apt-get update exits 0 even when a suite failed; its W:/E: lines say so.
  const problems = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
    .split('\n')
    .filter((l) => /^(E|W|Err):/.test(l.trim()))
    // A machine without Debian's `_apt` user (a minimal container) warns that apt cannot
    // drop privileges; the lists are still read.
    .filter((l) => !/No sandbox user '_apt'/.test(l))
    .join('; ');
  if (r.status !== 0 || problems) return problems || `apt-get update exited ${r.status}`;
  writeFileSync(stamp, new Date().toISOString());
  return 'updated';
}

/** The version `suite` offers for `pkg` now, from the private lists. */
function candidateVersion(aptDir, pkg, suite) {
  const r = spawnSync('apt-cache', [...aptOptions(aptDir), 'madison', pkg], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols[0] === pkg && new RegExp(`\\s${suite}/main\\s`).test(` ${cols[2] ?? ''} `)) return cols[1];
  }
  return undefined;
}

/** Upstream part of a Debian version: `1:3.5.3+ds1-6` -> `3.5.3`. */
function upstreamVersion(debVersion) {
  return debVersion
    .replace(/^\d+:/, '')
    .replace(/-[^-]*$/, '')
    .replace(/[+~].*$/, '');
}

function fetchOne(aptDir, want, debVersion) {
  const version = upstreamVersion(debVersion);
  const dest = join(DIR, `${want.pkg}-${version}`);
  const marker = join(dest, '.complete');
  if (!existsSync(marker)) {
    const work = mkdtempSync(join(DIR, '.fetch-'));
    try {
      execFileSync('apt-get', [...aptOptions(aptDir), '-q', 'download', `${want.pkg}=${debVersion}`], {
        cwd: work,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 600_000,
      });
      const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download wrote no .deb');
      const tree = join(work, 'tree');
      execFileSync('dpkg-deb', ['-x', join(work, deb), tree], { stdio: ['ignore', 'ignore', 'pipe'] });
      writeFileSync(join(tree, '.complete'), JSON.stringify({ debVersion, suite: want.suite }));
      rmSync(dest, { recursive: true, force: true });
      renameSync(tree, dest);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const bins = {};
  for (const b of want.bins) {
    const p = join(dest, 'usr', 'bin', b);
    if (!existsSync(p)) throw new Error(`${want.pkg} ${debVersion} has no usr/bin/${b}`);
    bins[b] = p;
  }
  return { name: want.pkg, suite: want.suite, debVersion, version, dir: dest, bins };
}

/** The entries that an earlier run extracted, for when the mirror cannot be reached now. */
function cachedEntries() {
  try {
    return JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')).entries ?? [];
  } catch {
    return [];
  }
}

/** Prints and keeps the manifest when it names every wanted binary, all extracted. */
function reuseManifest(old) {
  const complete = WANTED.every((w) =>
    old.some((e) => e.name === w.pkg && e.suite === w.suite && existsSync(join(e.dir, '.complete'))),
  );
  if (complete) log(`resolved (lists less than a day old; --refresh reads them again): ${describe(old)}`);
  return complete;
}

function describe(entries) {
  return entries.map((e) => `${e.name} ${e.version} (${e.suite})`).join(', ') || 'nothing';
}

function main() {
  mkdirSync(DIR, { recursive: true });
  const aptDir = join(DIR, 'apt');
  const mirror = findDebianMirror();
  let unreachable;
  let lists = 'unreachable';
  if (!mirror) unreachable = 'no Debian mirror found in /etc/apt/sources.list{,.d}';
  else {
    const r = updateLists(aptDir, mirror);
    if (r === 'fresh' || r === 'updated') lists = r;
    else unreachable = r;
  }
  if (unreachable) log(`cannot read the suites' package lists: ${unreachable}`);

  const old = cachedEntries();
  // Lists less than a day old and everything extracted: nothing to resolve again.
  if (lists === 'fresh' && reuseManifest(old)) return;
  const entries = [];
  const missing = [];
  for (const want of WANTED) {
    const label = `${want.pkg} (${want.suite})`;
    try {
      const debVersion = mirror ? candidateVersion(aptDir, want.pkg, want.suite) : undefined;
      if (!debVersion) {
        // Offline: keep what an earlier run extracted for this suite.
        const prev = old.find(
          (e) => e.name === want.pkg && e.suite === want.suite && existsSync(join(e.dir, '.complete')),
        );
        if (prev) {
          entries.push(prev);
          continue;
        }
        throw new Error(`${want.suite} offers no ${want.pkg}`);
      }
      entries.push(fetchOne(aptDir, want, debVersion));
    } catch (e) {
      const msg =
        String(e?.stderr ?? '')
          .trim()
          .split('\n')
          .pop() || (e instanceof Error ? e.message : String(e));
      missing.push({ name: want.pkg, suite: want.suite, why: msg });
      log(`missing ${label}: ${msg}`);
    }
  }
  writeFileSync(
    join(DIR, 'manifest.json'),
    `${JSON.stringify({ fetchedAt: new Date().toISOString(), entries, missing }, null, 2)}\n`,
  );
  log(`resolved: ${describe(entries)}`);
  if (missing.length > 0) {
    const names = missing.map((m) => `${m.name} (${m.suite})`).join(', ');
    if (IS_CI) {
      console.error(`matrix: CI=true and binaries are missing: ${names}`);
      process.exit(1);
    }
    log(`the tests that need ${names} will be skipped`);
  }
}

main();
