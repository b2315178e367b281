/**
 * vmemmap-cmpxchg: the lock-free DMA paths JPB sketched in the seed's review thread. With the
 * host's page state in the hyp vmemmap (vmemmap-state), "the iommu_map() and unmap() path could
 * also be made a lot more scalable because they wouldn't need to take any page table locks when
 * updating page state, a cmpxchg may be sufficient".
 */
import { EINVAL, EPERM, PAGE_SIZE, PKVM_ID_HOST, PKVM_ID_HYP, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_OWNED } from '../constants.ts';
import { acquire, defineProgram, done, goto, pause } from '../concurrent/program.ts';
import { IOMMU_MAP_FIXED, IOMMU_UNMAP_FIXED } from '../concurrent/programs.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { PkvmMemDonation } from '../kernel/mem_protect.ts';
import { OPERATIONS_BY_NAME, type OperationSpec } from '../operations.ts';
import { defineVariant } from '../variant.ts';
import { decodeHostState, VMEMMAP_STATE } from './vmemmap-state.ts';

const HALF = PAGE_SIZE / 2;

/** The hypervisor of this variant, with the pieces it adds. */
type CHyp = Hyp & {
  hyp_page_dma_get(phys: number, is_ram: boolean): number;
  hyp_page_dma_put(phys: number): number;
};
const c = (h: Hyp) => h as CHyp;

/**
 * One cmpxchg on struct hyp_page (host_state and refcount in one word), taking a DMA
 * reference: OWNED with no reference becomes SHARED_OWNED with one; a page already counted must
 * be SHARED_OWNED and not borrowed by the hypervisor (the checks of __host_check_page_dma_shared,
 * made on the value read, with no lock).
 */
function dmaGet(h: Hyp, phys: number, is_ram: boolean): number {
  if (!h.addr_is_memory(phys)) return is_ram ? -EINVAL : 0;
  if (!is_ram) return -EINVAL;
  const pfn = h.hyp_phys_to_pfn(phys);
  const state = decodeHostState(h.mem.ext('host_state', pfn));
  const rc = h.mem.refcount(pfn);
  if (rc === 0) {
    if (state !== PKVM_PAGE_OWNED) return -EPERM;
    h.branch('hyp_page_dma_get: first reference, OWNED -> SHARED_OWNED');
    h.mem.setExt('host_state', pfn, PKVM_PAGE_SHARED_OWNED);
  } else {
    if (state !== PKVM_PAGE_SHARED_OWNED || h.mem.hypPte(pfn) !== null) return -EPERM;
    h.branch('hyp_page_dma_get: already counted');
  }
  h.mem.setRefcount(pfn, rc + 1);
  return 0;
}

/** One cmpxchg dropping a DMA reference: the last one turns the page back to OWNED. */
function dmaPut(h: Hyp, phys: number): number {
  if (!h.addr_is_memory(phys)) return 0;
  const pfn = h.hyp_phys_to_pfn(phys);
  const rc = h.mem.refcount(pfn);
  if (h.BUG_ON(rc === 0, 'hyp_page_dma_put', () => `refcount of pfn ${pfn} underflows`)) return 0;
  h.mem.setRefcount(pfn, rc - 1);
  if (rc === 1) {
    h.branch('hyp_page_dma_put: last reference, SHARED_OWNED -> OWNED');
    h.mem.setExt('host_state', pfn, PKVM_PAGE_OWNED);
  }
  return 0;
}

/** __pkvm_host_share_dma without page-table locks: one cmpxchg per page, each a step of its own. */
const SHARE_DMA_CMPXCHG = defineProgram({
  name: '__pkvm_host_share_dma',
  params: ['phys', 'halves', 'is_ram'],
  locals: ['n', 'i', 'ret'],
  entry: 'entry',
  spells: ['hyp_page_dma_get', 'hyp_page_dma_put'],
  fallback: (h, l) => h.__pkvm_host_share_dma(h.hyp_pfn_to_phys(l.phys), l.halves * HALF, l.is_ram !== 0),
  steps: {
    entry(h, l) {
      const size = l.halves * HALF;
      if (!h.PAGE_ALIGNED(h.hyp_pfn_to_phys(l.phys)) || !h.PAGE_ALIGNED(size) || size === 0) return done(-EINVAL);
      l.n = size / PAGE_SIZE;
      return goto('page');
    },
    page(h, l) {
      if (l.i >= l.n) return done(0);
      l.ret = c(h).hyp_page_dma_get(h.hyp_pfn_to_phys(l.phys + l.i), l.is_ram !== 0);
      if (l.ret || h.fatal) return goto('rollback');
      l.i += 1;
      return pause('page');
    },
    rollback(h, l) {
      l.i -= 1;
      if (l.i < 0 || h.fatal) return done(l.ret);
      c(h).hyp_page_dma_put(h.hyp_pfn_to_phys(l.phys + l.i));
      return pause('rollback');
    },
  },
});

/** __pkvm_host_unshare_dma without page-table locks: one cmpxchg per page. */
const UNSHARE_DMA_CMPXCHG = defineProgram({
  name: '__pkvm_host_unshare_dma',
  params: ['phys', 'halves'],
  locals: ['n', 'i'],
  entry: 'entry',
  spells: ['hyp_page_dma_put'],
  fallback: (h, l) => h.__pkvm_host_unshare_dma(h.hyp_pfn_to_phys(l.phys), l.halves * HALF),
  steps: {
    entry(h, l) {
      const size = l.halves * HALF;
      if (!h.PAGE_ALIGNED(h.hyp_pfn_to_phys(l.phys)) || !h.PAGE_ALIGNED(size) || size === 0) return done(-EINVAL);
      l.n = size / PAGE_SIZE;
      return goto('page');
    },
    page(h, l) {
      if (l.i >= l.n || h.fatal) return done(0);
      c(h).hyp_page_dma_put(h.hyp_pfn_to_phys(l.phys + l.i));
      l.i += 1;
      return pause('page');
    },
  },
});

