/**
 * npm run bench:parallel: the sequential search (what --workers 1 runs) against the parallel one
 * with 2 workers (--workers 2) on the same runs, one child process per measurement. Prints the
 * states/s of each and the speedup, and checks that both found the same states and transitions.
 * Measured, never asserted: timings belong here, not in tests. The machine should be otherwise
 * idle (the parallel search needs the second core).
 *
 * Seconds are the search's, from the model built to the verdict, in both (the workers load the
 * modules and build their models before their clock starts, as the sequential search's model is
 * built before its clock does); the last columns time each whole child process, from spawn to
 * exit. Runs of 1 and of N workers alternate, best of the repeats for each.
 *
 *   npm run bench:parallel                          every run, best of 3
 *   npm run bench:parallel -- --only own --repeat 5
 *   npm run bench:parallel -- --workers 3           another worker count
 *   npm run bench:parallel -- --long --repeat 1     also the long runs (minutes each)
 *   npm run bench:parallel -- --engine packed       the pkvm runs on another engine (default: compiled)
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { check, type CheckResult } from '../checker/index.ts';
import { checkParallel } from '../checker/parallel.ts';
import { pkvmFactory, pkvmSearch, type PkvmSearchArgs } from '../cli/worker-model.ts';
import { ENGINES, type Engine } from '../cli/engine.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../model/config.ts';
import { toyFactory, toySearch, type ToySpec } from '../test/toys/factories.ts';

interface Run {
  readonly name: string;
  readonly what: string;
  /** Long runs (minutes): only with --long or --only. */
  readonly long?: boolean;
  /** workers 1: the sequential search; more: the parallel one. */
  run(workers: number): Promise<CheckResult>;
}

function toy(name: string, what: string, spec: ToySpec): Run {
  return {
    name,
    what,
    async run(workers) {
      if (workers > 1) return checkParallel(toyFactory(spec), { workers });
      const { model, properties } = toySearch(spec);
      return check(model, properties);
    },
  };
}

const args = process.argv.slice(2);
const opt = (name: string) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : undefined);
const engine = (opt('--engine') ?? 'compiled') as Engine;
if (!ENGINES.includes(engine)) throw new Error(`--engine must be one of ${ENGINES.join(', ')}`);

function pkvm(name: string, what: string, over: Partial<PkvmConfig>, long = false): Run {
  const args: PkvmSearchArgs = { config: { ...DEFAULT_CONFIG, ...over }, variant: 'rfc-v1-fixed', engine, reachables: true };
  return {
    name,
    what,
    long,
    async run(workers) {
      // as `pkvm-check check --variant rfc-v1-fixed [bounds] --workers N` (every invariant)
      if (workers > 1) return checkParallel(pkvmFactory(args), { workers });
      const { model, properties } = (await pkvmSearch(args)) as { model: Parameters<typeof check>[0]; properties: Parameters<typeof check>[1] };
      return check(model, properties);
    },
  };
}

const RUNS: Run[] = [
  toy('own', 'checker only: the "Own" cross-check model, P=7, G=3 (823,543 states)', { toy: 'own', pages: 7, guests: 3 }),
  pkvm('iommu', 'pkvm rfc-v1-fixed, host iommu, default bounds (few states, many transitions)', { host: 'iommu' }),
  pkvm('ram3', 'pkvm rfc-v1-fixed, host driver, --ram-pages 3', { ramPages: 3 }),
  pkvm('large', 'pkvm rfc-v1-fixed, host driver, --ram-pages 4 --guest-ipas 2 (the large SPIN comparison)', { ramPages: 4, guestIpas: 2 }, true),
];

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const child = opt('--child');

if (child) {
  const r = await RUNS.find((x) => x.name === child)!.run(Number(opt('--workers')));
  process.stdout.write(JSON.stringify({ distinct: r.stats.distinctStates, transitions: r.stats.transitions, seconds: r.stats.seconds, maxRss: process.resourceUsage().maxRSS * 1024 }));
} else {
  const only = opt('--only');
  const repeat = Number(opt('--repeat') ?? 3);
  const workers = Number(opt('--workers') ?? 2);
  interface Sample {
    distinct: number;
    transitions: number;
    seconds: number;
    maxRss: number;
    /** The whole child process, from spawn to exit (node, modules, models built, search). */
    wall: number;
  }
  const measure = (name: string, w: number): Sample => {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, ['bin/run-ts.js', 'bench/parallel.ts', '--child', name, '--workers', String(w), '--engine', engine], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (p.status !== 0) throw new Error(`${name} with ${w} worker(s) failed (exit ${p.status})`);
    return { ...(JSON.parse(p.stdout) as Omit<Sample, 'wall'>), wall: (performance.now() - t0) / 1000 };
  };
  console.log(`# pkvm-check parallel search: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, best of ${repeat}; pkvm runs on the ${engine} engine\n`);
  console.log(`| run | distinct states | transitions | 1 worker: s | states/s | ${workers} workers: s | states/s | speedup | whole process: 1 / ${workers} workers, s | speedup |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const long = args.includes('--long');
  for (const r of RUNS.filter((x) => (only ? x.name === only : long || !x.long))) {
    // alternating, so that a machine that drifts during the runs weighs on both sides alike
    const best: (Sample | null)[] = [null, null];
    for (let i = 0; i < repeat; i++)
      [1, workers].forEach((w, k) => {
        const s = measure(r.name, w);
        if (!best[k] || s.seconds < best[k]!.seconds) best[k] = s;
      });
    const [one, many] = best as Sample[];
    if (one.distinct !== many.distinct || one.transitions !== many.transitions)
      throw new Error(`${r.name}: ${workers} workers found ${many.distinct} states and ${many.transitions} transitions, 1 found ${one.distinct} and ${one.transitions}`);
    console.log(
      `| ${r.what} | ${n(one.distinct)} | ${n(one.transitions)} | ${one.seconds.toFixed(2)} | ${n(one.distinct / one.seconds)} | ${many.seconds.toFixed(2)} | ${n(many.distinct / many.seconds)} | ${(one.seconds / many.seconds).toFixed(2)}x | ${one.wall.toFixed(2)} / ${many.wall.toFixed(2)} | ${(one.wall / many.wall).toFixed(2)}x |`,
    );
  }
}
