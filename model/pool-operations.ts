/**
 * The host's side of the SMMU driver's memcache (--memcache N), as RFC v1's host driver does it
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-kvm.c): kvm_call_hyp_nvhe_mc() issues a hypercall,
 * and while the hypervisor reports that it needs a page (-ENOMEM with needs_page set) tops the
 * memcache of its CPU up with one page and calls again; after the call it frees what the
 * hypervisor pushed back. The model splits that loop into the steps the host takes: the
 * hypercall (which returns -ENOMEM), kvm_arm_smmu_topup_memcache, the hypercall again, and
 * kvm_arm_smmu_reclaim_memcache, so that every order of them, and every page, is explored.
 */
import { PKVM_PAGE_OWNED } from './constants.ts';
import { totalPages, type PkvmConfig } from './config.ts';
import type { Hyp } from './kernel/hyp.ts';
import type { StateReader } from './memory.ts';
import type { OperationSpec } from './operations.ts';
import { MEMCACHE, NEEDS_PAGE, inMemcache, memcacheCpus, poolPages } from './pool.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Some CPU's allocation found its memcache empty. */
function needsPage(s: StateReader): boolean {
  for (let c = 0; c < memcacheCpus(s.config); c++) if (s.ext(NEEDS_PAGE, c)) return true;
  return false;
}

/** A page the honest host's allocator could hand out: host-owned, unused, not in a memcache already. */
function freeHostPage(s: StateReader, pfn: number): boolean {
  const pte = s.hostPte(pfn);
  const owned = pte.kind === 'zero' || (pte.kind === 'valid' && pte.state === PKVM_PAGE_OWNED);
  return owned && s.hypPte(pfn) === null && s.refcount(pfn) === 0 && !inMemcache(s, pfn);
}

export const POOL_OPERATIONS: readonly OperationSpec[] = [
  {
    name: 'kvm_arm_smmu_topup_memcache',
    actor: 'host',
    hosts: ['driver', 'iommu', 'adversarial'],
    description:
      "The host puts one of its pages on its CPU's SMMU memcache (__topup_hyp_memcache), for the hypervisor to take as a table page; the driver does it when the hypervisor said it needs a page, an untrusted host with any page at any time.",
    argFormats: { pfn: 'num' },
    staticArgs: (c: PkvmConfig) => range(c.host === 'driver' ? c.ramPages : totalPages(c)).map((pfn) => ({ pfn })),
    enabled(s, a, c) {
      if (poolPages(s) >= c.memcache) return false; // the host gives the pool at most --memcache pages
      return c.host !== 'driver' || (needsPage(s) && freeHostPage(s, a.pfn as number));
    },
    run(hyp: Hyp, a) {
      const cpu = hyp.hyp_smp_processor_id();
      hyp.mem.setExt(NEEDS_PAGE, cpu, 0);
      hyp.push_hyp_memcache(cpu, a.pfn as number);
      return 0;
    },
  },
  {
    name: 'kvm_arm_smmu_reclaim_memcache',
    actor: 'host',
    hosts: ['driver', 'iommu', 'adversarial'],
    description: "The host frees the pages on its CPU's SMMU memcache (__free_hyp_memcache): the ones the hypervisor gave back, and the ones it did not take.",
    argFormats: {},
    staticArgs: () => [{}],
    enabled(s, _a, c) {
      for (let k = 0; k < memcacheCpus(c) * c.memcache; k++) if (s.ext(MEMCACHE, k) !== 0) return true;
      return false;
    },
    run(hyp: Hyp) {
      const cpu = hyp.hyp_smp_processor_id();
      while (hyp.pop_hyp_memcache(cpu) >= 0);
      return 0;
    },
  },
];
