/**
 * The parallel search (checker/parallel.ts) against the sequential one: with 1, 2 and 3 workers,
 * the same distinct states, levels, transitions, violations (in the same order, with the same
 * paths), examples and bounds, on the toy models and on the pkvm model; the paths replay.
 * (Speed is measured by bench/parallel.ts, not here.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, replayPath, type CheckOptions, type CheckResult, type Model, type Progress, type Property } from '../../checker/index.ts';
import { checkParallel } from '../../checker/parallel.ts';
import { pkvmFactory, pkvmSearch, type PkvmSearchArgs } from '../../cli/worker-model.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { toyFactory, toySearch, type ToySpec } from '../toys/factories.ts';
import { ownCounts } from '../toys/own.ts';
import { runCli as run } from '../run-cli.ts';

/** A result without timing, memory and visited-set size (the shared set is laid out differently). */
function comparable(r: CheckResult): unknown {
  const { seconds: _s, statesPerSecond: _p, peakMemoryBytes: _m, visitedBytes: _v, parallel: _q, ...stats } = r.stats;
  return { ...r, stats };
}

type AnyModel = Model<unknown, unknown, unknown>;
type AnyProps = readonly Property<unknown, unknown, unknown>[];

/** Every violation's and example's path replays, and ends where its property fails (or holds). */
function replays(model: AnyModel, properties: AnyProps, r: CheckResult): void {
  for (const v of r.status === 'violation' ? r.violations : []) {
    const run = replayPath(model, v.path);
    const p = properties.find((x) => x.name === v.property)!;
    if (p.kind === 'state') expect(p.check(run.final), `${v.property} at the end of its path`).not.toBeNull();
    if (p.kind === 'step') {
      const last = run.steps.at(-1)!;
      expect(p.check(last.before, last.action, last.outcome, last.after), `${v.property} on the last step`).not.toBeNull();
    }
  }
  for (const e of r.examples) {
    const p = properties.find((x) => x.name === e.property)!;
    if (p.kind === 'reachable') expect(p.holds(replayPath(model, e.path).final)).toBe(true);
  }
}

function sameAsSequential(spec: ToySpec, options: CheckOptions = {}, workers: readonly number[] = [1, 2, 3]): CheckResult {
  const { model, properties } = toySearch(spec);
  const seq = check(model, properties, options);
  for (const n of workers) {
    const par = checkParallel(toyFactory(spec), { ...options, workers: n });
    expect(comparable(par), `${n} worker(s)`).toEqual(comparable(seq));
    replays(model, properties, par);
  }
  return seq;
}

