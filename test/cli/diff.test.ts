/**
 * `diff A B`: a variant agrees with itself; the seed against each redesign diverges after the
 * number of steps measured, on the call and in the way measured; a redesign against the design it
 * starts from. Default bounds and the driver host unless said; small depths, so the file runs in
 * seconds.
 */
import { describe, expect, it } from 'vitest';
import { runCli as run } from '../run-cli.ts';

interface DiffJson {
  result: 'agree' | 'diverge';
  a: string;
  b: string;
  stats: { distinctStates: number; depth: number; exhausted: boolean; cutBy: string | null };
  divergence?: { message: string; length: number; steps: { call: string; a: string; b: string }[]; trace: string | null };
}

async function diff(a: string, b: string, ...flags: string[]): Promise<{ code: number; j: DiffJson }> {
  const r = await run(['diff', a, b, '--quiet', '--json', '--no-trace', ...flags]);
  return { code: r.code, j: JSON.parse(r.out) as DiffJson };
}

describe('a variant against itself agrees (exit 0)', () => {
  for (const [variant, depth] of [
    ['rfc-v1', 3],
    ['rfc-v1-u62', 3],
    ['vmemmap-state', 3],
    ['rfc-v2-use-dma', 3],
    ['donate-keeps-host-mapping', 3],
  ] as const) {
    it(`${variant}, depth ${depth}: agree, cut by the depth bound`, async () => {
      const { code, j } = await diff(variant, variant, '--depth', String(depth));
      expect(code).toBe(0);
      expect(j.result).toBe('agree');
      expect(j.divergence).toBeUndefined();
      expect(j.stats.exhausted).toBe(false);
      expect(j.stats.cutBy).toBe('depth');
      expect(j.stats.depth).toBe(depth);
    });
  }

  it('smmu-s2-shadow: agree, exhausted (576 state pairs at depth 7, iommu host)', async () => {
    const { code, j } = await diff('smmu-s2-shadow', 'smmu-s2-shadow', '--host', 'iommu');
    expect(code).toBe(0);
    expect(j.result).toBe('agree');
    expect(j.stats.exhausted).toBe(true);
    expect(j.stats.distinctStates).toBe(576);
    expect(j.stats.depth).toBe(7);
  });

  it('the text says AGREE', async () => {
    const r = await run(['diff', 'rfc-v1-fixed', 'rfc-v1-fixed', '--quiet', '--no-trace', '--depth', '2']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/AGREE within the bounds \(not exhausted: the depth bound cut the search\)/);
  });
});

/** The seed's base bug (fixed upstream by 985bb51f17ab) is the first difference of most redesigns. */
const BASE_BUG = ['__pkvm_host_share_guest(pfn=0, gfn=0, vm=0)', '__pkvm_host_unshare_hyp(pfn=0)'];

