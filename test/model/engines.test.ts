/**
 * The fast paths are proven equal to the readable model: on random walks, the packed engine (byte
 * states), the compiled engine (the packed steps as decision trees over the bytes they read) and
 * the readable engine (frozen objects) enumerate the same actions, return the same outcomes,
 * reach states with the same encoding, and the invariants find the same violations. The compiled
 * models live across walks, so later walks run on the paths earlier ones recorded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pkvmProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type HostBehaviour, type PkvmConfig } from '../../model/config.ts';
import { CompiledPkvmModel, PackedPkvmModel, PkvmModel, actionKey } from '../../model/system.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import { usesStateObject } from '../../cli/engine.ts';

const CONFIGS: Record<string, Partial<PkvmConfig>> = {
  default: {},
  small: { ramPages: 1, mmioPages: 1, mmioBacked: 1, domains: 1, guests: 1 },
  wide: { ramPages: 3, iovas: 4, refcountBits: 2, maxPins: 2 },
  // table pages from the memcache (--memcache): every variant on the allocation paths
  pool: { memcache: 2, iovas: 4 },
  lifecycle: { domainLifecycle: true, endpoints: 2, domains: 1 },
};
const HOSTS: HostBehaviour[] = ['driver', 'iommu', 'adversarial'];
const packedVariants = BUILTIN_VARIANTS.filter((v) => !usesStateObject(v));

describe('packed, compiled and readable engines agree', () => {
  for (const [name, over] of Object.entries(CONFIGS))
    it(`random walks, config '${name}', every built-in variant and host behaviour`, () => {
      const compiledModels = new Map<string, CompiledPkvmModel>();
      fc.assert(
        fc.property(fc.constantFrom(...packedVariants), fc.constantFrom(...HOSTS), fc.array(fc.nat(), { minLength: 1, maxLength: 25 }), (variant, host, choices) => {
          const config = { ...DEFAULT_CONFIG, ...over, host };
          const readable = new PkvmModel(config, variant);
          const packed = new PackedPkvmModel(config, variant);
          const key = `${variant.name}/${host}`;
          let compiled = compiledModels.get(key);
          if (!compiled) compiledModels.set(key, (compiled = new CompiledPkvmModel(config, variant)));
          const propsR = pkvmProperties(config, variant);
          const propsP = pkvmProperties(config, variant, (b: Uint8Array) => packed.read(b));
          let r = readable.initialStates()[0];
          let p = packed.initialStates()[0];
          expect([...readable.encode(r)]).toEqual([...p]);
          for (const c of choices) {
            const ar = readable.actions(r);
            const ap = packed.actions(p);
            expect(ap.map(actionKey)).toEqual(ar.map(actionKey));
            expect(compiled.actions(p)).toEqual(ap);
            if (ar.length === 0) break;
            const i = c % ar.length;
            const sr = readable.step(r, ar[i]);
            const sp = packed.step(p, ap[i]);
            const sc = compiled.step(p, ap[i]);
            expect([...sc.state]).toEqual([...sp.state]);
            expect(sc.state === p).toBe(sp.state === p);
            expect(sc.outcome).toEqual(sp.outcome);
            const d = compiled.stepDelta(p, ap[i]);
            const applied = p.slice();
            for (let k = 0; k < d.offsets.length; k++) applied[d.offsets[k]] = d.values[k];
            expect([...applied]).toEqual([...sp.state]);
            expect(sp.outcome.ret).toBe(sr.outcome.ret);
            expect(sp.outcome.failures).toEqual(sr.outcome.failures);
            expect(sp.outcome.subcalls.map((x) => [x.call, x.ret])).toEqual(sr.outcome.subcalls.map((x) => [x.call, x.ret]));
            expect([...readable.encode(sr.state)]).toEqual([...sp.state]);
            expect(readable.decode(sp.state)).toEqual(sr.state);
            propsR.forEach((pr, k) => {
              const pp = propsP[k];
              if (pr.kind === 'state' && pp.kind === 'state') expect(pp.check(sp.state)?.message).toBe(pr.check(sr.state)?.message);
              if (pr.kind === 'step' && pp.kind === 'step') {
                const f = pp.check(p, ap[i], sp.outcome, sp.state);
                expect(f?.message).toBe(pr.check(r, ar[i], sr.outcome, sr.state)?.message);
                // a property that says where it can fail must not fail elsewhere
                if (f && pp.relevant) expect(pp.relevant(ap[i], sp.outcome)).toBe(true);
              }
            });
            r = sr.state;
            p = sp.state;
          }
        }),
        { numRuns: 150 },
      );
    });

  it('a step that changes nothing returns the same packed state (no copy)', () => {
    const packed = new PackedPkvmModel({ ...DEFAULT_CONFIG, host: 'iommu' });
    const s = packed.initialStates()[0];
    const noop = packed.actions(s).find((a) => a.op === 'kvm_iommu_unmap_pages')!;
    expect(packed.step(s, noop).state).toBe(s);
  });
});