describe('toy models: the same results as the sequential search with 1, 2 and 3 workers', () => {
  it('Own P=3, G=2 (125 states, 600 transitions)', () => {
    const r = sameAsSequential({ toy: 'own', pages: 3, guests: 2 });
    expect(r.stats.distinctStates).toBe(125);
    expect(r.stats.transitions).toBe(600);
  });

  it('Own P=4, G=3, buggy: the first violation and its path', () => {
    const r = sameAsSequential({ toy: 'own', pages: 4, guests: 3, variant: 'share-skips-owner-check' });
    expect(r.status).toBe('violation');
  });

  it('Own P=4, G=3, buggy: every violation (first of each property and key)', () => {
    const r = sameAsSequential({ toy: 'own', pages: 4, guests: 3, variant: 'share-skips-owner-check' }, { stopAtFirstViolation: false });
    expect(r.status === 'violation' && r.violations.length).toBeGreaterThan(1);
  });

  it('Own P=5, G=3, a property failing on every state: the path of every state (every parent link)', () => {
    const r = sameAsSequential({ toy: 'own', pages: 5, guests: 3, everyState: true }, { stopAtFirstViolation: false }, [2, 3]);
    expect(r.status === 'violation' && r.violations.filter((v) => v.property === 'every-state').length).toBe(16807);
  });

  it('the same with states as bytes and steps as bytes written (the workers\' delta path), also from a visited set of 16 slots', () => {
    const r = sameAsSequential({ toy: 'own', pages: 5, guests: 3, everyState: true, bytes: true }, { stopAtFirstViolation: false }, [2, 3]);
    expect(r.status === 'violation' && r.violations.filter((v) => v.property === 'every-state').length).toBe(16807);
    sameAsSequential({ toy: 'own', pages: 5, guests: 3, everyState: true, bytes: true }, { stopAtFirstViolation: false, initialTableSlots: 16 } as CheckOptions, [2]);
  });

  it('grid 6 x 4 with state, step (self-loops, visited targets) and reachable properties, every violation and the first', () => {
    const all = sameAsSequential({ toy: 'grid', w: 6, h: 4 }, { stopAtFirstViolation: false });
    expect(all.status === 'violation' && all.violations.length).toBe(11);
    expect(all.unreached).toEqual(['reach-outside']);
    sameAsSequential({ toy: 'grid', w: 6, h: 4 });
  });

  it('diamonds with self-loops (the same object, an equal copy), two initial states, counter, binary tree', () => {
    sameAsSequential({ toy: 'diamonds', k: 5, selfLoop: 'same' });
    sameAsSequential({ toy: 'diamonds', k: 5, selfLoop: 'copy' }, {}, [2]);
    sameAsSequential({ toy: 'twoInits' });
    const counter = sameAsSequential({ toy: 'counter', n: 300, last: true }, {}, [3]);
    expect(counter.examples[0].path.actions).toHaveLength(299);
    sameAsSequential({ toy: 'tree', d: 10 }, {}, [2]);
  });

  it('symmetry reduction (Own P=4, G=3 with interchangeable guests)', () => {
    const spec: ToySpec = { toy: 'own', pages: 4, guests: 3, symmetricGuests: true };
    const r = sameAsSequential(spec, { symmetry: true }, [1, 2]);
    expect(r.stats.distinctStates).toBeLessThan(ownCounts(4, 3).states);
    sameAsSequential({ ...spec, variant: 'share-skips-owner-check' }, { symmetry: true, stopAtFirstViolation: false }, [3]);
  });

  it('a visited set of 16 slots to start with: it grows between rounds and levels fill it (run again on a larger one), the same results', () => {
    const small = { initialTableSlots: 16 };
    const own = sameAsSequential({ toy: 'own', pages: 5, guests: 3, variant: 'share-skips-owner-check' }, { ...small, stopAtFirstViolation: false }, [1, 2, 3]);
    expect(own.status).toBe('violation');
    sameAsSequential({ toy: 'grid', w: 6, h: 4 }, { ...small, stopAtFirstViolation: false }, [2]);
    sameAsSequential({ toy: 'own', pages: 4, guests: 3, symmetricGuests: true }, { ...small, symmetry: true }, [2]);
    const r = checkParallel(toyFactory({ toy: 'own', pages: 6, guests: 3 }), { ...small, workers: 2 });
    expect(r.stats.distinctStates).toBe(ownCounts(6, 3).states);
    expect(r.stats.parallel!.tableGrowths).toBeGreaterThan(3);
    expect(r.stats.parallel!.roundsRunAgain).toBeGreaterThan(0);
  });

  it('random graphs: state, step and reachable properties, shortest paths, counts (2 and 3 workers)', () => {
    const graphs = fc.integer({ min: 1, max: 10 }).chain((n) =>
      fc.record({
        graph: fc.record({
          adj: fc.array(fc.array(fc.nat({ max: n - 1 }), { maxLength: 4 }), { minLength: n, maxLength: n }),
          initial: fc.array(fc.nat({ max: n - 1 }), { minLength: 1, maxLength: 3 }),
        }),
        bad: fc.nat({ max: n - 1 }),
      }),
    );
    fc.assert(
      fc.property(graphs, fc.boolean(), fc.constantFrom(2, 3), ({ graph, bad }, all, workers) => {
        sameAsSequential({ toy: 'graph', graph, bad }, { stopAtFirstViolation: !all }, [workers]);
      }),
      { numRuns: 8 },
    );
  });
});

