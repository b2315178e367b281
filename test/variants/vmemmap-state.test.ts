/**
 * vmemmap-state: the host state lives in hyp_page.host_state. The DMA paths and the donations
 * write it, the host stage-2 keeps only default mappings and donation annotations, and the
 * invariants read the state through the variant's hostState view.
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, EPERM, PKVM_ID_HYP, PKVM_NOPAGE, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_OWNED, type PageState } from '../../model/constants.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import { defineVariant } from '../../model/variant.ts';
import { pageViews } from '../../model/views.ts';
import { VMEMMAP_STATE } from '../../model/variants/index.ts';
import { HOST_STATE_NOPAGE } from '../../model/variants/vmemmap-state.ts';
import { makeModel, messageOf, reader, run, shortest, verdict } from './util.ts';

describe('vmemmap-state: behaviour', () => {
  it('an IOMMU map marks the page SHARED_OWNED in the vmemmap, not in the host stage-2; the unmap undoes it', () => {
    const m = makeModel(VMEMMAP_STATE);
    const [mapped, unmapped] = run(m, [
      ['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 1 }],
      ['iommu_unmap', { domain: 0, iova: 0, npages: 1 }],
    ]);
    expect(mapped.ret).toBe(0);
    const r = reader(m, mapped.state);
    expect(r.ext('host_state', 0)).toBe(PKVM_PAGE_SHARED_OWNED);
    expect(r.hostPte(0)).toEqual({ kind: 'valid', state: PKVM_PAGE_OWNED }); // a plain default mapping
    expect(r.refcount(0)).toBe(1);
    expect(pageViews(r, VMEMMAP_STATE.views)[0].host).toBe(PKVM_PAGE_SHARED_OWNED);
    expect(unmapped.ret).toBe(0);
    expect(reader(m, unmapped.state).ext('host_state', 0)).toBe(PKVM_PAGE_OWNED);
    expect(reader(m, unmapped.state).refcount(0)).toBe(0);
  });

  it('a donation annotates the host stage-2 as before and sets the vmemmap state to NOPAGE; a DMA-mapped page cannot be donated', () => {
    const m = makeModel(VMEMMAP_STATE);
    const [donated] = run(m, [['__pkvm_host_donate_hyp', { pfn: 1, nr_pages: 1 }]]);
    const r = reader(m, donated.state);
    expect(r.hostPte(1)).toEqual({ kind: 'annot', owner: PKVM_ID_HYP });
    expect(r.ext('host_state', 1)).toBe(HOST_STATE_NOPAGE);
    expect(pageViews(r, VMEMMAP_STATE.views)[1].host).toBe(PKVM_NOPAGE);
    const [, refused] = run(m, [
      ['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 1 }],
      ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }],
    ]);
    expect(refused.ret).toBe(-EPERM);
  });

  it('MMIO has no vmemmap state: the initial state is NOPAGE and host transitions on it fail with -EINVAL', () => {
    const m = makeModel(VMEMMAP_STATE, { host: 'iommu', mmioBacked: 1 });
    const s0 = m.initialStates()[0];
    expect(reader(m, s0).ext('host_state', 2)).toBe(HOST_STATE_NOPAGE);
    const [shared] = run(m, [['__pkvm_host_share_hyp', { pfn: 2 }]]);
    expect(shared.ret).toBe(-EINVAL);
  });
});

describe('vmemmap-state: verdict', () => {
  for (const host of ['driver', 'iommu'] as const)
    it(`host ${host}, default bounds: exhaustive, every invariant holds (the state space of rfc-v1-fixed)`, () => {
      const r = verdict(VMEMMAP_STATE, { host }, 12);
      expect(r.status).toBe('ok');
      expect(shortest(r)).toEqual({});
      expect(r.exhausted).toBe(true);
      expect(r.stats.distinctStates).toBe(13196);
      expect(r.stats.depth).toBe(10);
    });
});

/**
 * Upstream (v6.14+) installs the default host stage-2 mapping only when the page was NOPAGE, so a
 * shared page may keep a zero (lazily mapped) entry. host-s2-coherent reads a zero entry as "the
 * host owns it exclusively": that rule, not the design, is what this lazy version breaks.
 */
const LAZY = defineVariant({
  name: 'vmemmap-state-lazy-map',
  base: VMEMMAP_STATE,
  description: 'vmemmap-state with upstream __host_set_page_state_range: host_stage2_idmap_locked() only if the page was PKVM_NOPAGE.',
  replace: {
    __host_set_page_state_range(this: Hyp, addr: number, size: number, state: 0 | 1 | 2): number {
      const h = this as Hyp & { get_host_state(p: number): PageState; __host_update_page_state(p: number, n: number, st: PageState): void };
      if (h.get_host_state(addr) === PKVM_NOPAGE) {
        const ret = this.host_stage2_idmap_locked(addr, size, PKVM_PAGE_OWNED);
        if (ret) return ret;
      }
      h.__host_update_page_state(addr, size, state);
      return 0;
    },
  },
});

describe('vmemmap-state with upstream lazy mapping', () => {
  it('host driver, default bounds: exhaustive, every invariant holds (a zero host entry is read with the vmemmap state)', () => {
    const r = verdict(LAZY, { host: 'driver' }, 20);
    expect(r.status).toBe('ok');
    expect(r.exhausted).toBe(true);
  });
});
