/**
 * The hypervisor's primitives: failure reporting (BUG_ON, WARN_ON, faults), the vmemmap and its
 * refcount helpers (nvhe/memory.h, nvhe/refcount.h of the seed's base), locks, and the page-table
 * leaf operations that mem_protect.c builds on (kvm_pgtable_* for the host, hyp and guest tables).
 *
 * A hypercall runs on an immer draft of the state and mutates it as the C code mutates memory.
 * Failures are values: a fatal one records a snapshot of the state at that instant and makes every
 * later change irrelevant; the step then ends in that snapshot with `panic` set.
 */
import type { Draft } from 'immer';
import {
  PAGE_SHIFT,
  PAGE_SIZE,
  PHYS_BASE,
  PKVM_ID_HOST,
  RET_HYP_PANIC,
  type AnnotationOwner,
  type ComponentId,
  type StoredPageState,
} from '../constants.ts';
import type { PkvmConfig } from '../config.ts';
import { guestPteOf, type Memory } from '../memory.ts';
import { ZERO_PTE, isBacked, isFatal, isRam, type FailureKind, type GuestPte, type HostPte, type HypFailure, type PkvmState } from '../state.ts';

export type Lock = 'host_mmu.lock' | 'pkvm_pgd_lock' | 'iommu_lock' | 'hyp_pool.lock' | `vm[${number}].lock`;

/** A lock taken during a step, and the locks its CPU held then (for the lock-order check). */
export interface Acquisition {
  readonly lock: Lock;
  readonly held: readonly Lock[];
}

/** A hypercall nested in a host operation (the driver's IOMMU core issues several). */
export interface SubCall {
  readonly call: string;
  readonly ret: number;
}

/** A SubCall whose text is formatted only when read (most steps are never printed). */
class LazySubCall implements SubCall {
  readonly #fmt: () => string;
  constructor(
    fmt: () => string,
    readonly ret: number,
  ) {
    this.#fmt = fmt;
  }
  get call(): string {
    return this.#fmt();
  }
  toJSON(): SubCall {
    return { call: this.call, ret: this.ret };
  }
}

/** Everything one step observed besides the next state. */
export interface ExecutionRecord {
  failures: HypFailure[];
  /** Named branches taken (for coverage and for explaining a trace). */
  branches: string[];
  subcalls: SubCall[];
  /** Pages a device, the host or a guest accessed in this step. */
  accesses: { by: string; pfn: number }[];
  /** Locks taken in this step. */
  acquisitions: Acquisition[];
  /**
   * SMMU translations the call removed or changed without invalidating them before it returned
   * (one CPU, IOTLB not modelled): what a device may still use from its IOTLB.
   */
  staleTlb: StaleTranslation[];
}

/** A translation an IOTLB may still hold: domain, IOVA page slot, and the page it translated to. */
export interface StaleTranslation {
  readonly domain: number;
  readonly slot: number;
  readonly pfn: number;
}

/** Shared empty list: records allocate only when something happens. */
const NONE: never[] = [];

/** A failure's detail, or a function that formats it (only called when the failure happens). */
export type Detail = string | (() => string);

export class HypBase {
  /** The memory of the step: every read and write of the state goes through it. */
  mem: Memory;
  readonly config: PkvmConfig;
  rec: ExecutionRecord = { failures: NONE, branches: NONE, subcalls: NONE, accesses: NONE, acquisitions: NONE, staleTlb: NONE };
  /** Concurrent mode: the CPU running this step (-1 in sequential mode, where locks are the step's own). */
  cpu = -1;
  /**
   * Concurrent mode: the part of a call that is replayed (its earlier steps) records nothing:
   * its failures, branches, accesses and acquisitions were reported when it first ran.
   */
  quiet = false;
  /** Set by the first fatal failure; later code runs on but its effects are dropped. */
  fatal: HypFailure | null = null;
  /** The state at the instant of the fatal failure, in the memory's representation. */
  fatalSnapshot: unknown = null;
  /** Locks held, one bit each (see lockBit). */
  private heldMask = 0;

