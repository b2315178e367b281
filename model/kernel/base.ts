/**
 * The hypervisor's primitives: failure reporting (BUG_ON, WARN_ON, faults), the vmemmap and its
 * refcount helpers (nvhe/memory.h, nvhe/refcount.h of the seed's base), locks, and the page-table
 * leaf operations that mem_protect.c builds on (kvm_pgtable_* for the host, hyp and guest tables).
 *
 * A hypercall runs on an immer draft of the state and mutates it as the C code mutates memory.
 * Failures are values: a fatal one records a snapshot of the state at that instant and makes every
 * later change irrelevant; the step then ends in that snapshot with `panic` set.
 */
import { current, type Draft } from 'immer';
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
import {
  ZERO_PTE,
  isBacked,
  isFatal,
  isRam,
  type FailureKind,
  type GuestPte,
  type HostPte,
  type HypFailure,
  type HypPage,
  type PkvmState,
} from '../state.ts';

export type Lock = 'host_mmu.lock' | 'pkvm_pgd_lock' | 'iommu_lock' | `vm[${number}].lock`;

/** A hypercall nested in a host operation (the driver's IOMMU core issues several). */
export interface SubCall {
  readonly call: string;
  readonly ret: number;
}

/** Everything one step observed besides the next state. */
export interface ExecutionRecord {
  failures: HypFailure[];
  /** Named branches taken (for coverage and for explaining a trace). */
  branches: string[];
  subcalls: SubCall[];
  /** Pages a device, the host or a guest accessed in this step. */
  accesses: { by: string; pfn: number }[];
}

export class HypBase {
  /** The state being changed (an immer draft). */
  readonly s: Draft<PkvmState>;
  readonly config: PkvmConfig;
  readonly rec: ExecutionRecord = { failures: [], branches: [], subcalls: [], accesses: [] };
  /** Set by the first fatal failure; later code runs on but its effects are dropped. */
  fatal: HypFailure | null = null;
  /** The state at the instant of the fatal failure. */
  fatalSnapshot: PkvmState | null = null;
  readonly held = new Set<Lock>();

  constructor(draft: Draft<PkvmState>, config: PkvmConfig) {
    this.s = draft;
    this.config = config;
  }

  // ---------------------------------------------------------------- failures

  protected fail(kind: FailureKind, where: string, detail: string): void {
    if (this.fatal) return;
    const f: HypFailure = { kind, where, detail };
    this.rec.failures.push(f);
    if (isFatal(kind)) {
      this.fatal = f;
      this.fatalSnapshot = current(this.s) as PkvmState;
    }
  }

  /** BUG_ON(cond): the hypervisor panics. Returns cond, so callers can bail out. */
  BUG_ON(cond: boolean, where: string, detail: string): boolean {
    if (cond) this.fail('BUG_ON', where, detail);
    return cond;
  }

  /** WARN_ON(cond): reported at EL2, execution continues. Returns cond, as the kernel's macro does. */
  WARN_ON(cond: boolean, where: string, detail: string): boolean {
    if (cond) this.fail('WARN_ON', where, detail);
    return cond;
  }

  /** A read of a variable that was never assigned; the model continues with a non-zero garbage value. */
  uninitialised(where: string, detail: string): void {
    this.fail('uninitialised', where, detail);
  }

  /** A loop that cannot make progress: the CPU never leaves EL2. */
  hang(where: string, detail: string): void {
    this.fail('hang', where, detail);
  }

  /** Records that a named branch of the code was taken. */
  branch(name: string): void {
    this.rec.branches.push(name);
  }

  // ---------------------------------------------------------------- addresses