describe('bounds', () => {
  it('depth: Own P=5, G=3, maxDepth 3 (cut by depth, same transitions)', () => {
    const r = sameAsSequential({ toy: 'own', pages: 5, guests: 3 }, { maxDepth: 3 });
    expect(r.cutBy).toBe('depth');
  });

  it('states: stops at the same state as the sequential search, within a level (same transitions and queue too)', () => {
    expect(sameAsSequential({ toy: 'own', pages: 3, guests: 2 }, { maxStates: 50 }).stats.levels).toEqual([1, 12, 37]);
    for (const maxStates of [0, 1, 2, 3]) sameAsSequential({ toy: 'twoInits' }, { maxStates }, [2]);
    sameAsSequential({ toy: 'counter', n: 100 }, { maxStates: 10 }, [3]);
    sameAsSequential({ toy: 'own', pages: 4, guests: 3, variant: 'share-skips-owner-check' }, { maxStates: 700, stopAtFirstViolation: false }, [2, 3]);
  });

  it('time: a limit of 0 cuts Own P=7, G=3 early; the result is consistent', () => {
    const spec: ToySpec = { toy: 'own', pages: 7, guests: 3 };
    const r = checkParallel(toyFactory(spec), { workers: 2, timeLimitSeconds: 0 });
    expect(r.cutBy).toBe('time');
    expect(r.exhausted).toBe(false);
    expect(r.stats.distinctStates).toBeLessThan(823_543);
    expect(r.stats.levels.reduce((a, b) => a + b, 0)).toBe(r.stats.distinctStates);
    expect(r.stats.queued).toBeGreaterThan(0);
  });

  it('progress: consistent figures while the workers run', () => {
    const seen: Progress[] = [];
    const r = checkParallel(toyFactory({ toy: 'own', pages: 6, guests: 3 }), { workers: 2, progressIntervalMs: 0, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(0);
    for (const p of seen) {
      expect(p.distinctStates).toBeLessThanOrEqual(r.stats.distinctStates);
      expect(p.transitions).toBeLessThanOrEqual(r.stats.transitions);
      expect(p.queued).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('Own P=7, G=3 with 2 workers', () => {
  it('823,543 states, 9,882,516 transitions, depth 7, the TLC/SPIN levels', () => {
    const r = checkParallel(toyFactory({ toy: 'own', pages: 7, guests: 3 }), { workers: 2 });
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(823_543);
    expect(r.stats.transitions).toBe(9_882_516);
    expect(r.stats.depth).toBe(7);
    expect(r.stats.levels).toEqual([1, 42, 756, 7560, 45360, 163296, 326592, 279936]);
    expect(r.exhausted).toBe(true);
    expect(r.stats.queued).toBe(0);
  });
});

describe('failures are reported, not hung on', () => {
  it('a factory that throws, a missing export, a step that throws, a model without decode', () => {
    expect(() => checkParallel(toyFactory({ toy: 'broken', how: 'factory' }), { workers: 2 })).toThrow(/worker \d failed: this factory always fails/);
    expect(() => checkParallel({ ...toyFactory({ toy: 'twoInits' }), export: 'nope' }, { workers: 1 })).toThrow(/no function export 'nope'/);
    expect(() => checkParallel(toyFactory({ toy: 'broken', how: 'step', after: 20 }), { workers: 2 })).toThrow(/step failed after 20 calls/);
    expect(() => checkParallel(toyFactory({ toy: 'broken', how: 'no-decode' }), { workers: 2 })).toThrow(/decode/);
  });

  it('options left to the sequential search are refused', () => {
    expect(() => checkParallel(toyFactory({ toy: 'twoInits' }), { workers: 2, bitstateBytes: 1024 })).toThrow(/bitstate/);
    expect(() => checkParallel(toyFactory({ toy: 'twoInits' }), { workers: 0 })).toThrow(/positive integer/);
  });
});

describe('pkvm model', () => {
  async function samePkvm(args: PkvmSearchArgs, options: CheckOptions, workers: readonly number[] = [1, 2, 3]): Promise<CheckResult> {
    const { model, properties } = (await pkvmSearch(args)) as { model: AnyModel; properties: AnyProps };
    const seq = check(model, properties, options);
    for (const n of workers) {
      const par = checkParallel(pkvmFactory(args), { ...options, workers: n });
      expect(comparable(par), `${n} worker(s)`).toEqual(comparable(seq));
      replays(model, properties, par);
    }
    return seq;
  }
  const args = (variant: string, host = DEFAULT_CONFIG.host): PkvmSearchArgs => ({ config: { ...DEFAULT_CONFIG, host }, variant, engine: 'packed', reachables: true });

  it('rfc-v1-fixed, default bounds: 13,196 states, depth 10, exhausted', async () => {
    const r = await samePkvm(args('rfc-v1-fixed'), {});
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(13_196);
    expect(r.stats.depth).toBe(10);
    expect(r.exhausted).toBe(true);
  });

  it('rfc-v1 (the seed) and dma-shared-skip-hyp-check: the same first violation and path', async () => {
    for (const variant of ['rfc-v1', 'dma-shared-skip-hyp-check']) {
      const r = await samePkvm(args(variant), {});
      expect(r.status, variant).toBe('violation');
    }
  });

  it('rfc-v1, every violation within depth 4 (cut by depth)', async () => {
    const r = await samePkvm(args('rfc-v1'), { stopAtFirstViolation: false, maxDepth: 4 }, [2]);
    expect(r.status === 'violation' && r.violations.length).toBeGreaterThan(3);
    expect(r.cutBy).toBe('depth');
  });
});

describe('CLI: --workers', () => {
  const withoutTimes = (j: { stats: Record<string, unknown> }) => {
    // (and how the workers' visited set grew: the sequential search has none)
    const { seconds: _s, statesPerSecond: _p, peakMemoryBytes: _m, visitedBytes: _v, bytesPerState: _b, parallel: _w, ...stats } = j.stats;
    return { ...j, stats };
  };

  it('check --workers 2: the same report and trace file as --workers 1 (first violation of the seed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-workers-'));
    const one = await run(['check', '--quiet', '--json', '--trace-out', join(dir, 'one.json')]);
    const two = await run(['check', '--quiet', '--json', '--workers', '2', '--trace-out', join(dir, 'two.json')]);
    expect(one.code).toBe(1);
    expect(two.code).toBe(1);
    expect(withoutTimes(JSON.parse(two.out.replaceAll('two.', 'one.')))).toEqual(withoutTimes(JSON.parse(one.out)));
    expect(JSON.parse(two.out).stats.parallel).toEqual({ tableGrowths: expect.any(Number), roundsRunAgain: 0 });
    expect(JSON.parse(one.out).stats.parallel).toBeUndefined();
    const trace = (f: string) => {
      const { generator: _g, ...t } = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      return t;
    };
    expect(trace('two.json')).toEqual(trace('one.json'));
  });

  it('verify --workers 2: the same matrix as --workers 1', async () => {
    const args = ['verify', '--quiet', '--json', '--depth', '3', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed'];
    const one = JSON.parse((await run(args)).out);
    const two = JSON.parse((await run([...args, '--workers', '2'])).out);
    const cells = (j: { variants: { variant: string; stats: { distinctStates: number; transitions: number }; invariants: unknown }[] }) =>
      j.variants.map((r) => [r.variant, r.stats.distinctStates, r.stats.transitions, r.invariants]);
    expect(cells(two)).toEqual(cells(one));
  });

  it('--workers with an option of the sequential search only: exit 2, one line', async () => {
    for (const extra of [['--bitstate', '1'], ['--random'], ['--coverage'], ['--checkpoint', 'x']]) {
      const r = await run(['check', '--quiet', '--workers', '2', ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), extra.join(' ')).toHaveLength(1);
      expect(r.err).toMatch(/--workers 2 cannot be combined/);
    }
    const bad = await run(['check', '--quiet', '--workers', '1.5']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--workers must be a positive integer/);
  });
});
