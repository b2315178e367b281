/**
 * The compiled engine against the packed one on whole searches: the same distinct states,
 * transitions, levels and violations (property, key, shortest path) for every built-in variant,
 * sequential and with two CPUs; and the decision trees themselves.
 */
import { describe, expect, it } from 'vitest';
import { check, type CheckResult } from '../../checker/index.ts';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { ByteRecorder, DecisionTree } from '../../model/compiled.ts';
import { CompiledPkvmModel, PackedPkvmModel } from '../../model/system.ts';
import { BUILTIN_VARIANTS, builtinVariant } from '../../model/variants/index.ts';
import type { Variant } from '../../model/variant.ts';
import { usesStateObject } from '../../cli/engine.ts';

function search(M: typeof PackedPkvmModel, config: PkvmConfig, variant: Variant, maxDepth: number): CheckResult {
  const m = new M(config, variant);
  return check(m, selectProperties(config, undefined, variant, (b: Uint8Array) => m.read(b)), { stopAtFirstViolation: false, maxDepth });
}

function summary(r: CheckResult) {
  return {
    states: r.stats.distinctStates,
    transitions: r.stats.transitions,
    levels: r.stats.levels,
    violations: r.status === 'violation' ? r.violations.map((v) => [v.property, v.finding.key ?? '', v.finding.message, v.path.actions.join(',')]) : [],
  };
}

describe('compiled and packed engines find the same states, transitions and violations', () => {
  const variants = BUILTIN_VARIANTS.filter((v) => !usesStateObject(v));
  for (const [host, depth] of [['driver', 5], ['iommu', 3]] as const)
    it(`every built-in variant, host ${host}, depth <= ${depth}`, () => {
      for (const v of variants) {
        const config = { ...DEFAULT_CONFIG, host };
        const packed = summary(search(PackedPkvmModel, config, v, depth));
        const compiled = summary(search(CompiledPkvmModel, config, v, depth));
        expect({ variant: v.name, ...compiled }).toEqual({ variant: v.name, ...packed });
      }
    });

  it('two CPUs (interleaved steps, locks, panics): the seed, the fixed design and the concurrency variants', () => {
    const config = { ...DEFAULT_CONFIG, cpus: 2, domains: 1, guests: 0 };
    for (const name of ['rfc-v1', 'rfc-v1-fixed', 'share-dma-lock-inversion', 'vmemmap-cmpxchg', 'unshare-before-tlbi']) {
      const v = builtinVariant(name);
      if (!v) throw new Error(`no variant ${name}`);
      const c = name === 'unshare-before-tlbi' ? { ...config, iotlb: true } : config;
      expect({ variant: name, ...summary(search(CompiledPkvmModel, c, v, 6)) }).toEqual({ variant: name, ...summary(search(PackedPkvmModel, c, v, 6)) });
    }
  });

  it('the exhaustive default search of the fixed design: 13,196 states, and every path recorded once', () => {
    const m = new CompiledPkvmModel(DEFAULT_CONFIG, builtinVariant('rfc-v1-fixed')!);
    const r = check(m, selectProperties(DEFAULT_CONFIG, undefined, m.variant, (b: Uint8Array) => m.read(b)), {});
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(13196);
    const s = m.compiledStats();
    // far fewer paths than transitions: the kernel code ran once per path
    expect(s.leaves).toBeGreaterThan(0);
    expect(s.leaves).toBeLessThan(r.stats.transitions / 20);
  });
});

describe('decision trees', () => {
  const rec = new ByteRecorder();
  /** A step that reads byte 0, then byte 1 or byte 2 by byte 0's value, and writes their sum at 3. */
  const run = (state: Uint8Array) => {
    rec.begin(state);
    const v = rec.view;
    v[3] = v[0] === 0 ? v[1] + 1 : v[2] + 1;
    // a byte read after it was written is not a test of the state
    return v[3];
  };

  it('records first reads of unwritten bytes as the path and finds a state by walking it', () => {
    const t = new DecisionTree<number>();
    for (const s of [[0, 5, 9, 0], [1, 5, 9, 0], [0, 6, 9, 0]]) {
      const st = Uint8Array.from(s);
      const out = run(st);
      expect(rec.readOffsets).toEqual(s[0] === 0 ? [0, 1] : [0, 2]);
      expect(rec.written).toEqual([3]);
      t.add(rec, rec.written, [rec.cur[3]], out);
    }
    expect(t.leaves).toBe(3);
    expect(t.find(Uint8Array.from([0, 5, 200, 7]))?.values).toEqual(Uint8Array.from([6]));
    expect(t.find(Uint8Array.from([1, 0, 9, 7]))?.outcome).toBe(10);
    expect(t.find(Uint8Array.from([0, 7, 9, 0]))).toBeUndefined();
  });

  it('reports a step that reads something besides the bytes (another byte after the same reads)', () => {
    const t = new DecisionTree<number>();
    const st = Uint8Array.from([0, 5, 9, 0]);
    run(st);
    t.add(rec, [], [], 0);
    // same first read and value, but now it reads byte 2 where it read byte 1
    rec.begin(st);
    void rec.view[0];
    void rec.view[2];
    expect(() => t.add(rec, [], [], 0)).toThrow(/not a function of the bytes it reads/);
  });
});
