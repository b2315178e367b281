/**
 * Variants about concurrency: each changes where the code waits, takes or drops a lock, or
 * invalidates the IOTLB. They start from rfc-v1-base-fix (the seed as posted, with the base's
 * unshare_hyp fixed), change the sequential piece and its concurrent program the same way, and are
 * caught only when CPUs interleave (or, for the lock order, by the order check).
 */
import { EINVAL, PAGE_SIZE } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { defineVariant } from '../variant.ts';
import { RFC_V1_BASE_FIX } from './base-fix.ts';

/**
 * kvm_iommu_unmap_pages that gathers the TLB invalidation and syncs it after unsharing the page
 * (as an io-pgtable user with an iommu_iotlb_gather does): between the unshare and the sync, a
 * device can still use the old translation cached in its IOTLB.
 */
export const UNSHARE_BEFORE_TLBI = defineVariant({
  name: 'unshare-before-tlbi',
  base: RFC_V1_BASE_FIX,
  description:
    'kvm_iommu_unmap_pages gathers the IOTLB invalidation of each unit and syncs it only after __pkvm_host_unshare_dma, instead of the synchronous invalidation of RFC v1 (no gather). Between the unshare and the sync the page is host-owned again, can be donated, and a device still reaches it through its IOTLB.',
  replace: {
    kvm_iommu_unmap_unit(this: Hyp, domain: number, iova: number, pgsize: number) {
      this.tlbGather = true;
      const paddr = this.iopt_iova_to_phys(domain, iova);
      if (paddr === 0) return { ret: -EINVAL, paddr, unmapped: 0 };
      const unmapped = this.iopt_unmap_pages(domain, iova, pgsize, 1);
      if (!unmapped) return { ret: -EINVAL, paddr, unmapped };
      return { ret: 0, paddr, unmapped };
    },
    kvm_iommu_unmap_pages(this: Hyp, domain_id: number, iova: number, pgsize: number, pgcount: number): number {
      const size = pgsize * pgcount;
      let ret = -EINVAL;
      let total = 0;
      this.hyp_spin_lock('iommu_lock');
      out: {
        if (this.kvm_iommu_unmap_checks(domain_id, iova, pgsize)) break out;
        while (total < size) {
          const unit = this.kvm_iommu_unmap_unit(domain_id, iova, pgsize);
          ret = unit.ret;
          if (ret) break out;
          ret = this.__pkvm_host_unshare_dma(unit.paddr, pgsize);
          this.iotlb_sync();
          if (ret) break out;
          iova += unit.unmapped;
          total += unit.unmapped;
        }
      }
      this.tlbGather = false;
      this.hyp_spin_unlock('iommu_lock');
      return ret;
    },
  },
});

/** __pkvm_host_share_dma with its two locks taken the other way round. */
export const SHARE_DMA_LOCK_INVERSION = defineVariant({
  name: 'share-dma-lock-inversion',
  base: RFC_V1_BASE_FIX,
  description:
    '__pkvm_host_share_dma takes pkvm_pgd_lock before host_mmu.lock, the opposite of every other path (mem_protect.h orders host before hyp). The order check flags it on the first call; with two CPUs, a concurrent __pkvm_host_share_hyp (host then hyp) deadlocks with it.',
  replace: {
    __pkvm_host_share_dma(this: Hyp, phys_addr: number, size: number, is_ram: boolean): number {
      // as posted, but hyp_lock_component() first
      const nr_pages = Math.floor(size / PAGE_SIZE);
      let ret = -0x7fff_0001;
      if (this.WARN_ON(!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size), '__pkvm_host_share_dma', 'unaligned range')) return -EINVAL;
      this.hyp_lock_component();
      this.host_lock_component();
      let i: number;
      for (i = 0; i < nr_pages; i++) {
        ret = this.__pkvm_host_share_dma_page(phys_addr + i * PAGE_SIZE, is_ram);
        if (ret) break;
      }
      if (ret === -0x7fff_0001) this.uninitialised('__pkvm_host_share_dma', 'ret is never assigned when size is below one page');
      if (ret && !this.fatal) for (--i; i >= 0; --i) this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
      this.host_unlock_component();
      this.hyp_unlock_component();
      return ret;
    },
  },
});

/** hyp_pin_shared_mem that checks the states under the locks, drops them, then takes the reference. */
export const PIN_DROPS_LOCKS = defineVariant({
  name: 'pin-drops-locks',
  base: RFC_V1_BASE_FIX,
  description:
    'hyp_pin_shared_mem checks that the page is host SHARED_OWNED and hyp SHARED_BORROWED under the host and hyp locks, releases them, and only then increments hyp_page.refcount (a lock dropped around a refcount update, to keep the critical section short). A concurrent __pkvm_host_unshare_hyp sees no pin yet, takes the page back, and the pin lands on a page that is no longer shared.',
  replace: {
    hyp_pin_shared_mem(this: Hyp, pfn: number): number {
      const p = this.hyp_pfn_to_phys(pfn);
      this.host_lock_component();
      this.hyp_lock_component();
      let ret = this.__host_check_page_state_range(p, PAGE_SIZE, 1);
      if (!ret) ret = this.__hyp_check_page_state_range(p, PAGE_SIZE, 2);
      this.hyp_unlock_component();
      this.host_unlock_component();
      if (!ret) this.hyp_page_ref_inc(this.hyp_phys_to_page(p));
      return ret;
    },
  },
});

export const CONCURRENCY_VARIANTS = [UNSHARE_BEFORE_TLBI, SHARE_DMA_LOCK_INVERSION, PIN_DROPS_LOCKS];
