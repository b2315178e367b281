/**
 * The seed's documented edge cases (domain.md §7) reached through the RFC v1 IOMMU hypercalls,
 * with the untrusted 'iommu' host: kvm_iommu_map_pages / kvm_iommu_unmap_pages with any arguments.
 */
import { describe, expect, it } from 'vitest';
import {
  IOMMU_MMIO,
  IOMMU_READ,
  IOMMU_WRITE,
  IOPT_BLOCK_SIZE,
  PAGE_SIZE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_OWNED,
  RET_UNINITIALISED,
} from '../../model/constants.ts';
import { refcountMax } from '../../model/config.ts';
import { deviceTranslate, softwareTranslate } from '../../model/views.ts';
import { pkvmProperties } from '../../invariants/index.ts';
import { apply, build, failureKinds, findAction, initial, makeModel, refcount, valid } from './helpers.ts';

const RW = IOMMU_READ | IOMMU_WRITE;
const map = (domain: number, slot: number, pfn: number, pgsize = PAGE_SIZE, pgcount = 1, prot = RW) =>
  ['kvm_iommu_map_pages', { domain, iova: slot * PAGE_SIZE, paddr: pfn, pgsize, pgcount, prot }] as const;

describe('seed edge cases through the IOMMU hypercalls (host: iommu)', () => {
  it('kvm_iommu_map_pages with pgsize 0: share_dma(paddr, 0) reads its uninitialised ret', () => {
    const model = makeModel({ host: 'iommu' });
    const s0 = initial(model);
    for (const prot of [RW, RW | IOMMU_MMIO]) {
      const [op, args] = map(0, 0, 0, 0, 1, prot);
      expect(findAction(model, s0, op, args)).toBeDefined();
      const r = apply(model, s0, op, args);
      // the alignment check lets pgsize 0 through; size = 0 pages, so the share loop never assigns ret
      expect(r.outcome.failures.map((f) => [f.kind, f.where])).toEqual([['uninitialised', '__pkvm_host_share_dma']]);
      expect(r.ret).toBe(RET_UNINITIALISED);
      expect(r.state.panic).toBeNull();
      expect(r.state).toEqual(s0);
    }
  });

  it('mapping an unbacked MMIO page without IOMMU_MMIO faults on its vmemmap entry and stops the hypervisor', () => {
    const model = makeModel({ host: 'iommu', ramPages: 2, mmioPages: 1, mmioBacked: 0 });
    const s0 = initial(model);
    const mmio = 2;
    const r = apply(model, s0, ...map(0, 0, mmio));
    expect(failureKinds(r.outcome.failures)).toEqual(['vmemmap-fault']);
    expect(r.outcome.failures[0].where).toBe('hyp_page_ref_inc_return');
    expect(r.state.panic?.kind).toBe('vmemmap-fault');
    expect(model.actions(r.state)).toHaveLength(0);
    // nothing was mapped before the fault
    expect(softwareTranslate(model.read(r.state), 0, 0)).toBeNull();

    // with IOMMU_MMIO the page is taken unchecked and uncounted: mapped, host stage-2 untouched
    const ok = apply(model, s0, ...map(0, 0, mmio, PAGE_SIZE, 1, RW | IOMMU_MMIO));
    expect(ok.ret).toBe(0);
    expect(ok.outcome.failures).toEqual([]);
    expect(deviceTranslate(model.read(ok.state), 0, 0)).toBe(mmio);
    expect(ok.state.hostS2[mmio]).toEqual(s0.hostS2[mmio]);
    expect(ok.state.vmemmap[mmio]).toBeNull();
  });

  it('a backed MMIO page without IOMMU_MMIO is refused (-EINVAL from range_is_memory), refcount restored', () => {
    const model = makeModel({ host: 'iommu', ramPages: 2, mmioPages: 1, mmioBacked: 1 });
    const s0 = initial(model);
    const r = apply(model, s0, ...map(0, 0, 2));
    expect(r.ret).toBe(-22);
    expect(r.outcome.failures).toEqual([]);
    expect(r.state).toEqual(s0);
  });

  it('with refcountBits 2 the second mapping of the same RAM page overflows the refcount (BUG_ON)', () => {
    const model = makeModel({ host: 'iommu', refcountBits: 2, domains: 2 });
    expect(refcountMax(model.config)).toBe(1);
    const s1 = build(model, [map(0, 0, 0)]);
    expect(refcount(s1, 0)).toBe(1);
    expect(s1.hostS2[0]).toEqual(valid(PKVM_PAGE_SHARED_OWNED));
    const r = apply(model, s1, ...map(1, 0, 0));
    expect(failureKinds(r.outcome.failures)).toEqual(['BUG_ON']);
    expect(r.outcome.failures[0].where).toBe('hyp_page_ref_inc_return');
    expect(r.state.panic?.kind).toBe('BUG_ON');
    expect(model.actions(r.state)).toHaveLength(0);

    // the same second mapping fits in 16 bits
    const wide = makeModel({ host: 'iommu', refcountBits: 16, domains: 2 });
    const w = build(wide, [map(0, 0, 0), map(1, 0, 0)]);
    expect(refcount(w, 0)).toBe(2);
  });

  it('a 2-page block unmap over two 1-page leaves unshares [paddr, paddr+2 pages), not the pages the leaves map', () => {
    // domain 0: IOVA 0 -> page 0, IOVA 1 -> page 2 (two page leaves under one table); domain 1: IOVA 0 -> page 1
    const model = makeModel({ host: 'iommu', ramPages: 3, mmioPages: 0, domains: 2, iovas: 2, maxRange: 2 });
    const s = build(model, [map(0, 0, 0), map(0, 1, 2), map(1, 0, 1)]);
    expect([0, 1, 2].map((p) => refcount(s, p))).toEqual([1, 1, 1]);
    expect(s.iommu[0].pgd[0]).toEqual({ type: 'table', ptes: [0, 2] });

    const r = apply(model, s, 'kvm_iommu_unmap_pages', { domain: 0, iova: 0, pgsize: IOPT_BLOCK_SIZE, pgcount: 1 });
    expect(r.ret).toBe(0);
    expect(r.outcome.failures).toEqual([]);
    // the whole table went (both leaves unmapped) ...
    expect(r.state.iommu[0].pgd[0]).toBeNull();
    // ... but __pkvm_host_unshare_dma(paddr of IOVA 0, 2 pages) dropped pages 0 and 1:
    expect([0, 1, 2].map((p) => refcount(r.state, p))).toEqual([0, 0, 1]);
    expect(r.state.hostS2[0]).toEqual(valid(PKVM_PAGE_OWNED));
    // page 1 is host OWNED again although domain 1 still maps it ...
    expect(r.state.hostS2[1]).toEqual(valid(PKVM_PAGE_OWNED));
    expect(deviceTranslate(model.read(r.state), 1, 0)).toBe(1);
    // ... and page 2's reference leaks: SHARED_OWNED with rc 1 and no mapping left
    expect(r.state.hostS2[2]).toEqual(valid(PKVM_PAGE_SHARED_OWNED));
    expect([0, 1].map((d) => [0, 1].map((slot) => deviceTranslate(model.read(r.state), d, slot)))).toEqual([
      [null, null],
      [1, null],
    ]);

    // The refcount-accounting invariant reports it.
    const accounting = pkvmProperties(model.config).find((p) => p.name === 'refcount-accounting');
    expect(accounting?.kind).toBe('state');
    if (accounting?.kind === 'state') {
      expect(accounting.check(s)).toBeNull();
      expect(accounting.check(r.state)?.message).toMatch(/page 1 .*refcount 0, expected 1/);
    }
  });

  it('the same block unmap over leaves of two contiguous pages happens to unshare the right pages', () => {
    const model = makeModel({ host: 'iommu', ramPages: 2, mmioPages: 0, domains: 1, iovas: 2, maxRange: 2 });
    const s = build(model, [map(0, 0, 0), map(0, 1, 1)]);
    const r = apply(model, s, 'kvm_iommu_unmap_pages', { domain: 0, iova: 0, pgsize: IOPT_BLOCK_SIZE, pgcount: 1 });
    expect(r.ret).toBe(0);
    expect([0, 1].map((p) => refcount(r.state, p))).toEqual([0, 0]);
    expect([0, 1].map((p) => r.state.hostS2[p])).toEqual([valid(PKVM_PAGE_OWNED), valid(PKVM_PAGE_OWNED)]);
  });
});
