/**
 * One CPU, without the IOTLB in the state: `tlb-invalidated` must be exactly what the IOTLB can
 * change. On exhaustive searches of small configurations, for variants that invalidate and one
 * that does not:
 * - where tlb-invalidated holds, the run with --iotlb violates exactly the same invariants;
 * - where the run with --iotlb finds dma-isolation through a cached translation that the run
 *   without finds nowhere, tlb-invalidated fails without it.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../run-cli.ts';

interface CheckJson {
  stats: { exhausted: boolean; distinctStates: number };
  violations: { invariant: string; message: string }[];
}

async function invariantsViolated(args: string[]): Promise<{ names: Set<string>; json: CheckJson }> {
  const r = await runCli(['check', '--json', '--quiet', '--no-trace', '--all', ...args]);
  expect([0, 1], r.err).toContain(r.code);
  const json = JSON.parse(r.out) as CheckJson;
  expect(json.stats.exhausted, `exhaustive: ${args.join(' ')}`).toBe(true);
  return { names: new Set(json.violations.map((v) => v.invariant)), json };
}

const SMALL = ['--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '1'];
const CASES: { variant: string; host: string; stale: boolean }[] = [
  { variant: 'rfc-v1-fixed', host: 'iommu', stale: false },
  { variant: 'rfc-v1-fixed', host: 'driver', stale: false },
  { variant: 'dma-shared-skip-hyp-check', host: 'iommu', stale: false },
  { variant: 'unmap-no-tlb-add-page', host: 'iommu', stale: true },
  { variant: 'unmap-no-tlb-add-page', host: 'driver', stale: true },
];

describe('tlb-invalidated stands for the IOTLB with one CPU', () => {
  for (const c of CASES)
    it(`${c.variant}, ${c.host} host: ${c.stale ? 'a stale translation, and the IOTLB shows a verdict the run without it lacks' : 'no stale translation, and the IOTLB changes no verdict'}`, async () => {
      const args = ['--variant', c.variant, '--host', c.host, ...SMALL];
      const without = await invariantsViolated(args);
      const withTlb = await invariantsViolated([...args, '--iotlb']);
      expect(withTlb.names.has('tlb-invalidated'), 'never reported when the IOTLB is in the state').toBe(false);
      expect(without.names.has('tlb-invalidated')).toBe(c.stale);
      const others = new Set([...without.names].filter((n) => n !== 'tlb-invalidated'));
      if (!c.stale) expect([...withTlb.names].sort()).toEqual([...others].sort());
      else {
        const gained = [...withTlb.names].filter((n) => !others.has(n));
        expect(gained, 'what only the IOTLB shows').toContain('dma-isolation');
        expect(withTlb.json.violations.find((v) => v.invariant === 'dma-isolation')!.message).toMatch(/IOTLB/);
      }
    });
});
