/**
 * Partial-order reduction on the pKVM model. The footprints the packed and the compiled models
 * report (traced field by field, or kept with each compiled path) are checked against the model
 * itself: two actions whose footprints do not conflict commute, in random
 * states of sequential and concurrent configurations (fast-check, pinned seed). Then the
 * reduction changes no verdict: every built-in variant, mutants and concurrency variants
 * included, has the same violated invariants with the same shortest trace lengths, and the
 * same number of distinct states, with and without it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { check } from '../../checker/index.ts';
import { independent } from '../../checker/sleep.ts';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { CompiledPkvmModel, PackedPkvmModel } from '../../model/system.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const variant = (name: string) => BUILTIN_VARIANTS.find((v) => v.name === name)!;

const CONFIGS: Record<string, PkvmConfig> = {
  sequential: { ...DEFAULT_CONFIG, host: 'iommu' },
  'two cpus': { ...DEFAULT_CONFIG, cpus: 2, guests: 0, domains: 1 },
  'two cpus, iotlb': { ...DEFAULT_CONFIG, cpus: 2, iotlb: true, ramPages: 1, mmioPages: 0, domains: 1, guests: 0 },
};

describe('footprints: actions that do not conflict commute', () => {
  for (const [engine, Model] of [['packed', PackedPkvmModel], ['compiled', CompiledPkvmModel]] as const)
  for (const [name, config] of Object.entries(CONFIGS))
    for (const v of ['rfc-v1', 'rfc-v1-fixed', 'unshare-before-tlbi'])
      it(`${v}, ${name}, ${engine} engine`, () => {
        const m = new Model(config, variant(v));
        let pairs = 0;
        fc.assert(
          fc.property(fc.array(fc.nat(), { maxLength: 14 }), fc.nat(), fc.nat(), (walk, i, j) => {
            let s = m.initialStates()[0];
            for (const k of walk) {
              const acts = m.actions(s);
              if (!acts.length) break;
              s = m.step(s, acts[k % acts.length]).state;
            }
            const acts = m.actions(s);
            if (acts.length < 2) return;
            const a = acts[i % acts.length];
            const b = acts[j % acts.length];
            if (a === b) return;
            const ra = m.stepWithFootprint(s, a);
            const rb = m.stepWithFootprint(s, b);
            // a footprint describes the step: the plain step agrees
            expect(bytesEqual(ra.state, m.step(s, a).state)).toBe(true);
            if (!independent(ra.footprint, rb.footprint)) return;
            pairs++;
            const afterA = m.actions(ra.state);
            const afterB = m.actions(rb.state);
            expect(afterA).toContain(b);
            expect(afterB).toContain(a);
            const ab = m.stepWithFootprint(ra.state, b);
            const ba = m.stepWithFootprint(rb.state, a);
            expect(bytesEqual(ab.state, ba.state)).toBe(true);
            expect(ab.outcome.ret).toBe(rb.outcome.ret);
            expect(ba.outcome.ret).toBe(ra.outcome.ret);
            expect(Array.from(ab.footprint)).toEqual(Array.from(rb.footprint));
            expect(Array.from(ba.footprint)).toEqual(Array.from(ra.footprint));
          }),
          { seed: 4242, numRuns: 400 },
        );
        // the property is not vacuous
        expect(pairs).toBeGreaterThan(10);
      });
});

function verdicts(config: PkvmConfig, name: string, depth: number, por: boolean) {
  // (the default engine: its footprints are its compiled paths')
  const m = new CompiledPkvmModel(config, variant(name));
  const props = selectProperties(config, undefined, variant(name), (s: Uint8Array) => m.read(s));
  const r = check(m, props, { stopAtFirstViolation: false, maxDepth: depth, por });
  return {
    states: r.stats.distinctStates,
    exhausted: r.exhausted,
    violated: r.status === 'violation' ? r.violations.map((v) => `${v.property}${v.finding.key ? `[${v.finding.key}]` : ''}@${v.path.actions.length}`).sort() : [],
  };
}

describe('the reduction changes no verdict', () => {
  it('every built-in variant, sequential (host iommu, depth 4)', () => {
    const config = { ...DEFAULT_CONFIG, host: 'iommu' as const };
    for (const v of BUILTIN_VARIANTS) {
      const full = verdicts(config, v.name, 4, false);
      expect({ v: v.name, ...verdicts(config, v.name, 4, true) }).toEqual({ v: v.name, ...full });
    }
  }, 600_000);

  it('the concurrency variants and the fixed design with two CPUs', () => {
    const cases: [string, PkvmConfig, number][] = [
      ['share-dma-lock-inversion', CONFIGS['two cpus'], 6],
      ['pin-drops-locks', CONFIGS['two cpus'], 8],
      ['unshare-before-tlbi', CONFIGS['two cpus, iotlb'], 12],
      ['rfc-v1-fixed', CONFIGS['two cpus, iotlb'], 12],
      ['rfc-v1', CONFIGS['two cpus'], 7],
    ];
    for (const [name, config, depth] of cases) {
      const full = verdicts(config, name, depth, false);
      expect({ name, ...verdicts(config, name, depth, true) }).toEqual({ name, ...full });
      if (name !== 'rfc-v1-fixed') expect(full.violated.length).toBeGreaterThan(0);
    }
  }, 600_000);
});
