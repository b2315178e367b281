/**
 * vmemmap-cmpxchg: lock-free DMA paths (one compare-and-swap per page) on the vmemmap page
 * state. Sequentially the design keeps every invariant; with two CPUs a donation's check and
 * update, under the page-table locks, no longer exclude the lock-free DMA path: host_state is
 * declared unlocked, so every access of it is an interleaving point.
 */
import { describe, expect, it } from 'vitest';
import { check, replayPath } from '../../checker/index.ts';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_OWNED } from '../../model/constants.ts';
import { PackedPkvmModel } from '../../model/system.ts';
import { VMEMMAP_CMPXCHG } from '../../model/variants/vmemmap-cmpxchg.ts';

const search = (over: Partial<PkvmConfig>, depth?: number) => {
  const config = { ...DEFAULT_CONFIG, ...over };
  const m = new PackedPkvmModel(config, VMEMMAP_CMPXCHG);
  return { m, r: check(m, selectProperties(config, undefined, VMEMMAP_CMPXCHG, (b: Uint8Array) => m.read(b)), { maxDepth: depth }) };
};

describe('vmemmap-cmpxchg', () => {
  for (const host of ['driver', 'iommu'] as const)
    it(`one CPU, host ${host}: every invariant holds, exhaustively`, () => {
      const { r } = search({ host });
      expect(r.status).toBe('ok');
      expect(r.exhausted).toBe(true);
      expect(r.stats.distinctStates).toBe(20384);
    });

  it('a DMA map takes the page OWNED -> SHARED_OWNED with its refcount in one step, holding no page-table lock', () => {
    const config = { ...DEFAULT_CONFIG, cpus: 2, guests: 0, domains: 1 };
    const m = new PackedPkvmModel(config, VMEMMAP_CMPXCHG);
    let s = m.initialStates()[0];
    const start = m.actions(s).find((a) => a.cpu === 1 && a.op === 'iommu_map' && a.args.pfn === 0 && a.args.npages === 1 && a.args.iova === 0)!;
    s = m.step(s, start).state;
    // the start takes iommu_lock and stops before the compare-and-swap (an atomic access, no lock)
    expect(m.read(s).ext('host_state', 0)).toBe(PKVM_PAGE_OWNED);
    expect(m.read(s).cpu(1).op).not.toBe(0);
    const r = m.stepWithFootprint(s, m.actions(s).find((a) => a.cpu === 1 && a.op === 'step')!);
    // the cmpxchg's step: no page-table lock taken (only iommu_lock, released at the end)
    expect(r.outcome.acquisitions.map((a) => a.lock)).toEqual([]);
    s = r.state;
    expect([0, 1, 2].map((id) => m.read(s).lockOwner(id))).toEqual([-1, -1, -1]);
    expect(m.read(s).ext('host_state', 0)).toBe(PKVM_PAGE_SHARED_OWNED);
    expect(m.read(s).refcount(0)).toBe(1);
    expect(m.read(s).ext('host_state', 1)).toBe(PKVM_PAGE_OWNED);
  });

  it('two CPUs: a donation to the hypervisor checks the page and annotates it, a lock-free DMA map takes it before the donation writes host_state (5 steps)', () => {
    const { m, r } = search({ cpus: 2, guests: 0, domains: 1 });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    const v = r.violations[0];
    expect(v.property).toBe('dma-isolation');
    expect(v.path.actions.length).toBe(5);
    expect(v.finding.message).toMatch(/reachable by DMA through domain 0 .* owned by the hypervisor/);
    const rep = replayPath(m, v.path);
    const steps = rep.steps.map((s) => `${s.action.cpu}:${s.action.op}`);
    expect(steps).toEqual(['0:__pkvm_host_donate_hyp', '0:step', '0:step', '1:iommu_map', '1:step']);
    // four steps are not enough
    expect(search({ cpus: 2, guests: 0, domains: 1 }, 4).r.status).toBe('ok');
  });
});
