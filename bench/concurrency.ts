/**
 * npm run bench:concurrency: what the reductions of the concurrent model save. Each scenario (a
 * variant on a configuration with two CPUs) is checked for every invariant (going on after a
 * violation, so that the search is the same whatever it finds; IOTLBs on, as `check --cpus 2`
 * has them) in full, with partial-order
 * reduction (sleep sets), and with preemption bounds 0, 1 and 2; one child process each, on the
 * compiled engine (the default; its footprints are its compiled paths').
 * Prints distinct states, transitions, transitions asleep, seconds and the verdict: the shortest
 * trace of each violated invariant. Measured, never asserted.
 *
 *   npm run bench:concurrency                  every scenario
 *   npm run bench:concurrency -- --only seed   one of them
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { check } from '../checker/index.ts';
import { selectProperties } from '../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../model/config.ts';
import { CompiledPkvmModel } from '../model/system.ts';
import { builtinVariant } from '../model/variants/index.ts';

interface Scenario {
  readonly name: string;
  readonly what: string;
  readonly variant: string;
  readonly config: Partial<PkvmConfig>;
  readonly depth?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'seed', what: 'rfc-v1 (the seed), 2 CPUs, default bounds, depth <= 8', variant: 'rfc-v1', config: { cpus: 2, iotlb: true }, depth: 8 },
  { name: 'iommu', what: 'rfc-v1, iommu host, 2 CPUs, default bounds, depth <= 6', variant: 'rfc-v1', config: { cpus: 2, iotlb: true, host: 'iommu' }, depth: 6 },
  { name: 'fixed', what: 'rfc-v1-fixed, 2 CPUs, 1 domain, no guest (exhaustive)', variant: 'rfc-v1-fixed', config: { cpus: 2, iotlb: true, domains: 1, guests: 0 } },
  { name: 'cmpxchg', what: 'vmemmap-cmpxchg, 2 CPUs, 1 domain, no guest, depth <= 6', variant: 'vmemmap-cmpxchg', config: { cpus: 2, iotlb: true, domains: 1, guests: 0 }, depth: 6 },
  { name: 'tlbi', what: 'unshare-before-tlbi, 2 CPUs, IOTLB, 1 RAM page, 1 domain, depth <= 12', variant: 'unshare-before-tlbi', config: { cpus: 2, iotlb: true, ramPages: 1, mmioPages: 0, domains: 1 }, depth: 12 },
  { name: 'inversion', what: 'share-dma-lock-inversion, 2 CPUs, default bounds, depth <= 6', variant: 'share-dma-lock-inversion', config: { cpus: 2, iotlb: true }, depth: 6 },
];

const MODES = [
  { name: 'full', por: false, preemptions: -1 },
  { name: 'sleep sets', por: true, preemptions: -1 },
  { name: 'preemptions <= 0', por: false, preemptions: 0 },
  { name: 'preemptions <= 1', por: false, preemptions: 1 },
  { name: 'preemptions <= 2', por: false, preemptions: 2 },
];

const n = (x: number) => x.toLocaleString('en-US');
const args = process.argv.slice(2);
const child = args.indexOf('--child');
if (child >= 0) {
  const sc = SCENARIOS.find((x) => x.name === args[child + 1])!;
  const mode = MODES[Number(args[child + 2])];
  const config: PkvmConfig = { ...DEFAULT_CONFIG, ...sc.config, preemptions: mode.preemptions };
  const variant = builtinVariant(sc.variant)!;
  const model = new CompiledPkvmModel(config, variant);
  const props = selectProperties(config, undefined, variant, (b: Uint8Array) => model.read(b));
  const r = check(model, props, { stopAtFirstViolation: false, maxDepth: sc.depth, por: mode.por });
  const verdict = r.status === 'violation' ? r.violations.filter((v, i, all) => all.findIndex((w) => w.property === v.property) === i).map((v) => `${v.property} ${v.path.actions.length}`) : [];
  process.stdout.write(
    JSON.stringify({ distinct: r.stats.distinctStates, transitions: r.stats.transitions, asleep: r.stats.por?.skipped ?? 0, reexpanded: r.stats.por?.reexpanded ?? 0, seconds: r.stats.seconds, exhausted: r.exhausted, verdict }),
  );
} else {
  const only = args.indexOf('--only') >= 0 ? args[args.indexOf('--only') + 1] : null;
  console.log(`# pkvm-check concurrency reductions: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}\n`);
  for (const sc of SCENARIOS.filter((x) => !only || x.name === only)) {
    console.log(`## ${sc.what}\n`);
    console.log('| search | distinct states | transitions | asleep | seconds | states/s | verdict (shortest trace of each violated invariant) |');
    console.log('|---|---:|---:|---:|---:|---:|---|');
    let full: { distinct: number; transitions: number } | null = null;
    for (let m = 0; m < MODES.length; m++) {
      const p = spawnSync(process.execPath, ['--import', 'tsx', process.argv[1], '--child', sc.name, String(m)], { encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' }, maxBuffer: 1 << 26 });
      if (p.status !== 0) {
        console.log(`| ${MODES[m].name} | failed: ${p.stderr.trim().split('\n')[0]} |`);
        continue;
      }
      const r = JSON.parse(p.stdout);
      full ??= r;
      const saved = (x: number, of: number) => (of && x !== of ? ` (${x < of ? '-' : '+'}${((100 * Math.abs(of - x)) / of).toFixed(0)}%)` : '');
      console.log(
        `| ${MODES[m].name} | ${n(r.distinct)}${saved(r.distinct, full!.distinct)} | ${n(r.transitions)}${saved(r.transitions, full!.transitions)} | ${n(r.asleep)} | ${r.seconds.toFixed(1)} | ${n(Math.round(r.distinct / Math.max(r.seconds, 1e-3)))} | ${r.verdict.join(', ') || 'holds'}${r.exhausted ? '' : ' (bounded)'} |`,
      );
    }
    console.log('');
  }
}
