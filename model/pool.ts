/**
 * Page-table pages as physical pages (--memcache N): the state the SMMU driver's allocation paths
 * add to the model, kept as state extensions so that every engine encodes it and every CPU
 * interleaves on it as on a variant's state.
 *
 * - `iommu_memcache`: per CPU, struct kvm_hyp_iommu_memcache's page list (kvm_hyp_memcache,
 *   a stack: entry k holds pfn + 1 of the k-th page pushed, 0 past the top). The host pushes its
 *   own pages there (kvm_arm_smmu_topup_memcache); they stay the host's until the hypervisor
 *   admits one (__pkvm_host_donate_hyp) to use it as a table page, and the hypervisor pushes a
 *   freed table page back after donating it to the host again (kvm_iommu_reclaim_page).
 * - `iommu_memcache.needs_page`: per CPU, set when an allocation found the memcache empty.
 * - `iopt_table`: per domain and level-1 entry, pfn + 1 of the page that holds the level-2 table
 *   the entry points to (iopte_deref), 0 when the entry holds no table.
 * - `iommu_pages` (ghost): per page, 1 while the page is a table page kvm_iommu_donate_page()
 *   handed out and kvm_iommu_reclaim_page() has not taken back (what the invariant compares the
 *   tables with: a page the tables lost is a leak).
 *
 * With --memcache 0 (the default) none of this exists and table pages are always available.
 */
import { IOPT_BLOCK_PAGES } from './constants.ts';
import type { PkvmConfig } from './config.ts';
import type { StateReader } from './memory.ts';
import type { StateExtensions } from './state.ts';

export const MEMCACHE = 'iommu_memcache';
export const NEEDS_PAGE = 'iommu_memcache.needs_page';
export const IOPT_TABLE = 'iopt_table';
export const IOMMU_PAGES = 'iommu_pages';
export const POOL_STATE_NAMES: readonly string[] = [MEMCACHE, NEEDS_PAGE, IOPT_TABLE, IOMMU_PAGES];

/** Memcaches in the state: one per CPU (one with a single CPU). */
export function memcacheCpus(config: PkvmConfig): number {
  return Math.max(1, config.cpus);
}

export function poolModelled(config: PkvmConfig): boolean {
  return (config.memcache ?? 0) > 0;
}

const pfnOf = (v: number) => (v === 0 ? null : `pfn ${v - 1}`);

/** The state extensions of a configuration's page pool (none without --memcache). */
export function poolState(config: PkvmConfig): StateExtensions {
  if (!poolModelled(config)) return {};
  const n = config.memcache;
  const entries = (config.iovas / IOPT_BLOCK_PAGES) * config.domains;
  return {
    // per-CPU: only its own CPU touches a memcache (the hypervisor under iommu_lock), so the
    // other CPUs cannot tell its accesses apart, and they are no interleaving points there
    [MEMCACHE]: { size: memcacheCpus(config) * n, max: 255, lock: 'iommu_lock', describe: (v) => pfnOf(v) },
    [NEEDS_PAGE]: { size: memcacheCpus(config), max: 1, lock: 'iommu_lock', describe: (v) => (v ? 'set' : null) },
    [IOPT_TABLE]: { size: Math.max(1, entries), max: 255, lock: 'iommu_lock', describe: (v) => pfnOf(v) },
    [IOMMU_PAGES]: { size: 'pages', max: 1, lock: 'iommu_lock', describe: (v) => (v ? 'io-pgtable table page' : null) },
  };
}

// ------------------------------------------------------------------ reading the pool

/** The pages in CPU `cpu`'s memcache, bottom first. */
export function memcachePages(r: StateReader, cpu: number): number[] {
  const n = r.config.memcache;
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const v = r.ext(MEMCACHE, cpu * n + k);
    if (v === 0) break;
    out.push(v - 1);
  }
  return out;
}

/** Whether a page is in any CPU's memcache. */
export function inMemcache(r: StateReader, pfn: number): boolean {
  for (let c = 0; c < memcacheCpus(r.config); c++) if (memcachePages(r, c).includes(pfn)) return true;
  return false;
}

/** Index of a level-1 entry in `iopt_table`. */
export function ioptTableIndex(config: PkvmConfig, domain: number, idx: number): number {
  return domain * (config.iovas / IOPT_BLOCK_PAGES) + idx;
}

/** Pages the pool holds: in a memcache, or handed out as table pages. */
export function poolPages(r: StateReader): number {
  let n = 0;
  for (let c = 0; c < memcacheCpus(r.config); c++) n += memcachePages(r, c).length;
  for (let p = 0; p < r.nrPages; p++) n += r.ext(IOMMU_PAGES, p);
  return n;
}

/** A page the host has given to the pool: in a memcache, or a table page (outside a call's contract). */
export function isPoolPage(r: StateReader, pfn: number): boolean {
  return r.ext(IOMMU_PAGES, pfn) === 1 || inMemcache(r, pfn);
}
