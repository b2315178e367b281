/**
 * npm run bench: exhaustive checks of fixed configurations, one child process each (so that peak
 * memory is per configuration). Prints distinct states, transitions, time, states/s, transitions/s
 * and peak RSS as a Markdown table. Measured, never asserted: timings belong here, not in tests.
 *
 *   npm run bench                 all configurations
 *   npm run bench -- --only own   one of them
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { check } from '../checker/index.ts';
import { pkvmProperties } from '../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../model/config.ts';
import { PkvmModel } from '../model/system.ts';
import { RFC_V1_FIXED } from '../model/variants/index.ts';
import { countMatches, ownedNotShared, ownModel } from '../test/toys/own.ts';

interface Bench {
  readonly name: string;
  readonly what: string;
  run(): { distinct: number; transitions: number; depth: number; seconds: number; exhausted: boolean };
}

function pkvm(name: string, what: string, over: Partial<PkvmConfig>): Bench {
  return {
    name,
    what,
    run() {
      const config = { ...DEFAULT_CONFIG, ...over };
      const r = check(new PkvmModel(config, RFC_V1_FIXED), pkvmProperties(config), { stopAtFirstViolation: false });
      return { distinct: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, seconds: r.stats.seconds, exhausted: r.exhausted };
    },
  };
}

const BENCHES: Bench[] = [
  pkvm('driver', 'rfc-v1-fixed, host driver, default bounds (2 RAM + 1 MMIO, 2 domains x 2 IOVAs, 1 guest)', {}),
  pkvm('iommu', 'rfc-v1-fixed, host iommu (any IOMMU hypercall arguments), default bounds', { host: 'iommu' }),
  pkvm('ram3', 'rfc-v1-fixed, host driver, 3 RAM pages', { ramPages: 3 }),
  {
    name: 'own',
    what: 'checker only: the "Own" cross-check model, P=7 pages, G=3 guests (TLC/SPIN: 823,543 states)',
    run() {
      const r = check(ownModel({ pages: 7, guests: 3 }), [ownedNotShared, countMatches], {});
      return { distinct: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, seconds: r.stats.seconds, exhausted: r.exhausted };
    },
  },
];

const n = (x: number) => x.toLocaleString('en-US');
const args = process.argv.slice(2);
const child = args.indexOf('--child');
if (child >= 0) {
  const b = BENCHES.find((x) => x.name === args[child + 1])!;
  const r = b.run();
  process.stdout.write(JSON.stringify({ ...r, rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const only = args.indexOf('--only') >= 0 ? args[args.indexOf('--only') + 1] : null;
  console.log(`# pkvm-check benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}\n`);
  console.log('| configuration | distinct states | transitions | depth | seconds | states/s | transitions/s | peak RSS |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const b of BENCHES.filter((x) => !only || x.name === only)) {
    const p = spawnSync(process.execPath, ['--import', 'tsx', process.argv[1], '--child', b.name], { encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    if (p.status !== 0) {
      console.log(`| ${b.what} | failed: ${p.stderr.trim().split('\n')[0]} |`);
      continue;
    }
    const r = JSON.parse(p.stdout);
    console.log(
      `| ${b.what} | ${n(r.distinct)}${r.exhausted ? '' : ' (not exhausted)'} | ${n(r.transitions)} | ${r.depth} | ${r.seconds.toFixed(1)} | ${n(Math.round(r.distinct / r.seconds))} | ${n(Math.round(r.transitions / r.seconds))} | ${(r.maxRss / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
}