  private readonly refcountModulus: number;

  constructor(mem: Memory, config: PkvmConfig) {
    this.mem = mem;
    this.config = config;
    this.refcountModulus = 2 ** config.refcountBits;
  }

  /** Starts a new step on another memory (the packed engine reuses one hypervisor object). */
  reset(mem: Memory): void {
    this.mem = mem;
    this.rec = { failures: NONE, branches: NONE, subcalls: NONE, accesses: NONE, acquisitions: NONE, staleTlb: NONE };
    this.fatal = null;
    this.fatalSnapshot = null;
    this.heldMask = 0;
    this.cpu = -1;
    this.quiet = false;
    this.resetStep();
  }

  /** Per-step state of subclasses (cleared when a reused hypervisor object starts a step). */
  protected resetStep(): void {}

  /**
   * The state object itself (an immer draft), for variant code that prefers plain property
   * access. Only the readable engine provides it; the built-in code goes through `mem`.
   */
  get s(): Draft<PkvmState> {
    return this.mem.draft();
  }

  // ---------------------------------------------------------------- failures

  protected fail(kind: FailureKind, where: string, detail: Detail): void {
    if (this.fatal || this.quiet) return;
    const f: HypFailure = { kind, where, detail: typeof detail === 'function' ? detail() : detail };
    if (this.rec.failures === NONE) this.rec.failures = [];
    this.rec.failures.push(f);
    if (isFatal(kind)) {
      this.fatal = f;
      this.fatalSnapshot = this.mem.snapshot();
    }
  }

  /** BUG_ON(cond): the hypervisor panics. Returns cond, so callers can bail out. */
  BUG_ON(cond: boolean, where: string, detail: Detail): boolean {
    if (cond) this.fail('BUG_ON', where, detail);
    return cond;
  }

  /** WARN_ON(cond): reported at EL2, execution continues. Returns cond, as the kernel's macro does. */
  WARN_ON(cond: boolean, where: string, detail: Detail): boolean {
    if (cond) this.fail('WARN_ON', where, detail);
    return cond;
  }

  /** A read of a variable that was never assigned; the model continues with a non-zero garbage value. */
  uninitialised(where: string, detail: Detail): void {
    this.fail('uninitialised', where, detail);
  }

  /** A loop that cannot make progress: the CPU never leaves EL2. */
  hang(where: string, detail: Detail): void {
    this.fail('hang', where, detail);
  }

  /** Records that a named branch of the code was taken. */
  branch(name: string): void {
    if (this.quiet) return;
    if (this.rec.branches === NONE) this.rec.branches = [];
    this.rec.branches.push(name);
  }

  /** Records a nested hypercall (formatted only if somebody reads it). */
  recordSubcall(fmt: () => string, ret: number): void {
    if (this.quiet) return;
    if (this.rec.subcalls === NONE) this.rec.subcalls = [];
    this.rec.subcalls.push(new LazySubCall(fmt, ret));
  }

  /** Records that someone accessed a page (a device, the host, a guest). */
  recordAccess(by: string, pfn: number): void {
    if (this.quiet) return;
    if (this.rec.accesses === NONE) this.rec.accesses = [];
    this.rec.accesses.push({ by, pfn });
  }

  /** Records a translation a device may still use from its IOTLB after the call (see IoPgtableArm). */
  recordStaleTranslation(t: StaleTranslation): void {
    if (this.quiet) return;
    if (this.rec.staleTlb === NONE) this.rec.staleTlb = [];
    this.rec.staleTlb.push(t);
  }

  // ---------------------------------------------------------------- addresses

  get nrPages(): number {
    return this.mem.nrPages;
  }

  hyp_phys_to_pfn(phys: number): number {
    return Math.floor((phys - PHYS_BASE) / PAGE_SIZE);
  }

