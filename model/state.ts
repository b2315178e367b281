/**
 * The abstract machine state: every component's page tables, the hyp vmemmap and the SMMU
 * io-pgtables, as frozen plain data. One entry per physical page frame (pfn) of the model.
 */
import { freeze } from 'immer';
import { IOPT_BLOCK_PAGES, type AnnotationOwner, type StoredPageState } from './constants.ts';
import { type PkvmConfig, totalPages } from './config.ts';

/** A host stage-2 leaf for one page (host_mmu.pgt, identity mapped). */
export type HostPte =
  /** Never faulted in, or unmapped again: the host owns it and maps it lazily on a fault. */
  | { readonly kind: 'zero' }
  /** Valid identity mapping, page state in the software bits. */
  | { readonly kind: 'valid'; readonly state: StoredPageState }
  /** Invalid, annotated with the id of the component that owns the page. */
  | { readonly kind: 'annot'; readonly owner: AnnotationOwner };

/** struct hyp_page: one vmemmap entry, `null` where the vmemmap is not backed by memory. */
export interface HypPage {
  readonly refcount: number;
  readonly flags: number;
}

/** A guest stage-2 leaf. */
export interface GuestPte {
  readonly pfn: number;
  readonly state: StoredPageState;
}

export interface GuestVm {
  /** Torn down (__pkvm_teardown_vm): its stage-2 is gone and its pages await reclaim. */
  readonly dying: boolean;
  /** Stage-2 leaves by IPA page index. */
  readonly s2: readonly (GuestPte | null)[];
}

/** Level-1 entry of an SMMU io-pgtable: empty, a block of IOPT_BLOCK_PAGES pages, or a table of page leaves. */
export type IoPte =
  | null
  | { readonly type: 'block'; readonly pfn: number }
  | { readonly type: 'table'; readonly ptes: readonly (number | null)[] };

export interface IommuDomain {
  readonly pgd: readonly IoPte[];
}

export type FailureKind = 'BUG_ON' | 'WARN_ON' | 'vmemmap-fault' | 'uninitialised' | 'hang' | 'lock-assert';

/** A hypervisor failure: a BUG_ON or a fault stops the hypervisor, a WARN_ON or a garbage return does not. */
export interface HypFailure {
  readonly kind: FailureKind;
  /** Kernel function where it happened. */
  readonly where: string;
  readonly detail: string;
}

export function isFatal(kind: FailureKind): boolean {
  return kind === 'BUG_ON' || kind === 'vmemmap-fault' || kind === 'hang';
}

/**
 * Bookkeeping the specification needs and the hypervisor does not keep: who holds which of a
 * page's references. Updated only where the kernel's contract says a reference is taken or dropped.
 */
export interface Ghost {
  /** Pins taken by hyp_pin_shared_mem and not yet released. */
  readonly pins: readonly number[];
  /** References the hyp page allocator holds on a hyp-owned page. */
  readonly pool: readonly number[];
  /** Successful direct __pkvm_host_share_dma calls not yet undone (adversarial host only). */
  readonly dmaRefs: readonly number[];
}

export interface PkvmState {
  readonly hostS2: readonly HostPte[];
  /** Hyp stage-1 linear map of each page: the state bits of the mapping, or null when unmapped. */
  readonly hypS1: readonly (StoredPageState | null)[];
  readonly vmemmap: readonly (HypPage | null)[];
  readonly vms: readonly GuestVm[];
  readonly iommu: readonly IommuDomain[];
  readonly ghost: Ghost;
  /** Set once the hypervisor has stopped (BUG, fault, hang); no action is enabled afterwards. */
  readonly panic: HypFailure | null;
  /** State a variant adds (e.g. page state bits in struct hyp_page), by name: arrays of small integers. */
  readonly ext: Readonly<Record<string, readonly number[]>>;
  /** Concurrent mode (cpus >= 2): each CPU's operation in progress; empty otherwise. */
  readonly cpus: readonly CpuState[];
  /** Concurrent mode: the owner of each lock (a CPU index, or -1 when free), by LOCK_IDS order. */
  readonly locks: readonly number[];
  /** SMMU IOTLBs (when modelled): per domain, per IOVA page slot, the cached page or null. */
  readonly iotlb: readonly (readonly (number | null)[])[];
  /** Context bounding (when a preemption bound is set): the CPU that ran last and the preemptions so far. */
  readonly sched: { readonly last: number; readonly preemptions: number } | null;
}