const donationOf = (h: Hyp, pfn: number, nr_pages: number): PkvmMemDonation => {
  const phys = h.hyp_pfn_to_phys(pfn);
  return { tx: { nr_pages, initiator: { id: PKVM_ID_HOST, addr: phys, completer_addr: phys }, completer: { id: PKVM_ID_HYP } } };
};

/**
 * __pkvm_host_donate_hyp as the kernel runs it: under host_mmu.lock and pkvm_pgd_lock,
 * check_donation() reads the page states, then __do_donate() writes them. The locks keep every
 * locked path out of that window, not a lock-free one.
 */
const DONATE_HYP = defineProgram({
  name: '__pkvm_host_donate_hyp',
  params: ['pfn', 'nr_pages'],
  locals: ['ret'],
  entry: 'entry',
  spells: ['__pkvm_host_donate_hyp', 'do_donate', 'check_donation', '__do_donate'],
  locks: ['host_mmu.lock', 'pkvm_pgd_lock'],
  fallback: (h, l) => h.__pkvm_host_donate_hyp(l.pfn, l.nr_pages),
  steps: {
    entry: () => acquire('host_mmu.lock', 'hyp'),
    hyp: () => acquire('pkvm_pgd_lock', 'check'),
    check(h, l) {
      l.ret = h.check_donation(donationOf(h, l.pfn, l.nr_pages));
      return l.ret ? goto('unlock') : pause('update');
    },
    update(h, l) {
      const d = h.__do_donate(donationOf(h, l.pfn, l.nr_pages));
      l.ret = h.WARN_ON(d !== 0, 'do_donate', () => `__do_donate failed (${d}) after check_donation passed`) ? 1 : 0;
      return goto('unlock');
    },
    unlock(h, l) {
      h.hyp_unlock_component();
      h.host_unlock_component();
      return done(l.ret);
    },
  },
});

const donateHyp = OPERATIONS_BY_NAME.get('__pkvm_host_donate_hyp')!;
const DONATE_HYP_OP: OperationSpec = { ...donateHyp, program: (a) => ({ name: '__pkvm_host_donate_hyp', args: [Number(a.pfn), Number(a.nr_pages)] }) };

export const VMEMMAP_CMPXCHG = defineVariant({
  name: 'vmemmap-cmpxchg',
  base: VMEMMAP_STATE,
  description:
    "The lock-free DMA paths Jean-Philippe Brucker sketched in the seed's review thread (10 Feb 2023): with the host's page state in the hyp vmemmap (vmemmap-state), 'the iommu_map() and unmap() path could also be made a lot more scalable because they wouldn't need to take any page table locks when updating page state, a cmpxchg may be sufficient'. __pkvm_host_share_dma and __pkvm_host_unshare_dma take neither host_mmu.lock nor pkvm_pgd_lock (iommu_lock still serialises the IOMMU hypercalls): each page's host_state and hyp_page.refcount change together in one compare-and-swap, one step per page. Every other host transition keeps its locks and checks the state, then updates it (check_donation, then __do_donate, as two steps with __pkvm_host_donate_hyp); the locks no longer keep the DMA path out of that window.",
  add: {
    /** One cmpxchg on hyp_page taking a DMA reference (see dmaGet). */
    hyp_page_dma_get(this: Hyp, phys: number, is_ram: boolean): number {
      return dmaGet(this, phys, is_ram);
    },
    /** One cmpxchg on hyp_page dropping a DMA reference. */
    hyp_page_dma_put(this: Hyp, phys: number): number {
      return dmaPut(this, phys);
    },
  },
  replace: {
    __pkvm_host_share_dma(this: Hyp, phys_addr: number, size: number, is_ram: boolean): number {
      if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
      const n = size / PAGE_SIZE;
      let i: number;
      let ret = 0;
      for (i = 0; i < n; i++) {
        ret = c(this).hyp_page_dma_get(phys_addr + i * PAGE_SIZE, is_ram);
        if (ret || this.fatal) break;
      }
      if (ret) for (--i; i >= 0 && !this.fatal; --i) c(this).hyp_page_dma_put(phys_addr + i * PAGE_SIZE);
      return ret;
    },
    __pkvm_host_unshare_dma(this: Hyp, phys_addr: number, size: number): number {
      if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
      for (let i = 0; i < size / PAGE_SIZE && !this.fatal; i++) c(this).hyp_page_dma_put(phys_addr + i * PAGE_SIZE);
      return 0;
    },
  },
  removeOperations: ['__pkvm_host_donate_hyp'],
  addOperations: [DONATE_HYP_OP],
  programs: {
    __pkvm_host_share_dma: SHARE_DMA_CMPXCHG,
    __pkvm_host_unshare_dma: UNSHARE_DMA_CMPXCHG,
    __pkvm_host_donate_hyp: DONATE_HYP,
    // rfc-v1-fixed's, under iommu_lock only: the share and unshare they call take no other lock
    kvm_iommu_map_pages: defineProgram({ ...IOMMU_MAP_FIXED, locks: ['iommu_lock'] }),
    kvm_iommu_unmap_pages: defineProgram({ ...IOMMU_UNMAP_FIXED, locks: ['iommu_lock'] }),
  },
});
