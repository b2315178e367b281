/**
 * The three mutants of rfc-v1-fixed added with the design variants: the invariant that catches
 * each one and its shortest trace, with the untrusted host of the IOMMU hypercalls (and the
 * driver where it differs), at the default bounds.
 */
import { describe, expect, it } from 'vitest';
import { builtinVariant } from '../../model/variants/index.ts';
import { makeModel, messageOf, traceOf, verdict } from './util.ts';

interface Case {
  variant: string;
  host: 'iommu' | 'driver';
  invariant: string;
  length: number;
  message: RegExp;
  trace: string[];
}

const CASES: Case[] = [
  {
    variant: 'share-dma-rollback-includes-failed-page',
    host: 'iommu',
    invariant: 'no-bug',
    length: 1,
    message: /BUG_ON in hyp_page_ref_dec_and_test: hyp_page.refcount of pfn 0 underflows/,
    trace: ['kvm_iommu_map_pages(domain=0, iova=0x0, paddr=0x80000000, pgsize=0x1000, pgcount=1, prot=IOMMU_READ|IOMMU_WRITE|IOMMU_MMIO)'],
  },
  {
    variant: 'share-dma-rollback-includes-failed-page',
    host: 'driver',
    invariant: 'no-bug',
    length: 2,
    message: /BUG_ON in hyp_page_ref_dec_and_test/,
    trace: ['__pkvm_host_share_hyp(pfn=0)', 'iommu_map(domain=0, iova=0x0, pfn=0, npages=1)'],
  },
  {
    variant: 'unshare-dma-page-inverted-test',
    host: 'iommu',
    invariant: 'single-owner',
    length: 1,
    message: /page 1 .* is PKVM_PAGE_SHARED_OWNED by host but nobody borrows it and no device maps it/,
    trace: ['kvm_iommu_map_pages(domain=0, iova=0x0, paddr=0x80001000, pgsize=0x1000, pgcount=2, prot=IOMMU_READ|IOMMU_WRITE)'],
  },
  {
    variant: 'unshare-dma-page-inverted-test',
    host: 'driver',
    invariant: 'single-owner',
    length: 2,
    message: /PKVM_PAGE_SHARED_OWNED by host but nobody borrows it/,
    trace: ['__pkvm_host_share_hyp(pfn=1)', 'iommu_map(domain=0, iova=0x0, pfn=0, npages=2)'],
  },
  {
    variant: 'ack-unshare-no-pin-check',
    host: 'iommu',
    invariant: 'no-warn',
    length: 5,
    message: /WARN_ON in hyp_set_page_refcounted: refcount of pfn 0 is 1, not 0/,
    trace: ['__pkvm_host_share_hyp(pfn=0)', 'hyp_pin_shared_mem(pfn=0)', '__pkvm_host_unshare_hyp(pfn=0)', '__pkvm_host_donate_hyp(pfn=0, nr_pages=1)', 'hyp_alloc_page(pfn=0)'],
  },
  {
    variant: 'ack-unshare-no-pin-check',
    host: 'iommu',
    invariant: 'dma-isolation',
    length: 5,
    message: /page 0 .* reachable by DMA through domain 0 at IOVA 0x0 but is mapped by guest 0/,
    trace: [
      '__pkvm_host_share_hyp(pfn=0)',
      'hyp_pin_shared_mem(pfn=0)',
      '__pkvm_host_unshare_hyp(pfn=0)',
      '__pkvm_host_share_guest(pfn=0, gfn=0, vm=0)',
      'kvm_iommu_map_pages(domain=0, iova=0x0, paddr=0x80000000, pgsize=0x1000, pgcount=1, prot=IOMMU_READ|IOMMU_WRITE)',
    ],
  },
];

describe('new mutants of rfc-v1-fixed: what catches them', () => {
  for (const c of CASES)
    it(`${c.variant}, host ${c.host}: ${c.invariant} in ${c.length} step(s)`, () => {
      const v = builtinVariant(c.variant)!;
      expect(v).toBeDefined();
      expect(v.base).toBe('rfc-v1-fixed');
      const r = verdict(v, { host: c.host }, c.length, [c.invariant]);
      expect(r.status).toBe('violation');
      expect(r.status === 'violation' && r.violations[0].path.actions.length).toBe(c.length);
      expect(messageOf(r, c.invariant)).toMatch(c.message);
      expect(traceOf(makeModel(v, { host: c.host }), r, c.invariant)).toEqual(c.trace);
      if (c.length > 1) expect(verdict(v, { host: c.host }, c.length - 1, [c.invariant]).status).toBe('ok');
    });
});
