/**
 * The SMMU domain lifecycle (--domain-lifecycle): domains are allocated, attached to endpoints,
 * detached and freed by the host's hypercalls (kvm_iommu_alloc_domain, kvm_iommu_attach_dev,
 * kvm_iommu_detach_dev, kvm_iommu_free_domain in hyp iommu.c) instead of existing from the start.
 *
 * Its state is two arrays kept as state extensions (so the three engines and the CPUs handle it
 * as they handle a variant's state): each domain's reference count (struct kvm_hyp_iommu_domain
 * .refs: 0 free, 1 allocated, +1 per attached endpoint) and each endpoint's stream table entry
 * (the SMMU's STE: 0 invalid, 1 + the domain whose io-pgtable it points to). Both are changed
 * under iommu_lock, as in RFC v1. Without the flag there is neither, and every domain reads as
 * allocated (refs 1) with no endpoint tracked, the model as it was.
 */
import type { PkvmConfig } from './config.ts';
import type { StateReader } from './memory.ts';
import type { StateExtensions } from './state.ts';
import { poolState } from './pool.ts';

/** struct kvm_hyp_iommu_domain.refs, per domain. */
export const DOMAIN_REFS = 'kvm_hyp_iommu_domain.refs';
/** The stream table entry of each endpoint: 0 invalid, 1 + domain when it translates through that domain. */
export const STE = 'smmu.ste';

export function lifecycleOn(config: PkvmConfig): boolean {
  return config.domainLifecycle === true;
}

export function endpointCount(config: PkvmConfig): number {
  return lifecycleOn(config) ? (config.endpoints ?? 0) : 0;
}

/** The state the lifecycle adds to a configuration (none without the flag). */
export function lifecycleExtensions(config: PkvmConfig): StateExtensions {
  if (!lifecycleOn(config)) return {};
  return {
    [DOMAIN_REFS]: {
      size: config.domains,
      // 1 + every endpoint attached: the hyp stops at this bound (UINT_MAX in the kernel)
      max: 1 + endpointCount(config),
      lock: 'iommu_lock',
      describe: (v, d) => (v === 0 ? null : `domain ${d}: refs ${v}`),
    },
    [STE]: {
      size: endpointCount(config),
      max: config.domains,
      lock: 'iommu_lock',
      describe: (v, e) => (v === 0 ? null : `endpoint ${e}: STE -> domain ${v - 1}`),
    },
  };
}

/**
 * A variant's state extensions with those of the configuration: the page pool's (--memcache,
 * model/pool.ts) and the domain lifecycle's. The same object when the configuration adds none.
 */
export function modelExtensions(config: PkvmConfig, state: StateExtensions = {}): StateExtensions {
  const pool = poolState(config);
  if (!lifecycleOn(config) && !Object.keys(pool).length) return state;
  return { ...state, ...pool, ...(lifecycleOn(config) ? lifecycleExtensions(config) : {}) };
}

/** A domain's refs as stored (1 without the lifecycle: every domain is allocated). */
export function domainRefs(r: StateReader, domain: number): number {
  return lifecycleOn(r.config) ? r.ext(DOMAIN_REFS, domain) : 1;
}

/** The domain an endpoint's STE points to, or -1. */
export function steDomain(r: StateReader, endpoint: number): number {
  return r.ext(STE, endpoint) - 1;
}

/** Whether some endpoint translates through the domain (always, without the lifecycle: a device is attached to every domain). */
export function domainAttached(r: StateReader, domain: number): boolean {
  if (!lifecycleOn(r.config)) return true;
  for (let e = 0, n = endpointCount(r.config); e < n; e++) if (steDomain(r, e) === domain) return true;
  return false;
}
