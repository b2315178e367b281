/**
 * rfc-v2-use-dma: Mostafa Saleh's RFC v2 (Dec 2024) of the DMA accounting: the host state stays
 * PKVM_PAGE_OWNED, the refcount alone freezes a DMA-mapped page.
 */
import { EINVAL, PAGE_SIZE, PKVM_PAGE_OWNED } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { Out, PkvmMemTransition } from '../kernel/mem_protect.ts';
import { defineVariant } from '../variant.ts';
import { RFC_V1_FIXED, iommuFreeIopt, iommuMapPages, iommuUnmapPages, type DmaAccounting } from './fixed.ts';

type V2Hyp = Hyp & {
  __pkvm_host_use_dma(phys_addr: number, size: number): number;
  __pkvm_host_unuse_dma(phys_addr: number, size: number): number;
  is_range_refcounted(addr: number, nr_pages: number): boolean;
};
const v2 = (h: Hyp) => h as V2Hyp;

const base = RFC_V1_FIXED.hyp.prototype;

/** The IOMMU hypercalls of rfc-v1-fixed, accounting with use/unuse_dma (is_ram plays no part). */
const USE_DMA: DmaAccounting = {
  get: (h, paddr, size) => v2(h).__pkvm_host_use_dma(paddr, size),
  put: (h, paddr, size) => v2(h).__pkvm_host_unuse_dma(paddr, size),
};

export const RFC_V2_USE_DMA = defineVariant({
  name: 'rfc-v2-use-dma',
  base: RFC_V1_FIXED,
  description:
    "Mostafa Saleh's '[RFC PATCH v2 12/58] KVM: arm64: Add __pkvm_{use, unuse}_dma()' (12 Dec 2024, lore 20241212180423.1578358-13-smostafa@google.com; the same shape as early Android's __pkvm_host_use_dma): the host state of a DMA-mapped page stays PKVM_PAGE_OWNED and only hyp_page.refcount records the mappings. __pkvm_host_use_dma(phys, size) takes only the host lock, checks that the whole range is host OWNED, then, if the range is memory, increments the refcount of each page (MMIO is checked but not counted); __pkvm_host_unuse_dma(phys, size) decrements the refcount of memory pages with no check ('there can be no failure'); host_request_owned_transition() fails with -EINVAL while any memory page of the range has a non-zero refcount, which freezes the page for every host share and donation. On this base host_get_page_state() reads MMIO as PKVM_NOPAGE, so, as posted, use_dma refuses every MMIO range (-EPERM) and the MMIO branch is dead. The IOMMU hypercalls keep rfc-v1-fixed's structure (validation, whole range checked, page-by-page unmap) but call use/unuse instead of share/unshare_dma (RFC v2 18/58 returns the bytes mapped and leaves unuse to the hyp driver); the direct share/unshare_dma operations of the adversarial host are removed.",
  add: {
    /** is_range_refcounted() of RFC v2. */
    is_range_refcounted(this: Hyp, addr: number, nr_pages: number): boolean {
      for (let i = 0; i < nr_pages; i++) if (this.hyp_page_count(this.hyp_phys_to_page(addr + i * PAGE_SIZE))) return true;
      return false;
    },
    __pkvm_host_use_dma(this: Hyp, phys_addr: number, size: number): number {
      if (this.WARN_ON(!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size), '__pkvm_host_use_dma', 'unaligned range')) return -EINVAL;
      this.host_lock_component();
      let ret = this.__host_check_page_state_range(phys_addr, size, PKVM_PAGE_OWNED);
      out: {
        if (ret) break out;
        if (!this.range_is_memory(phys_addr, phys_addr + size)) {
          this.branch('__pkvm_host_use_dma: MMIO, not counted');
          ret = 0;
          break out;
        }
        for (let i = 0; i < size / PAGE_SIZE; i++) this.hyp_page_ref_inc(this.hyp_phys_to_page(phys_addr + i * PAGE_SIZE));
      }
      this.host_unlock_component();
      return ret;
    },
    __pkvm_host_unuse_dma(this: Hyp, phys_addr: number, size: number): number {
      if (this.WARN_ON(!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size), '__pkvm_host_unuse_dma', 'unaligned range')) return -EINVAL;
      this.host_lock_component();
      /* "We end up here after the caller successfully unmapped the page ... there can be no failure." */
      if (this.range_is_memory(phys_addr, phys_addr + size))
        for (let i = 0; i < size / PAGE_SIZE; i++) this.hyp_page_ref_dec(this.hyp_phys_to_page(phys_addr + i * PAGE_SIZE));
      this.host_unlock_component();
      return 0;
    },
  },
  replace: {
    kvm_iommu_free_iopt(this: Hyp, domain: number): number {
      return iommuFreeIopt(USE_DMA, this, domain);
    },
    host_request_owned_transition(this: Hyp, completer_addr: Out<number>, tx: PkvmMemTransition): number {
      const size = tx.nr_pages * PAGE_SIZE;
      const addr = tx.initiator.addr;
      if (this.range_is_memory(addr, addr + size) && v2(this).is_range_refcounted(addr, tx.nr_pages)) {
        this.branch('host_request_owned_transition: range is refcounted (-EINVAL)');
        return -EINVAL;
      }
      return base.host_request_owned_transition.call(this, completer_addr, tx);
    },
    kvm_iommu_map_pages(this: Hyp, domain_id: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
      return iommuMapPages(USE_DMA, this, domain_id, iova, paddr, pgsize, pgcount, prot);
    },
    kvm_iommu_unmap_pages(this: Hyp, domain_id: number, iova: number, pgsize: number, pgcount: number): number {
      return iommuUnmapPages(USE_DMA, this, domain_id, iova, pgsize, pgcount);
    },
  },
  removeOperations: ['__pkvm_host_share_dma', '__pkvm_host_unshare_dma'],
});
