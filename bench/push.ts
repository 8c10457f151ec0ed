/**
 * Push latency: resticprom's `addToGateway` (POST, with exposition validation) versus
 * prom-client's `Pushgateway.pushAdd`, from the same prom-client Registry to the same
 * live Pushgateway, for ~30 series and for 10,000 series. Also `deliver()` (the CLI's
 * path: fsynced outbox entry, lock, send, remove). Prints medians; asserts nothing.
 *
 * Run: npx tsx bench/push.ts [--rounds N]
 */
import { Gauge, Pushgateway, Registry } from 'prom-client';
import { deliver } from '../src/sinks/deliver.js';
import { addToGateway } from '../src/sinks/pushgateway.js';
import { makeTempDir, startPushgateway } from '../test/helpers/services.js';
import { describeLoad, describeMachine } from './lib.js';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 0;

/** A registry with `families` gauges of `perFamily` series each. */
function makeRegistry(families: number, perFamily: number): Registry {
  const registry = new Registry();
  for (let f = 0; f < families; f++) {
    const g = new Gauge({
      name: `bench_family_${f}_bytes`,
      help: `Benchmark family ${f}`,
      labelNames: ['repo', 'shard'],
      registers: [registry],
    });
    for (let s = 0; s < perFamily; s++)
      g.set({ repo: `repo-${f % 3}`, shard: String(s) }, Math.random() * 1e9);
  }
  return registry;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const gw = await startPushgateway();
const state = makeTempDir('resticprom-bench-');
try {
  const cases = [
    { name: '~30 series', registry: makeRegistry(10, 3), rounds: ROUNDS || 60 },
    { name: '10,000 series', registry: makeRegistry(100, 100), rounds: ROUNDS || 15 },
  ];
  const rows: string[][] = [];
  for (const c of cases) {
    const grouping = { instance: 'bench' };
    const ours = () => addToGateway({ url: gw.url, job: 'bench_ours', grouping, registry: c.registry });
    const theirs = () =>
      new Pushgateway(gw.url, {}, c.registry).pushAdd({ jobName: 'bench_promclient', groupings: grouping });
    const viaDeliver = async () =>
      deliver(
        { text: await c.registry.metrics(), job: 'bench_deliver', grouping, measuredAt: Date.now() },
        [{ kind: 'pushgateway', urls: [gw.url] }],
        { stateDir: state.dir },
      );
    for (let i = 0; i < 3; i++) {
      await ours();
      await theirs();
      await viaDeliver();
    }
    const a: number[] = [];
    const b: number[] = [];
    const d: number[] = [];
    // Interleaved so drift (GC, the gateway's own work) hits all three alike.
    for (let i = 0; i < c.rounds; i++) {
      a.push(await time(ours));
      b.push(await time(theirs));
      d.push(await time(viaDeliver));
    }
    const ma = median(a);
    const mb = median(b);
    const md = median(d);
    rows.push([
      c.name,
      String(c.rounds),
      ma.toFixed(2),
      mb.toFixed(2),
      (ma / mb).toFixed(2),
      md.toFixed(2),
      (md / mb).toFixed(2),
    ]);
  }
  const head = [
    'payload',
    'rounds',
    'addToGateway ms',
    'prom-client pushAdd ms',
    'ratio',
    'deliver() ms',
    'ratio',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((x, i) => x.padStart(widths[i] as number)).join('  ');
  console.log(`Median push latency to a live Pushgateway (${gw.url}), same prom-client Registry`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log(
    '\naddToGateway validates the exposition before sending; deliver() adds an fsynced outbox entry and the outbox lock.',
  );
  console.log(`Machine: ${describeMachine()}; ${describeLoad()}`);
  console.log('Rerun: npx tsx bench/push.ts [--rounds N]');
} finally {
  await gw.stop();
  state.cleanup();
}
