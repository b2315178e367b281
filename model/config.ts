/**
 * Bounds of a model instance. Every field is a small number so that the state space is finite;
 * `validateConfig` rejects impossible combinations with a message a user can act on.
 */

export type HostBehaviour = 'driver' | 'iommu' | 'adversarial';

export const HOST_BEHAVIOURS: Record<HostBehaviour, string> = {
  driver:
    'the host is the Linux driver: it reaches share/unshare_dma only through IOMMU map/unmap of free IOVA ranges and of its own memory, split into page sizes as the IOMMU core does',
  iommu:
    'the host is untrusted but, as in RFC v1, reaches share/unshare_dma only through the IOMMU map/unmap hypercalls, with any arguments',
  adversarial:
    'the host is untrusted: any hypercall with any arguments within the bounds, including direct calls of __pkvm_host_share_dma / __pkvm_host_unshare_dma',
};

export interface PkvmConfig {
  /** RAM pages (one memblock region, pfns 0..ramPages-1). */
  readonly ramPages: number;
  /** MMIO pages, right after RAM in the physical map. */
  readonly mmioPages: number;
  /** How many of the MMIO pages (the first ones, next to RAM) have a backed hyp vmemmap entry. */
  readonly mmioBacked: number;
  /** SMMU domains, each with its own io-pgtable. */
  readonly domains: number;
  /** IOVA page slots per domain; a multiple of the block size (2 pages) and a power of two. */
  readonly iovas: number;
  /** Guests (protected VMs). */
  readonly guests: number;
  /** IPA page slots per guest. */
  readonly guestIpas: number;
  /** Width of hyp_page.refcount in bits; the atomic helpers BUG when it goes negative as a signed value. */
  readonly refcountBits: number;
  /**
   * The hyp_page refcount helpers: the seed's base's atomic ones (absent: nvhe/refcount.h, BUG on
   * a negative signed result) or 'upstream' (nvhe/memory.h: plain read-modify-write, BUG at the
   * maximum before an increment, at 0 before a decrement, and in hyp_set_page_refcounted on a
   * nonzero count). Left out of the configuration unless upstream, so traces stay as they were.
   */
  readonly refcountHelpers?: 'upstream';
  /**
   * The lock ranks of the lock-order invariant: absent, the seed's tree (mem_protect.h: host
   * before hyp; pkvm_pgd_lock and a VM's lock are never held together), or 'distinct' (the later
   * trees, where __pkvm_guest_share_hyp_page takes the hyp lock and then the VM's lock: host,
   * hyp, then a VM's lock, each its own rank; two VMs' locks still never nest). Left out of the
   * configuration unless distinct.
   */
  readonly lockRanks?: 'distinct';
  /** Largest range, in pages, that a host call passes (share_dma size, donate nr_pages, map pgcount). */
  readonly maxRange: number;
  /** Most times the hypervisor pins one page (hyp_pin_shared_mem). */
  readonly maxPins: number;
  readonly host: HostBehaviour;
  /** CPUs: 1 runs each operation atomically; 2 or more run them step by step, interleaved. */
  readonly cpus: number;
  /** Model each SMMU domain's IOTLB (cached translations, until invalidated). */
  readonly iotlb: boolean;
  /** Context bound: at most this many preemptions on a path (-1: unbounded). */
  readonly preemptions: number;
  /**
   * Concurrent mode: the most values a CPU's call record holds (what the call read so far, and
   * what its first writes replaced); a call that needs more is an error that names this bound.
   */
  readonly cpuLog: number;
  /**
   * State accesses one step may make (a sequential call, or a CPU's step with its replay): a step
   * that goes past it is kernel code that does not return, reported as a hang (no-hang).
   */
  readonly stepBudget: number;
  /**
   * The SMMU driver's per-CPU memcache (kvm_hyp_iommu_memcaches): 0 leaves page-table pages out
   * of the model (always available); N >= 1 takes io-pgtable table pages from a memcache the host
   * tops up, with at most N pages given to it (model/pool.ts).
   */
  readonly memcache: number;
  /**
   * SMMU domains are allocated, attached, detached and freed by hypercalls (kvm_iommu_alloc_domain
   * and friends) instead of existing from the start (model/lifecycle.ts).
   */
  readonly domainLifecycle?: boolean;
  /** Endpoints (stream IDs) that can be attached to a domain, with --domain-lifecycle. */
  readonly endpoints?: number;
}

export const DEFAULT_CONFIG: PkvmConfig = Object.freeze({
  ramPages: 2,
  mmioPages: 1,
  mmioBacked: 0,
  domains: 2,
  iovas: 2,
  guests: 1,
  guestIpas: 1,
  refcountBits: 16,
  maxRange: 2,
  maxPins: 1,
  host: 'driver' as HostBehaviour,
  cpus: 1,
  iotlb: false,
  preemptions: -1,
  cpuLog: 64,
  stepBudget: 1_000_000,
  memcache: 0,
});

/** Endpoints with --domain-lifecycle when the configuration does not say. */
export const DEFAULT_ENDPOINTS = 2;

