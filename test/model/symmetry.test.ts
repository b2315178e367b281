/**
 * The canonical form is a symmetry of the model: permuting the SMMU domains (with their IOTLBs)
 * and the guests of a reachable state changes neither its canonical form, nor the canonical forms
 * of its successors, nor any property's verdict. Random reachable states of several
 * configurations (fast-check, pinned seed in CI). With several CPUs the canonical form is not
 * offered (a CPU's call record names domains and guests), and the command line refuses
 * --symmetry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { PackedPkvmModel } from '../../model/system.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import { runCli } from '../run-cli.ts';

const variant = (name: string) => BUILTIN_VARIANTS.find((v) => v.name === name)!;
const key = (b: Uint8Array) => Array.from(b).join(',');

/** The state with domain d moved to perm[d] and guest g to gperm[g] (their bytes, IOTLB rows included). */
function permute(m: PackedPkvmModel, b: Uint8Array, perm: readonly number[], gperm: readonly number[]): Uint8Array {
  const L = m.layout;
  const c = m.config;
  const out = b.slice();
  for (let d = 0; d < c.domains; d++) {
    out.set(b.subarray(L.domOffset + d * L.domBytes, L.domOffset + (d + 1) * L.domBytes), L.domOffset + perm[d] * L.domBytes);
    if (c.iotlb) out.set(b.subarray(L.iotlbOffset + d * c.iovas, L.iotlbOffset + (d + 1) * c.iovas), L.iotlbOffset + perm[d] * c.iovas);
  }
  for (let g = 0; g < c.guests; g++) out.set(b.subarray(L.vmOffset + g * L.vmBytes, L.vmOffset + (g + 1) * L.vmBytes), L.vmOffset + gperm[g] * L.vmBytes);
  return out;
}

const CONFIGS: [string, string, Partial<PkvmConfig>][] = [
  ['rfc-v1', 'iommu host, 3 domains, 2 guests', { host: 'iommu', domains: 3, guests: 2 }],
  ['rfc-v1', 'driver host, IOTLB, 3 domains', { domains: 3, iotlb: true }],
  ['unmap-no-tlb-add-page', 'iommu host, IOTLB', { host: 'iommu', iotlb: true }],
  ['dma-shared-skip-hyp-check', 'adversarial host, 2 guests', { host: 'adversarial', guests: 2 }],
];

describe('the canonical form commutes with permutations of domains and guests', () => {
  for (const [name, what, over] of CONFIGS)
    it(`${name}, ${what}`, () => {
      const config = { ...DEFAULT_CONFIG, ...over };
      const m = new PackedPkvmModel(config, variant(name));
      const props = selectProperties(config, undefined, variant(name), (b: Uint8Array) => m.read(b));
      const perms = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });
      let checked = 0;
      fc.assert(
        fc.property(fc.array(fc.nat(), { maxLength: 10 }), perms(config.domains), perms(config.guests), (walk, perm, gperm) => {
          let s = m.initialStates()[0];
          for (const k of walk) {
            const acts = m.actions(s);
            if (!acts.length) break;
            s = m.step(s, acts[k % acts.length]).state;
          }
          const p = permute(m, s, perm, gperm);
          expect(key(m.canonicalize(p))).toBe(key(m.canonicalize(s)));
          // the properties do not tell symmetric states apart
          for (const q of props) if (q.kind === 'state') expect(q.check(p) === null, q.name).toBe(q.check(s) === null);
          // the successors, as classes, are the same
          const succ = (x: Uint8Array) => m.actions(x).map((a) => key(m.canonicalize(m.step(x, a).state))).sort();
          expect(succ(p)).toEqual(succ(s));
          checked++;
        }),
        { numRuns: 60 },
      );
      expect(checked).toBeGreaterThan(0);
    });
});

describe('several CPUs: no canonical form', () => {
  it('the model refuses to canonicalize, the command line refuses --symmetry (exit 2)', async () => {
    const m = new PackedPkvmModel({ ...DEFAULT_CONFIG, cpus: 2 }, variant('rfc-v1'));
    expect(() => m.canonicalize(m.initialStates()[0])).toThrow(/not available with several CPUs/);
    for (const extra of [[], ['--workers', '2'], ['--bitstate', '4']]) {
      const r = await runCli(['check', '--variant', 'rfc-v1', '--host', 'iommu', '--cpus', '2', '--depth', '6', '--all', '--symmetry', '--quiet', ...extra]);
      expect(r.code).toBe(2);
      expect(r.err.trim()).toMatch(/^pkvm-check: --symmetry cannot be combined with --cpus 2/);
    }
  });
});
