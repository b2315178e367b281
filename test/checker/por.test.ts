/**
 * Partial-order reduction (sleep sets): the same states, the same verdicts and shortest traces,
 * fewer transitions. Exact counts on independent threads; random programs (pinned seed) compared
 * with and without the reduction.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { check, type CheckResult } from '../../checker/index.ts';
import { independent, SleepSets } from '../../checker/sleep.ts';
import { threadsModel, threadsProperties, type Instr, type ThreadsSpec } from '../toys/threads.ts';

const incs = (x: number, k: number): Instr[] => Array.from({ length: k }, () => ({ op: 'inc', x }) as const);

function verdict(r: CheckResult) {
  return {
    states: r.stats.distinctStates,
    exhausted: r.exhausted,
    violations: r.status === 'violation' ? r.violations.map((v) => `${v.property}@${v.path.actions.length}`).sort() : [],
    examples: r.examples.map((e) => `${e.property}@${e.path.actions.length}`).sort(),
    unreached: [...r.unreached].sort(),
  };
}

describe('footprints', () => {
  it('conflict when one writes what the other reads or writes', () => {
    const fp = (r: number[], w: number[]) => {
      const a = new Uint32Array(4);
      for (const x of [...r, ...w]) a[x >>> 5] |= 1 << (x & 31);
      for (const x of w) a[2 + (x >>> 5)] |= 1 << (x & 31);
      return a;
    };
    expect(independent(fp([1], []), fp([1], []))).toBe(true);
    expect(independent(fp([1], []), fp([], [1]))).toBe(false);
    expect(independent(fp([], [40]), fp([], [40]))).toBe(false);
    expect(independent(fp([2], [3]), fp([4], [5, 63]))).toBe(true);
    expect(independent(fp([63], []), fp([], [63]))).toBe(false);
  });

  it('sleep sets are interned, intersected and compared by action', () => {
    const s = new SleepSets();
    const f = new Uint32Array(2);
    const a = s.intern([{ id: 1, fp: f }, { id: 4, fp: f }]);
    const b = s.intern([{ id: 4, fp: f }]);
    expect(s.intern([{ id: 1, fp: f }, { id: 4, fp: f }])).toBe(a);
    expect(s.subset(b, a)).toBe(true);
    expect(s.subset(a, b)).toBe(false);
    expect(s.intersect(a, b)).toBe(b);
    expect(s.intersect(a, 0)).toBe(0);
  });
});

describe('sleep sets on independent threads', () => {
  for (const [threads, k] of [
    [2, 3],
    [3, 2],
    [3, 4],
  ] as const) {
    it(`${threads} threads of ${k} increments of their own variable: (k+1)^n states, one transition into each`, () => {
      const spec: ThreadsSpec = { vars: threads, mod: 8, threads: Array.from({ length: threads }, (_, t) => incs(t, k)) };
      const m = threadsModel(spec);
      const full = check(m, [], {});
      const red = check(m, [], { por: true });
      const states = (k + 1) ** threads;
      expect(full.stats.distinctStates).toBe(states);
      expect(full.stats.transitions).toBe(threads * k * (k + 1) ** (threads - 1));
      expect(red.stats.distinctStates).toBe(states);
      // every state but the initial one is entered by exactly one transition: the rest sleep
      expect(red.stats.transitions).toBe(states - 1);
      expect(red.stats.por!.skipped).toBeGreaterThan(0);
      expect(red.stats.levels).toEqual(full.stats.levels);
    });
  }

  it('threads sharing one variable are not reduced', () => {
    const spec: ThreadsSpec = { vars: 1, mod: 16, threads: [incs(0, 3), incs(0, 3)] };
    const m = threadsModel(spec);
    const full = check(m, [], {});
    const red = check(m, [], { por: true });
    expect(red.stats.distinctStates).toBe(full.stats.distinctStates);
    expect(red.stats.transitions).toBe(full.stats.transitions);
    expect(red.stats.por!.skipped).toBe(0);
  });

  it('needs a model with footprints, and does not combine with symmetry or bitstate', () => {
    const m = threadsModel({ vars: 1, mod: 2, threads: [incs(0, 1)] });
    const { stepWithFootprint: _drop, ...bare } = m;
    expect(() => check(bare, [], { por: true })).toThrow(/footprints/);
    expect(() => check({ ...m, canonicalize: (b: Uint8Array) => b }, [], { por: true, symmetry: true })).toThrow(/symmetry/);
    expect(() => check(m, [], { por: true, bitstateBytes: 1024 })).toThrow(/bitstate/);
  });
});

const instrArb = (vars: number): fc.Arbitrary<Instr> =>
  fc.oneof(
    fc.record({ op: fc.constant('inc' as const), x: fc.nat(vars - 1) }),
    fc.record({ op: fc.constant('copy' as const), x: fc.nat(vars - 1), from: fc.nat(vars - 1) }),
    fc.record({ op: fc.constant('await' as const), x: fc.nat(vars - 1), value: fc.nat(2) }),
    fc.constant({ op: 'local' as const }),
    fc.constant({ op: 'back' as const }),
  );

const programArb = fc.integer({ min: 1, max: 4 }).chain((vars) =>
  fc.record({
    vars: fc.constant(vars),
    mod: fc.integer({ min: 2, max: 4 }),
    threads: fc.array(fc.array(instrArb(vars), { minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 4 }),
    bad: fc.array(fc.record({ x: fc.nat(vars - 1), value: fc.nat(3) }), { maxLength: 2 }),
    stepBad: fc.option(fc.record({ thread: fc.nat(1), pc: fc.nat(4) }), { nil: undefined }),
    depth: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  }),
);

describe('random programs (pinned seed): the reduction changes no verdict', () => {
  it('same states, violations and shortest traces (every violation, and the first)', () => {
    fc.assert(
      fc.property(programArb, (p) => {
        const spec: ThreadsSpec = { vars: p.vars, mod: p.mod, threads: p.threads };
        const m = threadsModel(spec);
        const props = threadsProperties(spec, p.bad, p.stepBad);
        for (const stopAtFirstViolation of [false, true]) {
          const full = check(m, props, { stopAtFirstViolation, maxDepth: p.depth });
          const red = check(m, props, { stopAtFirstViolation, maxDepth: p.depth, por: true });
          const vf = verdict(full);
          const vr = verdict(red);
          if (stopAtFirstViolation) {
            // the first violation found may differ, but not its length
            expect(vr.violations.map((v) => v.split('@')[1])).toEqual(vf.violations.map((v) => v.split('@')[1]));
          } else {
            expect(vr).toEqual(vf);
          }
        }
      }),
      { seed: 20261125, numRuns: 400 },
    );
  });
});