  get nrPages(): number {
    return this.s.hostS2.length;
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

  /** Touch a vmemmap entry. An unbacked entry takes an EL2 translation fault (hyp panic). */
  protected vmemmap_entry(pfn: number, where: string): Draft<HypPage> | null {
    if (pfn >= 0 && pfn < this.nrPages && isBacked(this.config, pfn)) return this.s.vmemmap[pfn] as Draft<HypPage>;
    this.fail(
      'vmemmap-fault',
      where,
      `hyp_vmemmap entry of pfn ${pfn} (phys ${hex(this.hyp_pfn_to_phys(pfn))}) is not backed: EL2 translation fault`,
    );
    return null;
  }

  private get refcountModulus(): number {
    return 2 ** this.config.refcountBits;
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
    const p = this.vmemmap_entry(pfn, where);
    if (!p) return RET_HYP_PANIC;
    const next = (((p.refcount + addend) % this.refcountModulus) + this.refcountModulus) % this.refcountModulus;
    p.refcount = next;
    const signed = this.asSigned(next);
    if (this.BUG_ON(signed < 0, where, `hyp_page.refcount of pfn ${pfn} ${addend > 0 ? 'overflows' : 'underflows'} (${this.config.refcountBits}-bit, now ${signed})`))
      return RET_HYP_PANIC;
    return signed;
  }

  /** hyp_page_ref_inc_return(p): the new value ("FIXME: be gentle with overflows"). */
  hyp_page_ref_inc_return(pfn: number): number {
    return this.__hyp_refcount_fetch_add(pfn, 1, 'hyp_page_ref_inc_return');
  }

  hyp_page_ref_inc(pfn: number): void {
    this.__hyp_refcount_fetch_add(pfn, 1, 'hyp_page_ref_inc');
  }

  hyp_page_ref_dec(pfn: number): void {
    this.__hyp_refcount_fetch_add(pfn, -1, 'hyp_page_ref_dec');
  }

  hyp_page_ref_dec_and_test(pfn: number): boolean {
    return this.__hyp_refcount_fetch_add(pfn, -1, 'hyp_page_ref_dec_and_test') === 0;
  }

  /** hyp_page_count(): READ_ONCE of the refcount. */
  hyp_page_count(pfn: number): number {
    const p = this.vmemmap_entry(pfn, 'hyp_page_count');
    return p ? this.asSigned(p.refcount) : RET_HYP_PANIC;
  }

  /** hyp_set_page_refcounted(): WARN if the count is not zero, then set it to 1. */
  hyp_set_page_refcounted(pfn: number): void {
    const p = this.vmemmap_entry(pfn, 'hyp_set_page_refcounted');
    if (!p) return;
    this.WARN_ON(p.refcount !== 0, 'hyp_set_page_refcounted', `refcount of pfn ${pfn} is ${p.refcount}, not 0`);
    p.refcount = 1;
  }

  page_flags(pfn: number): number {
    const p = this.vmemmap_entry(pfn, 'hyp_page.flags');
    return p ? p.flags : 0;
  }

  set_page_flags(pfn: number, flags: number): void {
    const p = this.vmemmap_entry(pfn, 'hyp_page.flags');
    if (p) p.flags = flags;
  }

  // ---------------------------------------------------------------- locks

  hyp_spin_lock(lock: Lock): void {
    this.held.add(lock);
  }

  hyp_spin_unlock(lock: Lock): void {
    this.held.delete(lock);
  }

  /**
   * hyp_assert_lock_held(): compiled only in CONFIG_NVHE_EL2_DEBUG builds. The model follows a
   * production build (the acks skip their checks, see __host_ack_skip_pgtable_check) but still
   * records a failed assertion, as a lock-discipline fact rather than as a kernel WARN.
   */
  hyp_assert_lock_held(lock: Lock, where: string): void {
    if (!this.held.has(lock)) this.fail('lock-assert', where, `hyp_assert_lock_held(&${lock}) fails: the lock is not held`);
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
    this.hyp_spin_lock(`vm[${vm}].lock`);
  }

  guest_unlock_component(vm: number): void {
    this.hyp_spin_unlock(`vm[${vm}].lock`);
  }

  // ---------------------------------------------------------------- host stage-2 (host_mmu.pgt)

  /** kvm_pgtable_get_leaf on the host stage-2; pages outside the model read as never mapped. */
  host_s2_leaf(phys: number): HostPte {
    const pfn = this.hyp_phys_to_pfn(phys);
    return pfn >= 0 && pfn < this.nrPages ? this.s.hostS2[pfn] : ZERO_PTE;
  }

  private set_host_pte(pfn: number, pte: HostPte, where: string): void {
    if (pfn < 0 || pfn >= this.nrPages) {
      this.WARN_ON(true, where, `page table update of pfn ${pfn}, outside the model's pages`);
      return;
    }
    this.s.hostS2[pfn] = pte;
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
    for (let pfn = this.config.ramPages; pfn < this.nrPages; pfn++)
      if (this.s.hostS2[pfn].kind !== 'zero') this.s.hostS2[pfn] = ZERO_PTE;
    return 0;
  }

  // ---------------------------------------------------------------- hyp stage-1 (pkvm_pgtable)

  /** The state bits of the hyp's linear-map entry of a physical page, or null when unmapped. */
  hyp_s1_leaf(phys: number): StoredPageState | null {
    const pfn = this.hyp_phys_to_pfn(phys);
    return pfn >= 0 && pfn < this.nrPages ? this.s.hypS1[pfn] : null;
  }

  /** pkvm_create_mappings_locked on the linear map. */
  hyp_s1_map(phys: number, size: number, state: StoredPageState): number {
    this.hyp_assert_lock_held('pkvm_pgd_lock', 'pkvm_create_mappings_locked');
    for (let a = phys; a < phys + size; a += PAGE_SIZE) {
      const pfn = this.hyp_phys_to_pfn(a);
      if (pfn < 0 || pfn >= this.nrPages) return -1;
      this.s.hypS1[pfn] = state;
    }
    return 0;
  }

  /** kvm_pgtable_hyp_unmap: returns the number of bytes unmapped. */
  hyp_s1_unmap(phys: number, size: number): number {
    let unmapped = 0;
    for (let a = phys; a < phys + size; a += PAGE_SIZE) {
      const pfn = this.hyp_phys_to_pfn(a);
      if (pfn < 0 || pfn >= this.nrPages || this.s.hypS1[pfn] === null) continue;
      this.s.hypS1[pfn] = null;
      unmapped += PAGE_SIZE;
    }
    return unmapped;
  }

  // ---------------------------------------------------------------- guest stage-2 (vm->pgt)

  guest_s2_leaf(vm: number, ipa: number): GuestPte | null {
    const idx = ipa >> PAGE_SHIFT;
    const s2 = this.s.vms[vm].s2;
    return idx >= 0 && idx < s2.length ? s2[idx] : null;
  }

  /** kvm_pgtable_stage2_map on a guest stage-2, one page. -EINVAL outside the guest's IPA space. */
  guest_s2_map(vm: number, ipa: number, phys: number, state: StoredPageState): number {
    this.hyp_assert_lock_held(`vm[${vm}].lock`, 'kvm_pgtable_stage2_map');
    const idx = ipa >> PAGE_SHIFT;
    const s2 = this.s.vms[vm].s2;
    if (idx < 0 || idx >= s2.length) return -22;
    s2[idx] = { pfn: this.hyp_phys_to_pfn(phys), state };
    return 0;
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
