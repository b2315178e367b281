/**
 * vmemmap-cmpxchg: the lock-free DMA paths JPB sketched in the seed's review thread. With the
 * host's page state in the hyp vmemmap (vmemmap-state), "the iommu_map() and unmap() path could
 * also be made a lot more scalable because they wouldn't need to take any page table locks when
 * updating page state, a cmpxchg may be sufficient".
 */
import { EINVAL, EPERM, PAGE_SIZE, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_OWNED } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { defineVariant } from '../variant.ts';
import { decodeHostState, VMEMMAP_STATE } from './vmemmap-state.ts';

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
  return cmpxchg(h, h.hyp_phys_to_pfn(phys), dmaGetLocked);
}

/** One compare-and-swap on struct hyp_page: its reads and writes are one atomic access. */
function cmpxchg(h: Hyp, pfn: number, body: (h: Hyp, pfn: number) => number): number {
  h.mem.atomicBegin?.(`cmpxchg on hyp_page of pfn ${pfn}`);
  try {
    return body(h, pfn);
  } finally {
    h.mem.atomicEnd?.();
  }
}

/** The body of the cmpxchg: the value read and the value written. */
function dmaGetLocked(h: Hyp, pfn: number): number {
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
  return cmpxchg(h, h.hyp_phys_to_pfn(phys), dmaPutLocked);
}

function dmaPutLocked(h: Hyp, pfn: number): number {
  const rc = h.mem.refcount(pfn);
  if (h.BUG_ON(rc === 0, 'hyp_page_dma_put', () => `refcount of pfn ${pfn} underflows`)) return 0;
  h.mem.setRefcount(pfn, rc - 1);
  if (rc === 1) {
    h.branch('hyp_page_dma_put: last reference, SHARED_OWNED -> OWNED');
    h.mem.setExt('host_state', pfn, PKVM_PAGE_OWNED);
  }
  return 0;
}

export const VMEMMAP_CMPXCHG = defineVariant({
  name: 'vmemmap-cmpxchg',
  base: VMEMMAP_STATE,
  description:
    "The lock-free DMA paths Jean-Philippe Brucker sketched in the seed's review thread (10 Feb 2023): with the host's page state in the hyp vmemmap (vmemmap-state), 'the iommu_map() and unmap() path could also be made a lot more scalable because they wouldn't need to take any page table locks when updating page state, a cmpxchg may be sufficient'. __pkvm_host_share_dma and __pkvm_host_unshare_dma take neither host_mmu.lock nor pkvm_pgd_lock (iommu_lock still serialises the IOMMU hypercalls): each page's host_state and hyp_page.refcount change together in one compare-and-swap, one step per page. Every other host transition keeps its locks and checks the state, then updates it (check_donation, then __do_donate, in __pkvm_host_donate_hyp); the locks no longer keep the DMA path out of that window: with several CPUs every access of host_state is an interleaving point.",
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
  // the DMA paths change host_state with no lock: no lock protects it from other CPUs any more
  state: { host_state: { ...VMEMMAP_STATE.state.host_state, lock: undefined } },
});
