/**
 * npm run bench: exhaustive checks of fixed configurations, one child process each (so that peak
 * memory is per configuration). Prints distinct states, transitions, time, states/s,
 * transitions/s, bytes per state in the visited set and peak RSS as a Markdown table. Measured,
 * never asserted: timings belong here, not in tests.
 *
 *   npm run bench                  the main configurations
 *   npm run bench -- --growth      how states, time and memory grow with pages, domains and CPUs
 *   npm run bench -- --scale       memory at scale: 134 million states (checker only), 18 million (pkvm)
 *   npm run bench -- --only NAME   one configuration
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { check } from '../checker/index.ts';
import { selectProperties } from '../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../model/config.ts';
import { CompiledPkvmModel, PackedPkvmModel, PkvmModel } from '../model/system.ts';
import { RFC_V1_FIXED } from '../model/variants/index.ts';
import { binaryTreeModel } from '../test/toys/binaryTree.ts';
import { countMatches, ownedNotShared, ownModel } from '../test/toys/own.ts';

interface Result {
  distinct: number;
  transitions: number;
  depth: number;
  seconds: number;
  exhausted: boolean;
  visitedBytes: number;
}

interface Bench {
  readonly name: string;
  readonly what: string;
  readonly group?: 'growth' | 'scale';
  run(): Result;
}

function pkvm(name: string, what: string, over: Partial<PkvmConfig>, opts: { engine?: 'compiled' | 'packed' | 'readable'; group?: 'growth' | 'scale' } = {}): Bench {
  return {
    name,
    what,
    group: opts.group,
    run() {
      const config = { ...DEFAULT_CONFIG, ...over };
      const m = opts.engine === 'readable' ? new PkvmModel(config, RFC_V1_FIXED) : opts.engine === 'packed' ? new PackedPkvmModel(config, RFC_V1_FIXED) : new CompiledPkvmModel(config, RFC_V1_FIXED);
      const read = (s: unknown) => (m as { read(x: unknown): ReturnType<PkvmModel['read']> }).read(s);
      const r = check(m as never, selectProperties(config, undefined, RFC_V1_FIXED, read) as never, { stopAtFirstViolation: false });
      return { distinct: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, seconds: r.stats.seconds, exhausted: r.exhausted, visitedBytes: r.stats.visitedBytes };
    },
  };
}

const BENCHES: Bench[] = [
  pkvm('driver', 'rfc-v1-fixed, host driver, default bounds (2 RAM + 1 MMIO, 2 domains x 2 IOVAs, 1 guest)', {}),
  pkvm('driver-packed', 'the same on the packed engine (kernel code at every step)', {}, { engine: 'packed' }),
  pkvm('driver-readable', 'the same on the readable engine (frozen objects, immer)', {}, { engine: 'readable' }),
  pkvm('iommu', 'rfc-v1-fixed, host iommu (any IOMMU hypercall arguments), default bounds', { host: 'iommu' }),
  pkvm('ram3', 'rfc-v1-fixed, host driver, 3 RAM pages', { ramPages: 3 }),
  pkvm('large', 'rfc-v1-fixed, host driver, 4 RAM pages, 2 IPA pages (the large SPIN comparison)', { ramPages: 4, guestIpas: 2 }),
  pkvm('large-packed', 'the same on the packed engine', { ramPages: 4, guestIpas: 2 }, { engine: 'packed' }),
  {
    name: 'own',
    what: 'checker only: the "Own" cross-check model, P=7 pages, G=3 guests (TLC/SPIN: 823,543 states)',
    run() {
      const r = check(ownModel({ pages: 7, guests: 3 }), [ownedNotShared, countMatches], {});
      return { distinct: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, seconds: r.stats.seconds, exhausted: r.exhausted, visitedBytes: r.stats.visitedBytes };
    },
  },
  {
    name: 'tree26',
    what: 'checker only: a complete binary tree of depth 26 (134,217,727 states, half of them in the last level)',
    group: 'scale',
    run() {
      const r = check(binaryTreeModel(26), [], {});
      return { distinct: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, seconds: r.stats.seconds, exhausted: r.exhausted, visitedBytes: r.stats.visitedBytes };
    },
  },
  pkvm('ram3-iova4', 'rfc-v1-fixed, host driver, 3 RAM pages, 4 IOVA pages per domain', { ramPages: 3, iovas: 4 }, { group: 'scale' }),
  // growth: one bound at a time from the default configuration (host driver)
  pkvm('g-ram1', 'RAM pages 1', { ramPages: 1 }, { group: 'growth' }),
  pkvm('g-ram2', 'RAM pages 2 (default)', {}, { group: 'growth' }),
  pkvm('g-ram3', 'RAM pages 3', { ramPages: 3 }, { group: 'growth' }),
  pkvm('g-ram4', 'RAM pages 4', { ramPages: 4 }, { group: 'growth' }),
  pkvm('g-dom1', 'SMMU domains 1', { domains: 1 }, { group: 'growth' }),
  pkvm('g-dom3', 'SMMU domains 3', { domains: 3 }, { group: 'growth' }),
  pkvm('g-guest2', 'guests 2', { guests: 2 }, { group: 'growth' }),
  pkvm('g-cpu2', 'CPUs 2 (1 domain, no guest)', { cpus: 2, domains: 1, guests: 0 }, { group: 'growth' }),
  pkvm('g-cpu1-small', 'CPUs 1 (1 domain, no guest)', { domains: 1, guests: 0 }, { group: 'growth' }),
  pkvm('g-cpu3', 'CPUs 3 (1 RAM page, 1 domain, no guest, no MMIO)', { cpus: 3, ramPages: 1, mmioPages: 0, domains: 1, guests: 0 }, { group: 'growth' }),
  pkvm('g-cpu1-tiny', 'CPUs 1 (1 RAM page, 1 domain, no guest, no MMIO)', { ramPages: 1, mmioPages: 0, domains: 1, guests: 0 }, { group: 'growth' }),
  pkvm('g-cpu2-tiny', 'CPUs 2 (1 RAM page, 1 domain, no guest, no MMIO)', { cpus: 2, ramPages: 1, mmioPages: 0, domains: 1, guests: 0 }, { group: 'growth' }),
];

const n = (x: number) => x.toLocaleString('en-US');
const args = process.argv.slice(2);
const child = args.indexOf('--child');
if (child >= 0) {
  const b = BENCHES.find((x) => x.name === args[child + 1])!;
  const r = b.run();
  process.stdout.write(JSON.stringify({ ...r, maxRss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const only = args.indexOf('--only') >= 0 ? args[args.indexOf('--only') + 1] : null;
  const group = args.includes('--growth') ? 'growth' : args.includes('--scale') ? 'scale' : undefined;
  console.log(`# pkvm-check benchmark: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; compiled engine unless said otherwise\n`);
  console.log('| configuration | distinct states | transitions | depth | seconds | states/s | transitions/s | visited set bytes/state | peak RSS |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const b of BENCHES.filter((x) => (only ? x.name === only : x.group === group))) {
    const p = spawnSync(process.execPath, ['--import', 'tsx', process.argv[1], '--child', b.name], { encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    if (p.status !== 0) {
      console.log(`| ${b.what} | failed: ${p.stderr.trim().split('\n')[0]} |`);
      continue;
    }
    const r = JSON.parse(p.stdout);
    console.log(
      `| ${b.what} | ${n(r.distinct)}${r.exhausted ? '' : ' (not exhausted)'} | ${n(r.transitions)} | ${r.depth} | ${r.seconds.toFixed(1)} | ${n(Math.round(r.distinct / r.seconds))} | ${n(Math.round(r.transitions / r.seconds))} | ${(r.visitedBytes / r.distinct).toFixed(1)} | ${(r.maxRss / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
}