  hyp_pfn_to_phys(pfn: number): number {
    return PHYS_BASE + pfn * PAGE_SIZE;
  }

  /** Inside a memblock region (the model has one: all RAM pages). */
  addr_is_memory(phys: number): boolean {
    return isRam(this.config, this.hyp_phys_to_pfn(phys));
  }

  /** Memory and not MEMBLOCK_NOMAP (the model has no NOMAP region). */
  addr_is_allowed_memory(phys: number): boolean {
    return this.addr_is_memory(phys);
  }

  /** [start, end) lies inside one memblock region. */
  range_is_memory(start: number, end: number): boolean {
    return this.addr_is_memory(start) && this.addr_is_memory(end - 1);
  }

  PAGE_ALIGNED(x: number): boolean {
    return x % PAGE_SIZE === 0;
  }

  // ---------------------------------------------------------------- vmemmap

  /** struct hyp_page *: in C plain pointer arithmetic; the model keeps the pfn and checks backing on access. */
  hyp_phys_to_page(phys: number): number {
    return this.hyp_phys_to_pfn(phys);
  }

  /** Touch a vmemmap entry. An unbacked entry takes an EL2 translation fault (hyp panic); returns whether it is backed. */
  protected vmemmap_entry(pfn: number, where: string): boolean {
    if (pfn >= 0 && pfn < this.nrPages && isBacked(this.config, pfn)) return true;
    this.fail(
      'vmemmap-fault',
      where,
      `hyp_vmemmap entry of pfn ${pfn} (phys ${hex(this.hyp_pfn_to_phys(pfn))}) is not backed: EL2 translation fault`,
    );
    return false;
  }

  /** The stored unsigned value read as the signed type of the atomic helpers. */
  private asSigned(v: number): number {
    return v >= this.refcountModulus / 2 ? v - this.refcountModulus : v;
  }

  /**
   * __hyp_refcount_fetch_add (nvhe/refcount.h of the seed's base): an atomic 16-bit add that
   * BUGs when the new value is negative as a signed number, i.e. on overflow past 2^(bits-1)-1
   * and on underflow below 0. Returns the new value.
   */
  protected __hyp_refcount_fetch_add(pfn: number, addend: number, where: string): number {
    if (!this.vmemmap_entry(pfn, where)) return RET_HYP_PANIC;
    // one atomic access (with several CPUs: one interleaving point)
    this.mem.atomicBegin?.(`${where}(pfn ${pfn})`);
    const next = (((this.mem.refcount(pfn) + addend) % this.refcountModulus) + this.refcountModulus) % this.refcountModulus;
    this.mem.setRefcount(pfn, next);
    this.mem.atomicEnd?.();
    const signed = this.asSigned(next);
    if (this.BUG_ON(signed < 0, where, () => `hyp_page.refcount of pfn ${pfn} ${addend > 0 ? 'overflows' : 'underflows'} (${this.config.refcountBits}-bit, now ${signed})`))
      return RET_HYP_PANIC;
    return signed;
  }

  /** Whether the refcount helpers are upstream's (nvhe/memory.h) rather than the seed's base's atomic ones. */
  private get upstreamRefcount(): boolean {
    return this.config.refcountHelpers === 'upstream';
  }

  /**
   * Upstream's hyp_page_ref_inc (nvhe/memory.h): `BUG_ON(p->refcount == USHRT_MAX); p->refcount++;`,
   * a plain read and a plain write (the pool lock must be held where atomicity is needed: with
   * several CPUs each is an access of its own). USHRT_MAX is the largest value of the modelled width.
   */
  private upstream_ref_inc(pfn: number, where: string): number {
    if (!this.vmemmap_entry(pfn, where)) return RET_HYP_PANIC;
    const rc = this.mem.refcount(pfn);
    if (this.BUG_ON(rc === this.refcountModulus - 1, where, () => `hyp_page.refcount of pfn ${pfn} is ${rc}, its maximum (USHRT_MAX of a ${this.config.refcountBits}-bit count)`)) return RET_HYP_PANIC;
    this.mem.setRefcount(pfn, rc + 1);
    return rc + 1;
  }

