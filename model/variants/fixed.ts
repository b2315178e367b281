/**
 * rfc-v1-fixed: the seed with the changes a reviewer of this model would ask for. It is the
 * reference design the mutant catalogue is derived from: every default invariant holds on it in
 * the driver and iommu host behaviours (tested).
 */
import {
  EEXIST,
  EINVAL,
  ENODEV,
  EOVERFLOW,
  ERANGE,
  IOMMU_MMIO,
  IOMMU_PROT_MASK,
  IOMMU_READ,
  IOMMU_WRITE,
  IOPT_BLOCK_SIZE,
  PAGE_SIZE,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_ID_HOST,
} from '../constants.ts';
import { Hyp } from '../kernel/hyp.ts';
import type { PkvmMemTransition } from '../kernel/mem_protect.ts';
import { defineVariant } from '../variant.ts';
import { STE } from '../lifecycle.ts';

/** How the IOMMU hypercalls account for the pages they map: share/unshare_dma here, use/unuse_dma in RFC v2. */
export interface DmaAccounting {
  get(h: Hyp, paddr: number, size: number, is_ram: boolean): number;
  put(h: Hyp, paddr: number, size: number): number;
}

const SHARE_DMA: DmaAccounting = {
  get: (h, paddr, size, is_ram) => h.__pkvm_host_share_dma(paddr, size, is_ram),
  put: (h, paddr, size) => h.__pkvm_host_unshare_dma(paddr, size),
};

/**
 * rfc-v1-fixed's kvm_iommu_map_pages: validates prot, pgsize, alignment and the IOVA range,
 * refuses to map over anything, accounts for the range, maps it, and undoes both on failure.
 */
export function iommuMapPages(dma: DmaAccounting, h: Hyp, domain_id: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
  if (prot & ~IOMMU_PROT_MASK || !(prot & (IOMMU_READ | IOMMU_WRITE))) return -EINVAL;
  if (pgsize !== PAGE_SIZE && pgsize !== IOPT_BLOCK_SIZE) return -EINVAL;
  if (pgcount === 0 || (iova | paddr) % pgsize !== 0) return -EINVAL;
  const size = pgsize * pgcount;
  if (iova + size > h.iova_space()) return -ERANGE;
  if (!Number.isSafeInteger(size)) return -EOVERFLOW;
  h.hyp_spin_lock('iommu_lock');
  let ret = -EINVAL;
  out: {
    const domain = h.handle_to_domain(domain_id);
    // (--domain-lifecycle) a free domain has no io-pgtable to map into
    if (domain === null || h.domain_refs(domain) === 0) break out;
    for (let a = iova; a < iova + size; a += PAGE_SIZE)
      if (h.iopt_iova_to_phys(domain, a) !== 0) {
        ret = -EEXIST;
        break out;
      }
    ret = dma.get(h, paddr, size, !(prot & IOMMU_MMIO));
    if (ret) break out;
    let mapped = 0;
    let left = pgcount;
    while (left && !ret) {
      const m = { v: 0 };
      ret = h.iopt_map_pages(domain, iova + mapped, paddr + mapped, pgsize, left, prot, m);
      left -= m.v / pgsize;
      mapped += m.v;
    }
    if (ret) {
      if (mapped) h.iopt_unmap_pages(domain, iova, pgsize, mapped / pgsize);
      dma.put(h, paddr, size);
    }
  }
  h.hyp_spin_unlock('iommu_lock');
  return ret;
}

/** rfc-v1-fixed's kvm_iommu_unmap_pages: checks the whole range is mapped, then unmaps and unaccounts page by page. */
export function iommuUnmapPages(dma: DmaAccounting, h: Hyp, domain_id: number, iova: number, pgsize: number, pgcount: number): number {
  if ((pgsize !== PAGE_SIZE && pgsize !== IOPT_BLOCK_SIZE) || pgcount === 0 || iova % PAGE_SIZE !== 0) return -EINVAL;
  const size = pgsize * pgcount;
  if (iova + size > h.iova_space()) return -ERANGE;
  h.hyp_spin_lock('iommu_lock');
  let ret = -EINVAL;
  out: {
    const domain = h.handle_to_domain(domain_id);
    if (domain === null || h.domain_refs(domain) === 0) break out;
    for (let a = iova; a < iova + size; a += PAGE_SIZE) if (h.iopt_iova_to_phys(domain, a) === 0) break out;
    ret = 0;
    for (let a = iova; a < iova + size && !ret; a += PAGE_SIZE) {
      const phys = h.iopt_iova_to_phys(domain, a);
      if (h.iopt_unmap_pages(domain, a, PAGE_SIZE, 1) !== PAGE_SIZE) ret = -EINVAL;
      else ret = dma.put(h, phys, PAGE_SIZE);
    }
  }
  h.hyp_spin_unlock('iommu_lock');
  return ret;
}

/**
 * rfc-v1-fixed's kvm_iommu_ops.free_iopt (--domain-lifecycle): the io-pgtable is emptied through
 * the unmap path first, page by page (each leaf invalidated in the IOTLB), and each page's DMA
 * reference is dropped, so that nothing a freed domain mapped stays shared, then the tables go.
 */
