/**
 * Where the hypervisor's SMMU code gets its page-table pages (--memcache N), as RFC v1's hyp
 * iommu.c and io-pgtable-arm glue do it (arch/arm64/kvm/hyp/nvhe/iommu/iommu.c,
 * io-pgtable-arm.c), with the memcache helpers of arch/arm64/kvm/hyp/nvhe/mm.c / include/nvhe/mm.h:
 *
 * - The host keeps a per-CPU memcache (struct kvm_hyp_iommu_memcache, in memory it shares with
 *   the hypervisor) of its own pages.
 * - __arm_lpae_alloc_pages() -> kvm_iommu_donate_page(): an empty memcache sets needs_page and
 *   returns NULL (the io-pgtable returns -ENOMEM, the hypercall unwinds and returns it); else
 *   pkvm_admit_host_page() donates the head page to the hypervisor (__pkvm_host_donate_hyp) and
 *   pops it; a page the host may not donate makes it return NULL too.
 * - __arm_lpae_free_pages() -> kvm_iommu_reclaim_page(): the table page is pushed back on the
 *   memcache and donated back to the host (__pkvm_hyp_donate_host), which frees it
 *   (kvm_arm_smmu_reclaim_memcache) after the hypercall.
 *
 * The io-pgtable of RFC v1 keeps no count in hyp_page.refcount for its table pages (the host
 * and guest stage-2's kvm_pgtable does, through mm_ops get_page/put_page): a table page's
 * refcount stays what the donation left, 0. Without --memcache none of this runs.
 */
import { IOMMU_PAGES, MEMCACHE, NEEDS_PAGE } from '../pool.ts';
import { HypIommu } from './iommu.ts';
import { NO_TABLE_PAGE, UNTRACKED_TABLE_PAGE } from './io_pgtable.ts';

export class HypMemcache extends HypIommu {
  /** hyp_smp_processor_id(): the CPU the call runs on (0 with one CPU). */
  hyp_smp_processor_id(): number {
    return this.cpu >= 0 ? this.cpu : 0;
  }

  /** The memcache's nr_pages. */
  memcache_nr_pages(cpu: number): number {
    const n = this.config.memcache;
    let k = 0;
    while (k < n && this.mem.ext(MEMCACHE, cpu * n + k) !== 0) k++;
    return k;
  }

  /** The memcache's head: the pfn of the page on top, or -1 when it is empty. */
  memcache_head(cpu: number): number {
    const nr = this.memcache_nr_pages(cpu);
    return nr === 0 ? -1 : this.mem.ext(MEMCACHE, cpu * this.config.memcache + nr - 1) - 1;
  }

  /** push_hyp_memcache(): the page goes on top (the model's list has room for every page the pool holds). */
  push_hyp_memcache(cpu: number, pfn: number): void {
    const nr = this.memcache_nr_pages(cpu);
    if (this.WARN_ON(nr >= this.config.memcache, 'push_hyp_memcache', () => `memcache of CPU ${cpu} is full (${nr} pages)`)) return;
    this.mem.setExt(MEMCACHE, cpu * this.config.memcache + nr, pfn + 1);
  }

  /** pop_hyp_memcache(): takes the page on top, or -1 when empty. */
  pop_hyp_memcache(cpu: number): number {
    const nr = this.memcache_nr_pages(cpu);
    if (nr === 0) return -1;
    const o = cpu * this.config.memcache + nr - 1;
    const pfn = this.mem.ext(MEMCACHE, o) - 1;
    this.mem.setExt(MEMCACHE, o, 0);
    return pfn;
  }

  /** pkvm_admit_host_page(): the host still owns the head page: donate it to the hypervisor, then pop it. */
  pkvm_admit_host_page(cpu: number): number {
    const head = this.memcache_head(cpu);
    if (head < 0) return -1;
    if (this.__pkvm_host_donate_hyp(head, 1)) {
      this.branch('pkvm_admit_host_page: the host may not donate the head page');
      return -1;
    }
    return this.pop_hyp_memcache(cpu);
  }

  /** kvm_iommu_donate_page(): a zeroed hyp page for the SMMU code, or -1 (NULL). */
  kvm_iommu_donate_page(): number {
    const cpu = this.hyp_smp_processor_id();
    if (this.memcache_nr_pages(cpu) === 0) {
      this.branch('kvm_iommu_donate_page: memcache empty, needs_page');
      this.mem.setExt(NEEDS_PAGE, cpu, 1);
      return -1;
    }
    const p = this.pkvm_admit_host_page(cpu);
    if (p < 0) return -1;
    // memset(p, 0, PAGE_SIZE): the model has no page contents
    this.mem.setExt(IOMMU_PAGES, p, 1);
    return p;
  }

  /** kvm_iommu_reclaim_page(): a page the SMMU code no longer uses goes back to the host through the memcache. */
  kvm_iommu_reclaim_page(pfn: number): void {
    const cpu = this.hyp_smp_processor_id();
    this.mem.setExt(IOMMU_PAGES, pfn, 0);
    this.push_hyp_memcache(cpu, pfn);
    const ret = this.__pkvm_hyp_donate_host(pfn, 1);
    this.WARN_ON(ret !== 0, 'kvm_iommu_reclaim_page', () => `__pkvm_hyp_donate_host(pfn ${pfn}) returned ${ret}`);
  }

  override __arm_lpae_alloc_pages(): number {
    if (!this.config.memcache) return UNTRACKED_TABLE_PAGE;
    const p = this.kvm_iommu_donate_page();
    return p < 0 ? NO_TABLE_PAGE : p;
  }

  override __arm_lpae_free_pages(pfn: number): void {
    if (this.config.memcache) this.kvm_iommu_reclaim_page(pfn);
  }
}
