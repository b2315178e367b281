/**
 * rfc-v2-use-dma: DMA-mapped pages stay host OWNED; the refcount alone freezes them.
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, EPERM } from '../../model/constants.ts';
import { pkvmProperties } from '../../invariants/index.ts';
import { RFC_V2_USE_DMA } from '../../model/variants/index.ts';
import { makeModel, reader, run, shortest, step, verdict } from './util.ts';

describe('rfc-v2-use-dma: behaviour', () => {
  it('a mapped page stays host OWNED (zero host stage-2 entry) with refcount 1, and every host owned transition refuses it until the unmap', () => {
    const m = makeModel(RFC_V2_USE_DMA);
    const [mapped] = run(m, [['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 1 }]]);
    expect(mapped.ret).toBe(0);
    const r = reader(m, mapped.state);
    expect(r.hostPte(0)).toEqual({ kind: 'zero' });
    expect(r.refcount(0)).toBe(1);
    for (const [op, args] of [
      ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }],
      ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 2 }],
      ['__pkvm_host_share_hyp', { pfn: 0 }],
      ['__pkvm_host_donate_guest', { pfn: 0, gfn: 0, vm: 0 }],
      ['__pkvm_host_share_guest', { pfn: 0, gfn: 0, vm: 0 }],
    ] as const) {
      const x = step(m, mapped.state, op, args);
      expect([op, x.ret]).toEqual([op, -EINVAL]);
      expect(x.state).toEqual(mapped.state);
    }
    const [unmapped, donated] = run(m, [['iommu_unmap', { domain: 0, iova: 0, npages: 1 }], ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }]], mapped.state);
    expect(unmapped.ret).toBe(0);
    expect(reader(m, unmapped.state).refcount(0)).toBe(0);
    expect(donated.ret).toBe(0);
  });

  it('the invariants accept a host-OWNED page that a device maps (DMA is the host\'s own access)', () => {
    const m = makeModel(RFC_V2_USE_DMA);
    const [mapped] = run(m, [['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 2 }]]);
    for (const p of pkvmProperties(m.config, RFC_V2_USE_DMA)) if (p.kind === 'state') expect([p.name, p.check(mapped.state)]).toEqual([p.name, null]);
  });

  it('as posted, use_dma refuses MMIO: host_get_page_state() reads it as PKVM_NOPAGE, so the not-counted MMIO branch is dead', () => {
    const m = makeModel(RFC_V2_USE_DMA, { mmioBacked: 1 });
    const [r] = run(m, [['iommu_map', { domain: 0, iova: 0, pfn: 2, npages: 1 }]]);
    expect(r.ret).toBe(-EPERM);
    expect(r.state).toEqual(m.initialStates()[0]);
  });
});

describe('rfc-v2-use-dma: verdict', () => {
  for (const host of ['driver', 'iommu'] as const)
    it(`host ${host}, default bounds: exhaustive, every invariant holds`, () => {
      const r = verdict(RFC_V2_USE_DMA, { host }, 12);
      expect(r.status).toBe('ok');
      expect(shortest(r)).toEqual({});
      expect(r.exhausted).toBe(true);
      expect(r.stats.distinctStates).toBe(5376);
      expect(r.stats.depth).toBe(10);
    });
});