export function iommuFreeIopt(dma: DmaAccounting, h: Hyp, domain: number): number {
  for (let a = 0; a < h.iova_space(); a += PAGE_SIZE) {
    const phys = h.iopt_iova_to_phys(domain, a);
    if (phys === 0) continue;
    if (h.iopt_unmap_pages(domain, a, PAGE_SIZE, 1) !== PAGE_SIZE) return -EINVAL;
    const ret = dma.put(h, phys, PAGE_SIZE);
    if (ret) return ret;
  }
  return h.kvm_arm_io_pgtable_free(domain);
}

export const RFC_V1_FIXED = defineVariant({
  name: 'rfc-v1-fixed',
  description:
    "The seed with the fixes this model points at: share/unshare_dma initialise their return value, check the address (not the host's is_ram hint) before touching the vmemmap, and check a page's state before taking its DMA reference (the hyp allocator shares the refcount); kvm_iommu_map_pages validates prot, pgsize, alignment and the IOVA range and refuses to map over anything; kvm_iommu_unmap_pages unmaps and unshares page by page, after checking the whole range is mapped; with --domain-lifecycle, map and unmap refuse a free domain, freeing a domain unmaps and unshares what it still maps, and a detach names the stream's own domain; and the base gets upstream's 985bb51f17ab (hyp_ack_unshare always checks SHARED_BORROWED) and a memory check in __pkvm_host_reclaim_page.",
  replace: {
    __pkvm_host_share_dma_page(this: Hyp, phys_addr: number, is_ram: boolean): number {
      const p = this.hyp_phys_to_page(phys_addr);
      this.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_share_dma_page');
      this.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_share_dma_page');
      if (!this.addr_is_memory(phys_addr)) return is_ram ? -EINVAL : 0;
      if (!is_ram) return -EINVAL;
      /* Check the page before taking a reference: the hyp allocator changes the refcount of its pages under its own lock. */
      const count = this.hyp_page_count(p);
      if (this.fatal) return 0;
      const ret = count === 0 ? this.do_share(this.dmaShare(phys_addr)) : this.__host_check_page_dma_shared(phys_addr);
      if (ret) return ret;
      const c = this.hyp_page_ref_inc_return(p);
      return c < 0 ? c : 0;
    },
    __pkvm_host_share_dma(this: Hyp, phys_addr: number, size: number, is_ram: boolean): number {
      if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
      let ret = 0;
      this.host_lock_component();
      this.hyp_lock_component();
      let i: number;
      const n = size / PAGE_SIZE;
      for (i = 0; i < n; i++) {
        ret = this.__pkvm_host_share_dma_page(phys_addr + i * PAGE_SIZE, is_ram);
        if (ret) break;
      }
      if (ret) for (--i; i >= 0; --i) this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
      this.hyp_unlock_component();
      this.host_unlock_component();
      return ret;
    },
    __pkvm_host_unshare_dma(this: Hyp, phys_addr: number, size: number): number {
      if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
      let ret = 0;
      this.host_lock_component();
      this.hyp_lock_component();
      for (let i = 0; i < size / PAGE_SIZE && !ret; i++) ret = this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
      this.hyp_unlock_component();
      this.host_unlock_component();
      return ret;
    },
    kvm_iommu_map_pages(this: Hyp, domain_id: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
      return iommuMapPages(SHARE_DMA, this, domain_id, iova, paddr, pgsize, pgcount, prot);
    },
    kvm_iommu_unmap_pages(this: Hyp, domain_id: number, iova: number, pgsize: number, pgcount: number): number {
      return iommuUnmapPages(SHARE_DMA, this, domain_id, iova, pgsize, pgcount);
    },
    hyp_ack_unshare(this: Hyp, addr: number, tx: PkvmMemTransition): number {
      if (tx.initiator.id === PKVM_ID_HOST && this.hyp_page_count(this.hyp_phys_to_page(addr))) return -16;
      return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
    },
    kvm_iommu_free_iopt(this: Hyp, domain: number): number {
      return iommuFreeIopt(SHARE_DMA, this, domain);
    },
    /** (--domain-lifecycle) detach only a stream attached to the domain named, so that refs count the domain's own endpoints. */
    smmu_detach_dev(this: Hyp, domain: number, sid: number): number {
      if (!this.smmu_ste_valid(sid)) return -ENODEV;
      if (this.mem.ext(STE, sid) !== domain + 1) return -EINVAL;
      this.mem.setExt(STE, sid, 0);
      return 0;
    },
    __pkvm_host_reclaim_page(this: Hyp, pfn: number): number {
      if (!this.addr_is_memory(this.hyp_pfn_to_phys(pfn))) return -EINVAL;
      return Hyp.prototype.__pkvm_host_reclaim_page.call(this, pfn);
    },
  },
  // with several CPUs: the steps of the fixed paths (a variant changing one of their pieces runs that piece in one step)
});