/**
 * A CPU's call in progress (concurrent mode). The call is the same kernel code the sequential
 * model runs; it stops at interleaving points (see model/concurrent/cpu-memory.ts), and its next
 * step runs the code again from the start on what it read so far (`log`), up to the point where
 * it stopped, then on the live state. So a call's locals are never spelled out: they follow from
 * its arguments and what it read.
 */
export interface CpuState {
  /** 1 + the index of the action (operation and arguments) the CPU runs; 0 when idle. */
  readonly op: number;
  /** 1 + the id of the lock the CPU waits for; 0 when it is not waiting. */
  readonly wait: number;
  /** The interleaving point (numbered from 0 in the order the call meets them) where the next step goes on. */
  readonly resume: number;
  /** What the call read so far, and the value each of its first writes of a location replaced, in order (codes, see cpu-memory.ts). */
  readonly log: readonly number[];
}

export const IDLE_CPU: CpuState = freeze({ op: 0, wait: 0, resume: 0, log: [] }, true);

/** Lock ids in states: the fixed locks, then one per VM. */
export const FIXED_LOCKS = ['host_mmu.lock', 'pkvm_pgd_lock', 'iommu_lock', 'hyp_pool.lock'] as const;

export function lockCount(config: PkvmConfig): number {
  return FIXED_LOCKS.length + config.guests;
}

/** A piece of state a variant adds: an array of small non-negative integers. */
export interface StateExtension {
  /** One entry per page of the model, or a fixed number of entries. */
  readonly size: 'pages' | number;
  /** Largest value an entry holds (at most 65535). */
  readonly max: number;
  /** Initial value of each entry (default 0), or a function of the index. */
  readonly initial?: number | ((index: number, config: PkvmConfig) => number);
  /** How an entry is printed in traces (null: leave it out). */
  readonly describe?: (value: number, index: number) => string | null;
  /**
   * The lock that protects it from other CPUs (with several CPUs, an access under this lock is
   * no interleaving point). Without one, every access by a CPU is a point.
   */
  readonly lock?: 'host_mmu.lock' | 'pkvm_pgd_lock' | 'iommu_lock' | 'hyp_pool.lock';
}

export type StateExtensions = Readonly<Record<string, StateExtension>>;

export function extensionLength(e: StateExtension, config: PkvmConfig): number {
  return e.size === 'pages' ? totalPages(config) : e.size;
}

export const ZERO_PTE: HostPte = freeze({ kind: 'zero' });

export function isRam(config: PkvmConfig, pfn: number): boolean {
  return pfn >= 0 && pfn < config.ramPages;
}

export function isBacked(config: PkvmConfig, pfn: number): boolean {
  return isRam(config, pfn) || (pfn >= config.ramPages && pfn < config.ramPages + config.mmioBacked);
}

/** The state right after pKVM initialisation: the host owns everything, nothing is mapped yet. */
export function initialState(config: PkvmConfig, extensions: StateExtensions = {}): PkvmState {
  const n = totalPages(config);
  const zeros = () => Array.from({ length: n }, () => 0);
  const blocks = config.iovas / IOPT_BLOCK_PAGES;
  return freeze(
    {
      hostS2: Array.from({ length: n }, () => ZERO_PTE),
      hypS1: Array.from({ length: n }, () => null),
      vmemmap: Array.from({ length: n }, (_, pfn) => (isBacked(config, pfn) ? { refcount: 0, flags: 0 } : null)),
      vms: Array.from({ length: config.guests }, () => ({
        dying: false,
        s2: Array.from({ length: config.guestIpas }, () => null),
      })),
      iommu: Array.from({ length: config.domains }, () => ({ pgd: Array.from({ length: blocks }, () => null) })),
      ghost: { pins: zeros(), pool: zeros(), dmaRefs: zeros() },
      panic: null,
      ext: Object.fromEntries(
        Object.keys(extensions)
          .sort()
          .map((name) => {
            const e = extensions[name];
            return [name, Array.from({ length: extensionLength(e, config) }, (_, i) => (typeof e.initial === 'function' ? e.initial(i, config) : (e.initial ?? 0)))];
          }),
      ),
      cpus: config.cpus > 1 ? Array.from({ length: config.cpus }, () => IDLE_CPU) : [],
      locks: config.cpus > 1 ? Array.from({ length: lockCount(config) }, () => -1) : [],
      iotlb: config.iotlb ? Array.from({ length: config.domains }, () => Array.from({ length: config.iovas }, () => null)) : [],
      sched: config.preemptions >= 0 ? { last: -1, preemptions: 0 } : null,
    },
    true,
  );
}

/** Structural equality of two states (or any two pieces of plain state data). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}