  /** Upstream's hyp_page_ref_dec: `BUG_ON(!p->refcount); p->refcount--;`. */
  private upstream_ref_dec(pfn: number, where: string): number {
    if (!this.vmemmap_entry(pfn, where)) return RET_HYP_PANIC;
    const rc = this.mem.refcount(pfn);
    if (this.BUG_ON(rc === 0, where, () => `hyp_page.refcount of pfn ${pfn} is 0`)) return RET_HYP_PANIC;
    this.mem.setRefcount(pfn, rc - 1);
    return rc - 1;
  }

  /**
   * hyp_page_ref_inc_return(p): the new value ("FIXME: be gentle with overflows"). Upstream has
   * none: there it is hyp_page_ref_inc() and then a read of the count.
   */
  hyp_page_ref_inc_return(pfn: number): number {
    if (!this.upstreamRefcount) return this.__hyp_refcount_fetch_add(pfn, 1, 'hyp_page_ref_inc_return');
    if (this.upstream_ref_inc(pfn, 'hyp_page_ref_inc') === RET_HYP_PANIC) return RET_HYP_PANIC;
    return this.mem.refcount(pfn);
  }

  hyp_page_ref_inc(pfn: number): void {
    if (this.upstreamRefcount) this.upstream_ref_inc(pfn, 'hyp_page_ref_inc');
    else this.__hyp_refcount_fetch_add(pfn, 1, 'hyp_page_ref_inc');
  }

  hyp_page_ref_dec(pfn: number): void {
    if (this.upstreamRefcount) this.upstream_ref_dec(pfn, 'hyp_page_ref_dec');
    else this.__hyp_refcount_fetch_add(pfn, -1, 'hyp_page_ref_dec');
  }

  /** Upstream: `hyp_page_ref_dec(p); return (p->refcount == 0);` (the count read again). */
  hyp_page_ref_dec_and_test(pfn: number): boolean {
    if (!this.upstreamRefcount) return this.__hyp_refcount_fetch_add(pfn, -1, 'hyp_page_ref_dec_and_test') === 0;
    if (this.upstream_ref_dec(pfn, 'hyp_page_ref_dec') === RET_HYP_PANIC) return false;
    return this.mem.refcount(pfn) === 0;
  }

  /** hyp_page_count(): READ_ONCE of the refcount (signed with the atomic helpers, unsigned short upstream). */
  hyp_page_count(pfn: number): number {
    if (!this.vmemmap_entry(pfn, 'hyp_page_count')) return RET_HYP_PANIC;
    const rc = this.mem.refcount(pfn);
    return this.upstreamRefcount ? rc : this.asSigned(rc);
  }

  /**
   * hyp_set_page_refcounted(): the seed's base WARNs if the count is not zero, upstream BUGs
   * (`BUG_ON(p->refcount)`); then it is 1.
   */
  hyp_set_page_refcounted(pfn: number): void {
    if (!this.vmemmap_entry(pfn, 'hyp_set_page_refcounted')) return;
    const rc = this.mem.refcount(pfn);
    if (this.upstreamRefcount) {
      if (this.BUG_ON(rc !== 0, 'hyp_set_page_refcounted', () => `refcount of pfn ${pfn} is ${rc}, not 0`)) return;
    } else this.WARN_ON(rc !== 0, 'hyp_set_page_refcounted', () => `refcount of pfn ${pfn} is ${rc}, not 0`);
    this.mem.setRefcount(pfn, 1);
  }

  page_flags(pfn: number): number {
    return this.vmemmap_entry(pfn, 'hyp_page.flags') ? this.mem.pageFlags(pfn) : 0;
  }