describe('the seed against each redesign: the shortest divergence (exit 1)', () => {
  const CASES: { b: string; length: number; calls: string[]; message: RegExp }[] = [
    { b: 'rfc-v1-base-fix', length: 2, calls: BASE_BUG, message: /^__pkvm_host_unshare_hyp\(pfn=0\) returns 1 on rfc-v1 but -EPERM on rfc-v1-base-fix$/ },
    { b: 'rfc-v1-fixed', length: 2, calls: BASE_BUG, message: /^__pkvm_host_unshare_hyp\(pfn=0\) returns 1 on rfc-v1 but -EPERM on rfc-v1-fixed$/ },
    {
      b: 'rfc-v1-u62',
      length: 2,
      calls: ['__pkvm_host_donate_hyp(pfn=0, nr_pages=1)', 'host_access(pfn=0)'],
      message: /^host_access\(pfn=0\) fails with \[nothing\] on rfc-v1 but \[BUG_ON in handle_host_mem_abort\] on rfc-v1-u62$/,
    },
    { b: 'vmemmap-state', length: 2, calls: BASE_BUG, message: /^__pkvm_host_unshare_hyp\(pfn=0\) returns 1 on rfc-v1 but -EPERM on vmemmap-state$/ },
    {
      b: 'rfc-v2-use-dma',
      length: 1,
      calls: ['iommu_map(domain=0, iova=0x0, pfn=2, npages=1)'],
      message: /^iommu_map\(domain=0, iova=0x0, pfn=2, npages=1\) returns 0 on rfc-v1 but -EPERM on rfc-v2-use-dma$/,
    },
    { b: 'smmu-s2-shadow', length: 2, calls: BASE_BUG, message: /^__pkvm_host_unshare_hyp\(pfn=0\) returns 1 on rfc-v1 but -EPERM on smmu-s2-shadow$/ },
  ];
  for (const c of CASES) {
    it(`rfc-v1 vs ${c.b}: ${c.length} step(s)`, async () => {
      const { code, j } = await diff('rfc-v1', c.b, '--depth', '3');
      expect(code).toBe(1);
      expect(j.result).toBe('diverge');
      expect(j.divergence!.length).toBe(c.length);
      expect(j.divergence!.steps.map((s) => s.call)).toEqual(c.calls);
      expect(j.divergence!.message).toMatch(c.message);
    });
  }

  it('the steps show both sides; the text says DIVERGE after N step(s)', async () => {
    const { j } = await diff('rfc-v1', 'rfc-v1-base-fix', '--depth', '3');
    expect(j.divergence!.steps).toEqual([
      { call: BASE_BUG[0], a: '0', b: '0' },
      { call: BASE_BUG[1], a: '1', b: '-EPERM' },
    ]);
    const r = await run(['diff', 'rfc-v1', 'rfc-v1-u62', '--quiet', '--no-trace', '--depth', '3']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/DIVERGE after 2 step\(s\):/);
    expect(r.out).toMatch(/2\. host_access\(pfn=0\) +rfc-v1: -EPERM +rfc-v1-u62: -EPERM/);
  });

  it('a variant with state extensions is read with its own layout: packed and readable engines find the same divergence', async () => {
    // regression: the packed engine used to read vmemmap-state's states with rfc-v1's layout and
    // report a false divergence after 1 step ("owned by host+hyp")
    const packed = await diff('rfc-v1', 'vmemmap-state', '--depth', '3', '--engine', 'packed');
    const readable = await diff('rfc-v1', 'vmemmap-state', '--depth', '3', '--engine', 'readable');
    expect(packed.j.divergence).toEqual(readable.j.divergence);
    expect(packed.j.divergence!.length).toBe(2);
  });
});

describe('a redesign against the design it starts from', () => {
  it('rfc-v1-fixed vs vmemmap-state, driver host, depth 6: agree (10,269 state pairs; exhaustive, 13,196, in a few seconds more)', async () => {
    const { code, j } = await diff('rfc-v1-fixed', 'vmemmap-state', '--depth', '6');
    expect(code).toBe(0);
    expect(j.result).toBe('agree');
    expect(j.stats.distinctStates).toBe(10269);
  });

  it('rfc-v1-fixed vs vmemmap-state, iommu host: an MMIO pfn gives -EINVAL instead of -EPERM (1 step)', async () => {
    const { code, j } = await diff('rfc-v1-fixed', 'vmemmap-state', '--host', 'iommu', '--depth', '2');
    expect(code).toBe(1);
    expect(j.divergence!.length).toBe(1);
    expect(j.divergence!.message).toBe('__pkvm_host_unshare_hyp(pfn=2) returns -EPERM on rfc-v1-fixed but -EINVAL on vmemmap-state');
  });

  it('rfc-v1-fixed vs rfc-v2-use-dma: use_dma refuses MMIO (1 step)', async () => {
    const { code, j } = await diff('rfc-v1-fixed', 'rfc-v2-use-dma', '--depth', '2');
    expect(code).toBe(1);
    expect(j.divergence!.message).toBe('iommu_map(domain=0, iova=0x0, pfn=2, npages=1) returns 0 on rfc-v1-fixed but -EPERM on rfc-v2-use-dma');
  });

  it('rfc-v1-fixed vs smmu-s2-shadow: only the operations both have are explored, so the shadow is never initialised and they agree', async () => {
    const { code, j } = await diff('rfc-v1-fixed', 'smmu-s2-shadow', '--depth', '4');
    expect(code).toBe(0);
    expect(j.result).toBe('agree');
  });

  it('smmu-s2-shadow vs smmu-shadow-v4-init-flag: a donated page stays device-reachable (2 steps)', async () => {
    const { code, j } = await diff('smmu-s2-shadow', 'smmu-shadow-v4-init-flag', '--depth', '3');
    expect(code).toBe(1);
    expect(j.divergence!.steps.map((s) => s.call)).toEqual(['kvm_iommu_init_idmap()', '__pkvm_host_donate_hyp(pfn=0, nr_pages=1)']);
    expect(j.divergence!.message).toBe(
      'after __pkvm_host_donate_hyp(pfn=0, nr_pages=1), page 0 is owned by hyp on smmu-s2-shadow but owned by hyp, device-reachable on smmu-shadow-v4-init-flag',
    );
  });
});
