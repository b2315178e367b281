/**
 * Mutants on the paths that allocate and free page-table pages (--memcache N):
 * each is one plausible mistake, and each is killed by an invariant only once table pages are
 * modelled (without --memcache they behave as rfc-v1-fixed). They are not in the built-in list
 * that `verify` runs with its default bounds; `--variant NAME --memcache 1` selects one.
 */
import { NEEDS_PAGE } from '../pool.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { defineVariant, type Variant } from '../variant.ts';
import { RFC_V1_BASE_FIX } from './base-fix.ts';
import { RFC_V1_FIXED, iommuMapPages } from './fixed.ts';

export const POOL_MUTANTS: readonly Variant[] = [
  defineVariant({
    name: 'iopt-unmap-leaks-table',
    description:
      "io-pgtable's unmap of a whole level-2 table clears the level-1 entry and flushes the walk but never frees the table's page (__arm_lpae_free_pgtable does nothing): the page stays the hypervisor's and is lost to the host for good. A mutant of rfc-v1-base-fix, whose unmap of a block-sized unit frees the table below it (rfc-v1-fixed unmaps page by page and never frees a table).",
    base: RFC_V1_BASE_FIX,
    replace: {
      __arm_lpae_free_pgtable(this: Hyp): void {},
    },
  }),
  defineVariant({
    name: 'donate-page-skips-host-donation',
    description:
      'kvm_iommu_donate_page pops the head of the memcache and uses it as a table page without admitting it (__pkvm_host_donate_hyp): the host keeps its page, and with it write access to an SMMU page table.',
    base: RFC_V1_FIXED,
    replace: {
      pkvm_admit_host_page(this: Hyp, cpu: number): number {
        return this.pop_hyp_memcache(cpu);
      },
    },
  }),
  defineVariant({
    name: 'map-enomem-no-unshare',
    description:
      "kvm_iommu_map_pages' unwind after a failed table allocation (-ENOMEM, needs_page set) unmaps what it mapped but keeps the range DMA-shared, expecting the host to retry: pages stay counted and SHARED_OWNED with no mapping, and the host's next attempt takes a second reference.",
    base: RFC_V1_FIXED,
    replace: {
      kvm_iommu_map_pages(this: Hyp, domain_id: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): number {
        const dma = {
          get: (h: Hyp, p: number, size: number, is_ram: boolean) => h.__pkvm_host_share_dma(p, size, is_ram),
          put: (h: Hyp, p: number, size: number) => (h.mem.ext(NEEDS_PAGE, h.hyp_smp_processor_id()) ? 0 : h.__pkvm_host_unshare_dma(p, size)),
        };
        return iommuMapPages(dma, this, domain_id, iova, paddr, pgsize, pgcount, prot);
      },
    },
  }),
];