  set_page_flags(pfn: number, flags: number): void {
    if (this.vmemmap_entry(pfn, 'hyp_page.flags')) this.mem.setPageFlags(pfn, flags);
  }

  // ---------------------------------------------------------------- locks

  /**
   * hyp_spin_lock(). The locks a call holds are its own bookkeeping (one bit each), in both
   * modes; with several CPUs the lock's owner is also in the state, and taking it is an
   * interleaving point (the CPU may have to wait: see cpu-memory.ts). A spinlock is not
   * recursive: taking one the CPU holds spins forever.
   */
  hyp_spin_lock(lock: Lock): void {
    const bit = lockBit(lock);
    if (this.heldMask & bit) {
      this.hang('hyp_spin_lock', () => `${this.cpu >= 0 ? `CPU ${this.cpu}` : 'the CPU'} takes ${lock} again while holding it: a spinlock is not recursive (self-deadlock)`);
      return;
    }
    if (this.cpu >= 0) {
      const id = lockId(lock);
      this.mem.lockPoint?.(id);
      this.recordAcquisition(lock);
      this.mem.setLockOwner(id, this.cpu);
    } else this.recordAcquisition(lock);
    this.heldMask |= bit;
  }

  hyp_spin_unlock(lock: Lock): void {
    const bit = lockBit(lock);
    if (!(this.heldMask & bit)) {
      this.fail('lock-assert', 'hyp_spin_unlock', () => `${this.cpu >= 0 ? `CPU ${this.cpu}` : 'the CPU'} releases ${lock}, which it does not hold`);
      return;
    }
    this.heldMask &= ~bit;
    if (this.cpu >= 0) this.mem.setLockOwner(lockId(lock), -1);
  }

  /** Whether this CPU holds the lock. */
  holds(lock: Lock): boolean {
    return (this.heldMask & lockBit(lock)) !== 0;
  }

  holdsLockId(id: number): boolean {
    return (this.heldMask & (1 << id)) !== 0;
  }

  holdsNoLock(): boolean {
    return this.heldMask === 0;
  }

  /** The locks this CPU holds, in lock-id order (a shared frozen array). */
  heldLocks(): readonly Lock[] {
    return locksOfMask(this.heldMask);
  }

  /** A call returned to its caller still holding locks (sequential mode). */
  lockLeak(where: string, locks: readonly Lock[]): void {
    this.fail('lock-assert', where, () => `returns to its caller still holding ${locks.join(', ')}`);
  }

  protected recordAcquisition(lock: Lock): void {
    if (this.quiet) return;
    if (this.rec.acquisitions === NONE) this.rec.acquisitions = [];
    this.rec.acquisitions.push({ lock, held: this.heldLocks() });
  }

  /**
   * hyp_assert_lock_held(): compiled only in CONFIG_NVHE_EL2_DEBUG builds. The model follows a
   * production build (the acks skip their checks, see __host_ack_skip_pgtable_check) but still
   * records a failed assertion, as a lock-discipline fact rather than as a kernel WARN.
   */
  hyp_assert_lock_held(lock: Lock, where: string): void {
    if (!this.holds(lock)) this.fail('lock-assert', where, () => `hyp_assert_lock_held(&${lock}) fails: the lock is not held`);
  }

  host_lock_component(): void {
    this.hyp_spin_lock('host_mmu.lock');
  }

  host_unlock_component(): void {
    this.hyp_spin_unlock('host_mmu.lock');
  }

  hyp_lock_component(): void {
    this.hyp_spin_lock('pkvm_pgd_lock');
  }

  hyp_unlock_component(): void {
    this.hyp_spin_unlock('pkvm_pgd_lock');
  }

  guest_lock_component(vm: number): void {
    this.hyp_spin_lock(lockName(4 + vm));
  }

  guest_unlock_component(vm: number): void {
    this.hyp_spin_unlock(lockName(4 + vm));
  }