/** Limits that keep a configuration explorable and representable in the compact encoding. */
export const CONFIG_LIMITS = {
  pages: 16,
  domains: 8,
  iovas: 16,
  guests: 4,
  guestIpas: 8,
  refcountBits: { min: 2, max: 16 },
  maxRange: 4,
  maxPins: 4,
  cpus: 4,
  cpuLog: 255,
  stepBudget: 1_000_000_000,
  memcache: 4,
  endpoints: 4,
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Largest value hyp_page.refcount can hold before a helper BUGs (the signed check; upstream, USHRT_MAX). */
export function refcountMax(config: PkvmConfig): number {
  return config.refcountHelpers === 'upstream' ? 2 ** config.refcountBits - 1 : 2 ** (config.refcountBits - 1) - 1;
}

export function validateConfig(c: PkvmConfig): PkvmConfig {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max)
      throw new ConfigError(`--${name} must be an integer from ${min} to ${max} (got ${v})`);
  };
  int('ram-pages', c.ramPages, 1, CONFIG_LIMITS.pages);
  int('mmio-pages', c.mmioPages, 0, CONFIG_LIMITS.pages);
  if (c.ramPages + c.mmioPages > CONFIG_LIMITS.pages)
    throw new ConfigError(
      `--ram-pages + --mmio-pages must be at most ${CONFIG_LIMITS.pages} (got ${c.ramPages + c.mmioPages})`,
    );
  int('mmio-backed', c.mmioBacked, 0, c.mmioPages);
  int('domains', c.domains, 0, CONFIG_LIMITS.domains);
  int('iovas', c.iovas, 2, CONFIG_LIMITS.iovas);
  if (!isPowerOfTwo(c.iovas))
    throw new ConfigError(`--iovas must be a power of two, so that the io-pgtable indexes wrap as the hardware's do (got ${c.iovas})`);
  int('guests', c.guests, 0, CONFIG_LIMITS.guests);
  int('guest-ipas', c.guestIpas, 1, CONFIG_LIMITS.guestIpas);
  int('refcount-bits', c.refcountBits, CONFIG_LIMITS.refcountBits.min, CONFIG_LIMITS.refcountBits.max);
  int('max-range', c.maxRange, 1, CONFIG_LIMITS.maxRange);
  int('max-pins', c.maxPins, 0, CONFIG_LIMITS.maxPins);
  if (!(c.host in HOST_BEHAVIOURS))
    throw new ConfigError(`--host must be one of ${Object.keys(HOST_BEHAVIOURS).join(', ')} (got ${String(c.host)})`);
  const cpus = c.cpus ?? 1;
  int('cpus', cpus, 1, CONFIG_LIMITS.cpus);
  const preemptions = c.preemptions ?? -1;
  if (!Number.isInteger(preemptions) || preemptions < -1 || preemptions > 255) throw new ConfigError(`--preemptions must be an integer from 0 to 255 (got ${preemptions})`);
  if (preemptions >= 0 && cpus < 2) throw new ConfigError('--preemptions bounds the interleaving of CPUs: it needs --cpus 2 or more');
  const cpuLog = c.cpuLog ?? DEFAULT_CONFIG.cpuLog;
  int('cpu-log', cpuLog, 8, CONFIG_LIMITS.cpuLog);
  const stepBudget = c.stepBudget ?? DEFAULT_CONFIG.stepBudget;
  int('step-budget', stepBudget, 100, CONFIG_LIMITS.stepBudget);
  const memcache = c.memcache ?? 0;
  int('memcache', memcache, 0, CONFIG_LIMITS.memcache);
  // the domain lifecycle's fields are left out when it is off (configurations, traces and checkpoints stay as they were)
  const lifecycle: Partial<PkvmConfig> = {};
  if (c.domainLifecycle) {
    const endpoints = c.endpoints ?? DEFAULT_ENDPOINTS;
    int('endpoints', endpoints, 1, CONFIG_LIMITS.endpoints);
    Object.assign(lifecycle, { domainLifecycle: true, endpoints });
  } else if (c.endpoints !== undefined) throw new ConfigError('--endpoints counts the endpoints attached to domains: it needs --domain-lifecycle');
  const helpers = (c as { refcountHelpers?: string }).refcountHelpers;
  if (helpers !== undefined && helpers !== 'atomic' && helpers !== 'upstream')
    throw new ConfigError(`--refcount-helpers must be atomic or upstream (got ${String(helpers)})`);
  const ranks = (c as { lockRanks?: string }).lockRanks;
  if (ranks !== undefined && ranks !== 'shared' && ranks !== 'distinct')
    throw new ConfigError(`--lock-ranks must be shared or distinct (got ${String(ranks)})`);
  const { domainLifecycle: _l, endpoints: _e, refcountHelpers: _h, lockRanks: _r, ...rest } = c;
  return Object.freeze({
    ...rest,
    cpus,
    iotlb: c.iotlb ?? false,
    preemptions,
    cpuLog,
    stepBudget,
    memcache,
    ...lifecycle,
    ...(helpers === 'upstream' ? { refcountHelpers: 'upstream' as const } : {}),
    ...(ranks === 'distinct' ? { lockRanks: 'distinct' as const } : {}),
  });
}

export function totalPages(c: PkvmConfig): number {
  return c.ramPages + c.mmioPages;
}
