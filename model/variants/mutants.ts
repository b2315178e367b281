/**
 * Mutants of the seed: each is one small change a reviewer could plausibly propose or a developer
 * could plausibly make, named after what it changes. Tests use them to show that every invariant
 * can fail, and the verify command kills them.
 */
import { EINVAL, PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED, PKVM_PAGE_SHARED_OWNED } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { defineVariant, type Variant } from '../variant.ts';
import { RFC_V1_FIXED } from './fixed.ts';

/** A mutant of the fixed reference design: the catalogue's mutants start from a design that passes. */
function mutant(name: string, description: string, replace: Parameters<typeof defineVariant>[0]['replace']): Variant {
  return defineVariant({ name, description, base: RFC_V1_FIXED, replace });
}

export const MUTANTS: readonly Variant[] = [
  mutant(
    'unmap-no-tlb-add-page',
    "arm_lpae's unmap of a leaf (and the split of a block) skips io_pgtable_tlb_add_page: the page leaves the io-pgtable but the SMMU's IOTLB may still cache its translation, and the page is unshared and can be donated while a device still reaches it. Only the IOTLB shows it (--iotlb; on by default with several CPUs and in verify).",
    {
      io_pgtable_tlb_add_page(this: Hyp): void {},
    },
  ),
  mutant(
    'share-dma-no-ref-rollback',
    'In __pkvm_host_share_dma_page, the refcount taken before the check is not dropped when the check fails.',
    {
      __pkvm_host_share_dma_page(this: Hyp, phys_addr: number, is_ram: boolean): number {
        if (!this.addr_is_memory(phys_addr)) return is_ram ? -EINVAL : 0;
        if (!is_ram) return -EINVAL;
        const p = this.hyp_phys_to_page(phys_addr);
        const ret = this.hyp_page_ref_inc_return(p);
        if (ret < 0) return ret;
        return ret === 1 ? this.do_share(this.dmaShare(phys_addr)) : this.__host_check_page_dma_shared(phys_addr);
      },
    },
  ),
  mutant(
    'dma-shared-skip-hyp-check',
    "__host_check_page_dma_shared only checks the host side: a refcounted SHARED_OWNED page is taken as DMA-shared even when the hypervisor borrows it (it is pinned, not DMA-mapped).",
    {
      __host_check_page_dma_shared(this: Hyp, phys_addr: number): number {
        return this.__host_check_page_state_range(phys_addr, PAGE_SIZE, PKVM_PAGE_SHARED_OWNED);
      },
    },
  ),
  mutant(
    'unshare-dma-no-memory-check',
    '__pkvm_host_unshare_dma_page drops its addr_is_memory() check, so unmapping an MMIO page touches its vmemmap entry.',
    {
      __pkvm_host_unshare_dma_page(this: Hyp, phys_addr: number): number {
        if (!this.hyp_page_ref_dec_and_test(this.hyp_phys_to_page(phys_addr))) return 0;
        return this.do_unshare(this.dmaShare(phys_addr));
      },
    },
  ),
  mutant(
    'share-dma-trust-is-ram',
    "__pkvm_host_share_dma_page believes the host's is_ram hint: a RAM page passed with IOMMU_MMIO is mapped without being marked shared or refcounted.",
    {
      __pkvm_host_share_dma_page(this: Hyp, phys_addr: number, is_ram: boolean): number {
        if (!is_ram) return 0;
        if (!this.addr_is_memory(phys_addr)) return -EINVAL;
        const p = this.hyp_phys_to_page(phys_addr);
        let ret = this.hyp_page_ref_inc_return(p);
        if (ret < 0) return ret;
        ret = ret === 1 ? this.do_share(this.dmaShare(phys_addr)) : this.__host_check_page_dma_shared(phys_addr);
        if (ret) this.hyp_page_ref_dec(p);
        return ret;
      },
    },
  ),
  mutant(
    'iommu-completer-no-host-state',
    'The first DMA reference only counts the page: __pkvm_host_share_dma_page skips do_share, so the host state stays PKVM_PAGE_OWNED and nothing stops a donation.',
    {
      __pkvm_host_share_dma_page(this: Hyp, phys_addr: number, is_ram: boolean): number {
        if (!this.addr_is_memory(phys_addr)) return is_ram ? -EINVAL : 0;
        if (!is_ram) return -EINVAL;
        const ret = this.hyp_page_ref_inc_return(this.hyp_phys_to_page(phys_addr));
        return ret < 0 ? ret : 0;
      },
      __pkvm_host_unshare_dma_page(this: Hyp, phys_addr: number): number {
        if (!this.addr_is_memory(phys_addr)) return 0;
        this.hyp_page_ref_dec_and_test(this.hyp_phys_to_page(phys_addr));
        return 0;
      },
    },
  ),
  mutant(
    'guest-share-host-owned',
    'host_complete_share maps a page a guest shares with the host as PKVM_PAGE_OWNED instead of SHARED_BORROWED.',
    {
      host_complete_share(this: Hyp, addr: number, tx): number {
        return this.host_stage2_idmap_locked(addr, tx.nr_pages * PAGE_SIZE, 0);
      },
    },
  ),
  mutant(
    'donate-keeps-host-mapping',
    'host_initiate_donation writes the host as owner (an all-zero PTE) instead of annotating the completer, so the host keeps access to a donated page.',
    {
      host_initiate_donation(this: Hyp, completer_addr, tx): number {
        completer_addr.v = tx.initiator.completer_addr ?? 0;
        return this.host_stage2_set_owner_locked(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, 0);
      },
    },
  ),
  mutant(
    'unmap-no-range-check',
    'kvm_iommu_unmap_pages unmaps page by page without first checking that the whole range is mapped: it fails half-way, after unmapping and unsharing the start of the range.',
    {
      kvm_iommu_unmap_pages(this: Hyp, domain_id: number, iova: number, pgsize: number, pgcount: number): number {
        let ret = -EINVAL;
        this.hyp_spin_lock('iommu_lock');
        for (let a = iova; a < iova + pgsize * pgcount; a += PAGE_SIZE) {
          const phys = this.iopt_iova_to_phys(domain_id, a);
          if (phys === 0) {
            ret = -EINVAL;
            break;
          }
          this.iopt_unmap_pages(domain_id, a, PAGE_SIZE, 1);
          ret = this.__pkvm_host_unshare_dma(phys, PAGE_SIZE);
          if (ret) break;
        }
        this.hyp_spin_unlock('iommu_lock');
        return ret;
      },
    },
  ),
  mutant(
    'share-dma-no-hyp-lock',
    '__pkvm_host_share_dma takes host_mmu.lock but not pkvm_pgd_lock, although __host_check_page_dma_shared reads the hyp stage-1 (a lock dropped to shorten the critical section).',
    {
      __pkvm_host_share_dma(this: Hyp, phys_addr: number, size: number, is_ram: boolean): number {
        if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
        let ret = 0;
        this.host_lock_component();
        let i: number;
        for (i = 0; i < size / PAGE_SIZE; i++) {
          ret = this.__pkvm_host_share_dma_page(phys_addr + i * PAGE_SIZE, is_ram);
          if (ret) break;
        }
        if (ret) for (--i; i >= 0; --i) this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
        this.host_unlock_component();
        return ret;
      },
    },
  ),
  mutant(
    'share-dma-rollback-includes-failed-page',
    "__pkvm_host_share_dma's rollback loop starts at the page that failed ('for (; i >= 0; --i)' instead of 'for (--i; i >= 0; --i)'): the failed page, whose reference __pkvm_host_share_dma_page already dropped, is unshared once more.",
    {
      __pkvm_host_share_dma(this: Hyp, phys_addr: number, size: number, is_ram: boolean): number {
        if (!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size) || size === 0) return -EINVAL;
        let ret = 0;
        this.host_lock_component();
        this.hyp_lock_component();
        let i: number;
        for (i = 0; i < size / PAGE_SIZE; i++) {
          ret = this.__pkvm_host_share_dma_page(phys_addr + i * PAGE_SIZE, is_ram);
          if (ret) break;
        }
        if (ret) for (; i >= 0; --i) this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
        this.hyp_unlock_component();
        this.host_unlock_component();
        return ret;
      },
    },
  ),
  mutant(
    'unshare-dma-page-inverted-test',
    "__pkvm_host_unshare_dma_page tests the result of hyp_page_ref_dec_and_test() the wrong way round ('if (hyp_page_ref_dec_and_test(p)) return 0;'): the last DMA reference leaves the page PKVM_PAGE_SHARED_OWNED, and dropping any other one makes it PKVM_PAGE_OWNED while the SMMU still maps it.",
    {
      __pkvm_host_unshare_dma_page(this: Hyp, phys_addr: number): number {
        if (!this.addr_is_memory(phys_addr)) return 0;
        if (this.hyp_page_ref_dec_and_test(this.hyp_phys_to_page(phys_addr))) return 0;
        return this.do_unshare(this.dmaShare(phys_addr));
      },
    },
  ),
  mutant(
    'ack-unshare-no-pin-check',
    "hyp_ack_unshare keeps the SHARED_BORROWED check of 985bb51f17ab but drops the -EBUSY check of hyp_page_count(): the host takes back a page the hypervisor still pins, whose reference then outlives the share.",
    {
      hyp_ack_unshare(this: Hyp, addr: number, tx): number {
        return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
      },
    },
  ),
  mutant(
    'unshare-dma-leaks-page-0',
    "__pkvm_host_unshare_dma_page skips hyp_page_ref_dec_and_test() for pfn 0: once page 0 has been mapped for DMA and unmapped, its reference is never dropped, so it stays PKVM_PAGE_SHARED_OWNED with a refcount nothing can bring back to 0 (no host call, and no undo, ever gives it back: host-recoverable).",
    {
      __pkvm_host_unshare_dma_page(this: Hyp, phys_addr: number): number {
        if (!this.addr_is_memory(phys_addr)) return 0;
        if (this.hyp_phys_to_pfn(phys_addr) === 0) return 0;
        if (!this.hyp_page_ref_dec_and_test(this.hyp_phys_to_page(phys_addr))) return 0;
        return this.do_unshare(this.dmaShare(phys_addr));
      },
    },
  ),
];