  // ---------------------------------------------------------------- host stage-2 (host_mmu.pgt)

  /** kvm_pgtable_get_leaf on the host stage-2; pages outside the model read as never mapped. */
  host_s2_leaf(phys: number): HostPte {
    return this.mem.hostPte(this.hyp_phys_to_pfn(phys));
  }

  protected set_host_pte(pfn: number, pte: HostPte, where: string): void {
    if (pfn < 0 || pfn >= this.nrPages) {
      this.WARN_ON(true, where, () => `page table update of pfn ${pfn}, outside the model's pages`);
      return;
    }
    this.mem.setHostPte(pfn, pte);
  }

  /**
   * host_stage2_idmap_locked(addr, size, prot) with prot = default | state bits: a valid
   * page-granular identity mapping (non-default state never lives in a block).
   */
  host_stage2_idmap_locked(addr: number, size: number, state: StoredPageState): number {
    this.hyp_assert_lock_held('host_mmu.lock', 'host_stage2_idmap_locked');
    for (let a = addr; a < addr + size; a += PAGE_SIZE)
      this.set_host_pte(this.hyp_phys_to_pfn(a), { kind: 'valid', state }, 'host_stage2_idmap_locked');
    return 0;
  }

  /** host_stage2_set_owner_locked: owner HOST writes an all-zero PTE, any other owner an annotation. */
  host_stage2_set_owner_locked(addr: number, size: number, owner: ComponentId): number {
    this.hyp_assert_lock_held('host_mmu.lock', 'host_stage2_set_owner_locked');
    const pte: HostPte = owner === PKVM_ID_HOST ? ZERO_PTE : { kind: 'annot', owner: owner as AnnotationOwner };
    for (let a = addr; a < addr + size; a += PAGE_SIZE)
      this.set_host_pte(this.hyp_phys_to_pfn(a), pte, 'host_stage2_set_owner_locked');
    return 0;
  }

  /**
   * host_stage2_unmap_dev_all(): under memory pressure, unmap every range outside the memblock
   * regions. Until 2025 the unmap walker also dropped counted invalid (annotated) PTEs.
   */
  host_stage2_unmap_dev_all(): number {
    this.hyp_assert_lock_held('host_mmu.lock', 'host_stage2_unmap_dev_all');
    for (let pfn = this.config.ramPages; pfn < this.nrPages; pfn++) if (this.mem.hostPte(pfn).kind !== 'zero') this.mem.setHostPte(pfn, ZERO_PTE);
    return 0;
  }

  // ---------------------------------------------------------------- hyp stage-1 (pkvm_pgtable)

  /** The state bits of the hyp's linear-map entry of a physical page, or null when unmapped. */
  hyp_s1_leaf(phys: number): StoredPageState | null {
    return this.mem.hypPte(this.hyp_phys_to_pfn(phys));
  }

  /** pkvm_create_mappings_locked on the linear map. */
  hyp_s1_map(phys: number, size: number, state: StoredPageState): number {
    this.hyp_assert_lock_held('pkvm_pgd_lock', 'pkvm_create_mappings_locked');
    for (let a = phys; a < phys + size; a += PAGE_SIZE) {
      const pfn = this.hyp_phys_to_pfn(a);
      if (pfn < 0 || pfn >= this.nrPages) return -1;
      this.mem.setHypPte(pfn, state);
    }
    return 0;
  }

  /** kvm_pgtable_hyp_unmap: returns the number of bytes unmapped. */
  hyp_s1_unmap(phys: number, size: number): number {
    let unmapped = 0;
    for (let a = phys; a < phys + size; a += PAGE_SIZE) {
      const pfn = this.hyp_phys_to_pfn(a);
      if (pfn < 0 || pfn >= this.nrPages || this.mem.hypPte(pfn) === null) continue;
      this.mem.setHypPte(pfn, null);
      unmapped += PAGE_SIZE;
    }
    return unmapped;
  }

  // ---------------------------------------------------------------- guest stage-2 (vm->pgt)

  guest_s2_leaf(vm: number, ipa: number): GuestPte | null {
    return this.mem.guestPte(vm, ipa >> PAGE_SHIFT);
  }

  /** kvm_pgtable_stage2_map on a guest stage-2, one page. -EINVAL outside the guest's IPA space. */
  guest_s2_map(vm: number, ipa: number, phys: number, state: StoredPageState): number {
    this.hyp_assert_lock_held(`vm[${vm}].lock`, 'kvm_pgtable_stage2_map');
    const idx = ipa >> PAGE_SHIFT;
    if (idx < 0 || idx >= this.config.guestIpas) return -22;
    this.mem.setGuestPte(vm, idx, guestPteOf(this.hyp_phys_to_pfn(phys), state));
    return 0;
  }
}

/** Lock ids (state index, bit): host, hyp, iommu, the hyp pool, then one per VM. */
const FIXED_LOCKS: readonly Lock[] = ['host_mmu.lock', 'pkvm_pgd_lock', 'iommu_lock', 'hyp_pool.lock'];
/** Names by id, precomputed for the VM locks a configuration can have. */
const LOCK_NAMES: Lock[] = [...FIXED_LOCKS, ...Array.from({ length: 64 }, (_, v) => `vm[${v}].lock` as Lock)];

/** A lock's id, read from its name's first characters (no hashing of the strings call sites build). */
export function lockId(lock: Lock): number {
  switch (lock.charCodeAt(0)) {
    case 0x68: // 'h': host_mmu.lock or hyp_pool.lock
      return lock.charCodeAt(1) === 0x6f ? 0 : 3;
    case 0x70: // 'p': pkvm_pgd_lock
      return 1;
    case 0x69: // 'i': iommu_lock
      return 2;
    default: {
      // vm[N].lock
      let v = 0;
      for (let i = 3; i < lock.length; i++) {
        const c = lock.charCodeAt(i) - 0x30;
        if (c < 0 || c > 9) break;
        v = v * 10 + c;
      }
      return 4 + v;
    }
  }
}

export function lockName(id: number): Lock {
  return LOCK_NAMES[id] ?? `vm[${id - 4}].lock`;
}

/** The locks of a mask of lock bits, in id order (one frozen array per mask). */
const HELD_BY_MASK = new Map<number, readonly Lock[]>();
export function locksOfMask(mask: number): readonly Lock[] {
  let out = HELD_BY_MASK.get(mask);
  if (!out) {
    const l: Lock[] = [];
    for (let id = 0; id < 32; id++) if (mask & (1 << id)) l.push(lockName(id));
    out = Object.freeze(l);
    HELD_BY_MASK.set(mask, out);
  }
  return out;
}

export function lockBit(lock: Lock): number {
  return 1 << lockId(lock);
}

/**
 * The lock order of the kernel (mem_protect.h: host before hyp before guest; the IOMMU code of
 * the series takes iommu_lock before the host lock; the pool lock is innermost). Taking a lock
 * of lower rank while holding one of the same or a higher rank inverts the order. In the seed's
 * tree pkvm_pgd_lock and a VM's lock share a rank (no path holds both); with `distinct` (the later
 * trees, whose __pkvm_guest_share_hyp_page takes hyp_lock_component() then
 * guest_lock_component()) a VM's lock ranks after the hyp lock. Every VM's lock has the VM lock
 * rank: two VMs' locks never nest (they are one lock class).
 */
export function lockRank(lock: Lock, distinct = false): number {
  switch (lock) {
    case 'iommu_lock':
      return 0;
    case 'host_mmu.lock':
      return 1;
    case 'pkvm_pgd_lock':
      return 2;
    case 'hyp_pool.lock':
      return distinct ? 4 : 3;
    default:
      return distinct ? 3 : 2;
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
