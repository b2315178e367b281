/**
 * The hypervisor's memory: every read and write the model's code makes of the state goes through
 * this narrow interface. Two implementations run the same kernel code:
 *
 * - ObjectMemory: the readable model. States are frozen plain objects; the first write of a
 *   step opens an immer draft (copy on write), and the step's result is the finished draft.
 * - PackedMemory: the fast path. States are the canonical byte encodings (codec.ts); the first
 *   write copies the bytes, and the step's result is the new byte string.
 *
 * Tests run both on random traces and require equal encodings, outcomes and findings.
 */
import type { ByteRecorder } from './compiled.ts';
import { createDraft, current, finishDraft, freeze, type Draft } from 'immer';
import { IOPT_BLOCK_PAGES, type AnnotationOwner, type StoredPageState } from './constants.ts';
import { type PkvmConfig, totalPages } from './config.ts';
import {
  IDLE_CPU,
  ZERO_PTE,
  extensionLength,
  lockCount,
  type CpuState,
  type GuestPte,
  type HostPte,
  type HypFailure,
  type IoPte,
  type PkvmState,
  type StateExtensions,
} from './state.ts';

export type GhostCounter = 'pins' | 'pool' | 'dmaRefs';

/** Read-only access to a state, whatever its representation. */
export interface StateReader {
  readonly config: PkvmConfig;
  readonly nrPages: number;
  hostPte(pfn: number): HostPte;
  hypPte(pfn: number): StoredPageState | null;
  /** hyp_page.refcount as stored (unsigned); 0 where the vmemmap is not backed. */
  refcount(pfn: number): number;
  pageFlags(pfn: number): number;
  ghost(counter: GhostCounter, pfn: number): number;
  vmDying(vm: number): boolean;
  guestPte(vm: number, ipa: number): GuestPte | null;
  /** Level-1 entries per domain. */
  ioEntries(domain: number): number;
  ioPgd(domain: number, idx: number): IoPte;
  ext(name: string, i: number): number;
  panic(): HypFailure | null;
  /** Concurrent mode: a CPU's operation in progress (IDLE_CPU when idle). */
  cpu(c: number): CpuState;
  /** Concurrent mode: the CPU holding a lock (by lock id), or -1. */
  lockOwner(id: number): number;
  /**
   * Whether `cpu` holds lock `id`. Only that CPU can change the answer (a lock is taken when
   * free and released by its owner), so a footprint does not count it as a read of the lock.
   */
  lockHeldBy(id: number, cpu: number): boolean;
  /** The page an IOTLB caches for an IOVA slot, or null (always null when IOTLBs are not modelled). */
  iotlb(domain: number, slot: number): number | null;
  sched(): { readonly last: number; readonly preemptions: number } | null;
}

/** Read-write access during one step. */
export interface Memory extends StateReader {
  setHostPte(pfn: number, pte: HostPte): void;
  setHypPte(pfn: number, st: StoredPageState | null): void;
  setRefcount(pfn: number, v: number): void;
  setPageFlags(pfn: number, v: number): void;
  setGhost(counter: GhostCounter, pfn: number, v: number): void;
  setVmDying(vm: number, dying: boolean): void;
  setGuestPte(vm: number, ipa: number, pte: GuestPte | null): void;
  setIoPgd(domain: number, idx: number, pte: IoPte): void;
  setIoLeaf(domain: number, idx: number, k: number, pfn: number | null): void;
  setExt(name: string, i: number, v: number): void;
  setCpu(c: number, cpu: CpuState): void;
  setLockOwner(id: number, owner: number): void;
  setIotlb(domain: number, slot: number, pfn: number | null): void;
  setSched(last: number, preemptions: number): void;
  /** Whether anything was written. */
  readonly dirty: boolean;
  /** The state as it is now, in the backend's representation (for the snapshot of a fatal failure). */
  snapshot(): unknown;
  /** The immer draft, for code that reads and writes the state object directly (readable backend only). */
  draft(): Draft<PkvmState>;
  /** Concurrent mode (a CPU's call, cpu-memory.ts): the code is about to take lock `id`. */
  lockPoint?(id: number): void;
  /** Concurrent mode: the accesses up to atomicEnd are one atomic access (one interleaving point). */
  atomicBegin?(what: string): void;
  atomicEnd?(): void;
}

// ------------------------------------------------------------------ the step budget

/**
 * Thrown by a step's memory when the step has made more state accesses than the configuration's
 * step budget allows: kernel code that does not return (a loop) is stopped there and reported as
 * a hang (PkvmSystem.run), instead of hanging the checker.
 */
export const OVER_BUDGET: unique symbol = Symbol('pkvm-check: the step is over its budget');

// ------------------------------------------------------------------ interned values

const HOST_PTES: HostPte[] = [];
HOST_PTES[0] = ZERO_PTE;
for (const state of [0, 1, 2] as StoredPageState[]) HOST_PTES[1 + state] = freeze({ kind: 'valid', state });
for (const owner of [1, 2, 3] as AnnotationOwner[]) HOST_PTES[8 + owner] = freeze({ kind: 'annot', owner });

export function hostPteCode(p: HostPte): number {
  return p.kind === 'zero' ? 0 : p.kind === 'valid' ? 1 + p.state : 8 + p.owner;
}

export function hostPteOf(code: number): HostPte {
  return HOST_PTES[code];
}

const GUEST_PTES = new Map<number, GuestPte>();
export function guestPteOf(pfn: number, state: StoredPageState): GuestPte {
  const k = pfn * 4 + state;
  let p = GUEST_PTES.get(k);
  if (!p) GUEST_PTES.set(k, (p = freeze({ pfn, state })));
  return p;
}

const BLOCKS = new Map<number, IoPte>();
export function ioBlockOf(pfn: number): IoPte {
  let p = BLOCKS.get(pfn);
  if (!p) BLOCKS.set(pfn, (p = freeze({ type: 'block', pfn })));
  return p;
}

/** Interned tables by (a + 1) * 257 + (b + 1) (leaves are pfns below 256, as one byte encodes them). */
const TABLES: (IoPte | undefined)[] = new Array<IoPte | undefined>(257 * 257).fill(undefined);
/** A level-2 table with two leaves (null or a pfn). */
export function ioTableOf(a: number | null, b: number | null): IoPte {
  if ((a !== null && !(a >= 0 && a < 256)) || (b !== null && !(b >= 0 && b < 256))) return freeze({ type: 'table', ptes: [a, b] }, true);
  const k = (a === null ? 0 : a + 1) * 257 + (b === null ? 0 : b + 1);
  let p = TABLES[k];
  if (p === undefined) TABLES[k] = p = freeze({ type: 'table', ptes: [a, b] }, true);
  return p;
}

/**
 * Failures are encoded as a 32-bit hash of their text, canonical across model instances. The
 * text is known in the thread that hit the failure; a state that comes from another thread (a
 * worker of the parallel search) may carry the id of a failure this thread has not seen: it
 * decodes to a stand-in (still a panic, so the state stays terminal) that encodes to the same id.
 */
const FAILURES = new Map<number, HypFailure>();
const STAND_INS = new WeakMap<HypFailure, number>();
export function failureId(f: HypFailure): number {
  const standIn = STAND_INS.get(f);
  if (standIn !== undefined) return standIn;
  const key = `${f.kind}\u0000${f.where}\u0000${f.detail}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = h >>> 0 || 1;
  const known = FAILURES.get(h);
  if (!known || STAND_INS.has(known)) FAILURES.set(h, f);
  return h;
}
export function failureOf(id: number): HypFailure | null {
  if (id === 0) return null;
  let f = FAILURES.get(id);
  if (!f) {
    f = { kind: 'BUG_ON', where: '(another thread)', detail: `hypervisor failure #${id.toString(16)}, hit in another thread` };
    FAILURES.set(id, f);
    STAND_INS.set(f, id);
  }
  return f;
}

// ------------------------------------------------------------------ byte layout

export const PAGE_BYTES = 8;
/** Concurrent mode: a CPU's call encodes its action, the lock it waits for, its resume point, its log's length and log (16-bit codes). */
const CPU_HEADER = 5;

/** Offsets of the canonical byte encoding of a configuration (and a variant's state extensions). */
export class Layout {
  readonly pages: number;
  readonly vmOffset: number;
  readonly vmBytes: number;
  readonly domOffset: number;
  readonly domBytes: number;
  readonly panicOffset: number;
  readonly extOffset: number;
  readonly extNames: readonly string[];
  readonly extLengths: readonly number[];
  readonly extStart: ReadonlyMap<string, number>;
  readonly cpuOffset: number;
  readonly lockOffset: number;
  readonly iotlbOffset: number;
  readonly schedOffset: number;
  readonly size: number;
  /** Concurrent mode: the most codes a CPU's log holds, and the bytes of a CPU's record. */
  readonly cpuLog: number;
  readonly cpuBytes: number;

  constructor(
    readonly config: PkvmConfig,
    readonly extensions: StateExtensions = {},
  ) {
    this.pages = totalPages(config);
    this.vmOffset = this.pages * PAGE_BYTES;
    this.vmBytes = 1 + 2 * config.guestIpas;
    this.domOffset = this.vmOffset + config.guests * this.vmBytes;
    this.domBytes = (config.iovas / IOPT_BLOCK_PAGES) * 3;
    this.panicOffset = this.domOffset + config.domains * this.domBytes;
    this.extOffset = this.panicOffset + 4;
    this.extNames = Object.keys(extensions).sort();
    this.extLengths = this.extNames.map((n) => extensionLength(extensions[n], config));
    const start = new Map<string, number>();
    let o = this.extOffset;
    this.extNames.forEach((n, i) => {
      start.set(n, o);
      o += 2 * this.extLengths[i];
    });
    this.extStart = start;
    this.cpuOffset = o;
    const cpus = config.cpus > 1 ? config.cpus : 0;
    this.cpuLog = config.cpuLog;
    this.cpuBytes = CPU_HEADER + 2 * this.cpuLog;
    this.lockOffset = this.cpuOffset + cpus * this.cpuBytes;
    this.iotlbOffset = this.lockOffset + (cpus ? lockCount(config) : 0);
    this.schedOffset = this.iotlbOffset + (config.iotlb ? config.domains * config.iovas : 0);
    this.size = this.schedOffset + (config.preemptions >= 0 ? 2 : 0);
  }

  cpuBase(c: number): number {
    return this.cpuOffset + c * this.cpuBytes;
  }

  /** Encodes a CPU's state at its place in a byte string. */
  writeCpu(b: Uint8Array, c: number, cpu: CpuState): void {
    const o = this.cpuBase(c);
    if (cpu.log.length > this.cpuLog) throw new Error(`a CPU log of ${cpu.log.length} codes, more than the ${this.cpuLog} a state holds`);
    b[o] = cpu.op & 0xff;
    b[o + 1] = cpu.op >>> 8;
    b[o + 2] = cpu.wait;
    b[o + 3] = cpu.resume;
    b[o + 4] = cpu.log.length;
    let k = o + CPU_HEADER;
    for (let i = 0; i < cpu.log.length; i++, k += 2) {
      const v = cpu.log[i];
      b[k] = v & 0xff;
      b[k + 1] = v >>> 8;
    }
    // the rest of the log is zero, so that equal calls have equal bytes
    for (const end = o + this.cpuBytes; k < end; k++) b[k] = 0;
  }

  readCpu(b: Uint8Array, c: number): CpuState {
    const o = this.cpuBase(c);
    const op = b[o] | (b[o + 1] << 8);
    if (op === 0) return IDLE_CPU;
    const n = b[o + 4];
    const log: number[] = new Array<number>(n);
    for (let i = 0, k = o + CPU_HEADER; i < n; i++, k += 2) log[i] = b[k] | (b[k + 1] << 8);
    return { op, wait: b[o + 2], resume: b[o + 3], log };
  }
}

// ------------------------------------------------------------------ the readable backend

/** Reads a frozen state object. */
export class ObjectReader implements StateReader {
  readonly nrPages: number;
  constructor(
    protected base: PkvmState,
    readonly config: PkvmConfig,
  ) {
    this.nrPages = base.hostS2.length;
  }
  protected get cur(): PkvmState {
    return this.base;
  }
  hostPte(pfn: number): HostPte {
    return pfn >= 0 && pfn < this.nrPages ? this.cur.hostS2[pfn] : ZERO_PTE;
  }
  hypPte(pfn: number): StoredPageState | null {
    return pfn >= 0 && pfn < this.nrPages ? this.cur.hypS1[pfn] : null;
  }
  refcount(pfn: number): number {
    return this.cur.vmemmap[pfn]?.refcount ?? 0;
  }
  pageFlags(pfn: number): number {
    return this.cur.vmemmap[pfn]?.flags ?? 0;
  }
  ghost(counter: GhostCounter, pfn: number): number {
    return this.cur.ghost[counter][pfn];
  }
  vmDying(vm: number): boolean {
    return this.cur.vms[vm].dying;
  }
  guestPte(vm: number, ipa: number): GuestPte | null {
    const s2 = this.cur.vms[vm].s2;
    return ipa >= 0 && ipa < s2.length ? s2[ipa] : null;
  }
  ioEntries(domain: number): number {
    return this.cur.iommu[domain].pgd.length;
  }
  ioPgd(domain: number, idx: number): IoPte {
    return this.cur.iommu[domain].pgd[idx];
  }
  ext(name: string, i: number): number {
    const a = this.cur.ext[name];
    if (!a || !(i >= 0 && i < a.length)) throw new Error(extError(name, i, Object.keys(this.cur.ext), a?.length));
    return a[i];
  }
  panic(): HypFailure | null {
    return this.cur.panic;
  }
  cpu(c: number): CpuState {
    return this.cur.cpus[c] ?? IDLE_CPU;
  }
  lockOwner(id: number): number {
    return this.cur.locks[id] ?? -1;
  }
  lockHeldBy(id: number, cpu: number): boolean {
    return this.lockOwner(id) === cpu;
  }
  iotlb(domain: number, slot: number): number | null {
    return this.cur.iotlb[domain]?.[slot] ?? null;
  }
  sched(): { readonly last: number; readonly preemptions: number } | null {
    return this.cur.sched;
  }
}

function extError(name: string, i: number, names: readonly string[], length: number | undefined): string {
  return length === undefined
    ? `no state extension '${name}' (the variant declares ${names.length ? names.map((n) => `'${n}'`).join(', ') : 'none'})`
    : `state extension '${name}' has ${length} entries: index ${i} is out of range`;
}

/** Copy on write over a frozen state object: the first write opens an immer draft. */
export class ObjectMemory extends ObjectReader implements Memory {
  private d: Draft<PkvmState> | null = null;
  /** State accesses left in the step's budget. */
  private budget: number;

  constructor(base: PkvmState, config: PkvmConfig) {
    super(base, config);
    this.budget = config.stepBudget;
  }

  protected override get cur(): PkvmState {
    if (--this.budget < 0) throw OVER_BUDGET;
    return (this.d ?? this.base) as PkvmState;
  }
  get dirty(): boolean {
    return this.d !== null;
  }
  draft(): Draft<PkvmState> {
    if (!this.d) this.d = createDraft(this.base);
    return this.d;
  }
  setHostPte(pfn: number, pte: HostPte): void {
    this.draft().hostS2[pfn] = pte;
  }
  setHypPte(pfn: number, st: StoredPageState | null): void {
    this.draft().hypS1[pfn] = st;
  }
  setRefcount(pfn: number, v: number): void {
    this.draft().vmemmap[pfn]!.refcount = v;
  }
  setPageFlags(pfn: number, v: number): void {
    this.draft().vmemmap[pfn]!.flags = v;
  }
  setGhost(counter: GhostCounter, pfn: number, v: number): void {
    this.draft().ghost[counter][pfn] = v;
  }
  setVmDying(vm: number, dying: boolean): void {
    this.draft().vms[vm].dying = dying;
  }
  setGuestPte(vm: number, ipa: number, pte: GuestPte | null): void {
    this.draft().vms[vm].s2[ipa] = pte;
  }
  setIoPgd(domain: number, idx: number, pte: IoPte): void {
    this.draft().iommu[domain].pgd[idx] = pte as Draft<IoPte>;
  }
  setIoLeaf(domain: number, idx: number, k: number, pfn: number | null): void {
    const e = this.cur.iommu[domain].pgd[idx];
    if (e && e.type === 'table') {
      const ptes = [...e.ptes];
      ptes[k] = pfn;
      this.setIoPgd(domain, idx, ioTableOf(ptes[0], ptes[1]));
    }
  }
  setExt(name: string, i: number, v: number): void {
    this.ext(name, i);
    this.draft().ext[name][i] = v;
  }
  setCpu(c: number, cpu: CpuState): void {
    this.draft().cpus[c] = cpu as Draft<CpuState>;
  }
  setLockOwner(id: number, owner: number): void {
    this.draft().locks[id] = owner;
  }
  setIotlb(domain: number, slot: number, pfn: number | null): void {
    if (this.cur.iotlb.length) this.draft().iotlb[domain][slot] = pfn;
  }
  setSched(last: number, preemptions: number): void {
    this.draft().sched = { last, preemptions };
  }
  snapshot(): PkvmState {
    return this.d ? (current(this.d) as PkvmState) : this.base;
  }
  /** The step's result: the finished draft, or the base when nothing was written. */
  finish(): PkvmState {
    return this.d ? (finishDraft(this.d) as PkvmState) : this.base;
  }
}

// ------------------------------------------------------------------ the packed backend

/** Reads a canonical byte encoding. */
export class PackedReader implements StateReader {
  readonly nrPages: number;
  readonly config: PkvmConfig;
  constructor(
    protected b: Uint8Array,
    readonly layout: Layout,
  ) {
    this.nrPages = layout.pages;
    this.config = layout.config;
  }
  hostPte(pfn: number): HostPte {
    return pfn >= 0 && pfn < this.nrPages ? HOST_PTES[this.b[pfn * PAGE_BYTES]] : ZERO_PTE;
  }
  hypPte(pfn: number): StoredPageState | null {
    if (pfn < 0 || pfn >= this.nrPages) return null;
    const c = this.b[pfn * PAGE_BYTES + 1];
    return c === 0 ? null : ((c - 1) as StoredPageState);
  }
  refcount(pfn: number): number {
    const o = pfn * PAGE_BYTES;
    return this.b[o + 2] | (this.b[o + 3] << 8);
  }
  pageFlags(pfn: number): number {
    return this.b[pfn * PAGE_BYTES + 4];
  }
  ghost(counter: GhostCounter, pfn: number): number {
    return this.b[pfn * PAGE_BYTES + (counter === 'pins' ? 5 : counter === 'pool' ? 6 : 7)];
  }
  vmDying(vm: number): boolean {
    return this.b[this.layout.vmOffset + vm * this.layout.vmBytes] === 1;
  }
  guestPte(vm: number, ipa: number): GuestPte | null {
    if (ipa < 0 || ipa >= this.config.guestIpas) return null;
    const o = this.layout.vmOffset + vm * this.layout.vmBytes + 1 + 2 * ipa;
    const pfn1 = this.b[o];
    return pfn1 === 0 ? null : guestPteOf(pfn1 - 1, this.b[o + 1] as StoredPageState);
  }
  ioEntries(_domain: number): number {
    return this.config.iovas / IOPT_BLOCK_PAGES;
  }
  ioPgd(domain: number, idx: number): IoPte {
    const o = this.layout.domOffset + domain * this.layout.domBytes + idx * 3;
    const kind = this.b[o];
    if (kind === 0) return null;
    if (kind === 1) return ioBlockOf(this.b[o + 1]);
    const a = this.b[o + 1];
    const c = this.b[o + 2];
    return ioTableOf(a === 0 ? null : a - 1, c === 0 ? null : c - 1);
  }
  ext(name: string, i: number): number {
    const o = this.extOffset(name, i);
    return this.b[o] | (this.b[o + 1] << 8);
  }
  /** Where an extension's entry lives; an unknown name or an index out of range is the variant's mistake. */
  protected extOffset(name: string, i: number): number {
    const start = this.layout.extStart.get(name);
    const k = start === undefined ? -1 : this.layout.extNames.indexOf(name);
    if (start === undefined || !(i >= 0 && i < this.layout.extLengths[k])) throw new Error(extError(name, i, this.layout.extNames, start === undefined ? undefined : this.layout.extLengths[k]));
    return start + 2 * i;
  }
  panic(): HypFailure | null {
    const o = this.layout.panicOffset;
    return failureOf((this.b[o] | (this.b[o + 1] << 8) | (this.b[o + 2] << 16) | (this.b[o + 3] << 24)) >>> 0);
  }
  cpu(c: number): CpuState {
    return this.config.cpus > 1 ? this.layout.readCpu(this.b, c) : IDLE_CPU;
  }
  lockOwner(id: number): number {
    return this.config.cpus > 1 ? this.b[this.layout.lockOffset + id] - 1 : -1;
  }
  lockHeldBy(id: number, cpu: number): boolean {
    return this.config.cpus > 1 && this.b[this.layout.lockOffset + id] - 1 === cpu;
  }
  iotlb(domain: number, slot: number): number | null {
    if (!this.config.iotlb) return null;
    const v = this.b[this.layout.iotlbOffset + domain * this.config.iovas + slot];
    return v === 0 ? null : v - 1;
  }
  sched(): { readonly last: number; readonly preemptions: number } | null {
    if (this.config.preemptions < 0) return null;
    return { last: this.b[this.layout.schedOffset] - 1, preemptions: this.b[this.layout.schedOffset + 1] };
  }
}

/** Copy on write over a byte encoding. */
export class PackedMemory extends PackedReader implements Memory {
  private copied = false;
  /** State accesses left in the step's budget. */
  protected budget = this.layout.config.stepBudget;

  /** Starts a new step on other bytes (the packed engine reuses one memory object). */
  reset(b: Uint8Array): void {
    this.b = b;
    this.copied = false;
    this.budget = this.layout.config.stepBudget;
  }

  /** One state access of the step (see OVER_BUDGET). */
  protected tick(): void {
    if (--this.budget < 0) throw OVER_BUDGET;
  }
  override hostPte(pfn: number): HostPte {
    this.tick();
    return super.hostPte(pfn);
  }
  override hypPte(pfn: number): StoredPageState | null {
    this.tick();
    return super.hypPte(pfn);
  }
  override refcount(pfn: number): number {
    this.tick();
    return super.refcount(pfn);
  }
  override pageFlags(pfn: number): number {
    this.tick();
    return super.pageFlags(pfn);
  }
  override ghost(counter: GhostCounter, pfn: number): number {
    this.tick();
    return super.ghost(counter, pfn);
  }
  override vmDying(vm: number): boolean {
    this.tick();
    return super.vmDying(vm);
  }
  override guestPte(vm: number, ipa: number): GuestPte | null {
    this.tick();
    return super.guestPte(vm, ipa);
  }
  override ioPgd(domain: number, idx: number): IoPte {
    this.tick();
    return super.ioPgd(domain, idx);
  }
  override ext(name: string, i: number): number {
    this.tick();
    return super.ext(name, i);
  }
  override iotlb(domain: number, slot: number): number | null {
    this.tick();
    return super.iotlb(domain, slot);
  }

  get dirty(): boolean {
    return this.copied;
  }
  protected w(): Uint8Array {
    this.tick();
    if (!this.copied) {
      this.b = this.b.slice();
      this.copied = true;
    }
    return this.b;
  }
  draft(): Draft<PkvmState> {
    throw new Error('this code reads or writes the state object directly (this.s), which the packed engine does not provide');
  }
  setHostPte(pfn: number, pte: HostPte): void {
    this.w()[pfn * PAGE_BYTES] = hostPteCode(pte);
  }
  setHypPte(pfn: number, st: StoredPageState | null): void {
    this.w()[pfn * PAGE_BYTES + 1] = st === null ? 0 : st + 1;
  }
  setRefcount(pfn: number, v: number): void {
    const b = this.w();
    const o = pfn * PAGE_BYTES;
    b[o + 2] = v & 0xff;
    b[o + 3] = v >>> 8;
  }
  setPageFlags(pfn: number, v: number): void {
    this.w()[pfn * PAGE_BYTES + 4] = v;
  }
  setGhost(counter: GhostCounter, pfn: number, v: number): void {
    this.w()[pfn * PAGE_BYTES + (counter === 'pins' ? 5 : counter === 'pool' ? 6 : 7)] = v;
  }
  setVmDying(vm: number, dying: boolean): void {
    this.w()[this.layout.vmOffset + vm * this.layout.vmBytes] = dying ? 1 : 0;
  }
  setGuestPte(vm: number, ipa: number, pte: GuestPte | null): void {
    const b = this.w();
    const o = this.layout.vmOffset + vm * this.layout.vmBytes + 1 + 2 * ipa;
    b[o] = pte ? pte.pfn + 1 : 0;
    b[o + 1] = pte ? pte.state : 0;
  }
  setIoPgd(domain: number, idx: number, pte: IoPte): void {
    const b = this.w();
    const o = this.layout.domOffset + domain * this.layout.domBytes + idx * 3;
    if (pte === null) {
      b[o] = 0;
      b[o + 1] = 0;
      b[o + 2] = 0;
    } else if (pte.type === 'block') {
      b[o] = 1;
      b[o + 1] = pte.pfn;
      b[o + 2] = 0;
    } else {
      b[o] = 2;
      b[o + 1] = pte.ptes[0] === null ? 0 : pte.ptes[0] + 1;
      b[o + 2] = pte.ptes[1] === null ? 0 : pte.ptes[1] + 1;
    }
  }
  setIoLeaf(domain: number, idx: number, k: number, pfn: number | null): void {
    const o = this.layout.domOffset + domain * this.layout.domBytes + idx * 3;
    if (this.b[o] !== 2) return;
    this.w()[o + 1 + k] = pfn === null ? 0 : pfn + 1;
  }
  setExt(name: string, i: number, v: number): void {
    const o = this.extOffset(name, i);
    const b = this.w();
    b[o] = v & 0xff;
    b[o + 1] = v >>> 8;
  }
  setCpu(c: number, cpu: CpuState): void {
    this.layout.writeCpu(this.w(), c, cpu);
  }
  setLockOwner(id: number, owner: number): void {
    this.w()[this.layout.lockOffset + id] = owner + 1;
  }
  setIotlb(domain: number, slot: number, pfn: number | null): void {
    if (this.config.iotlb) this.w()[this.layout.iotlbOffset + domain * this.config.iovas + slot] = pfn === null ? 0 : pfn + 1;
  }
  setSched(last: number, preemptions: number): void {
    const b = this.w();
    b[this.layout.schedOffset] = last + 1;
    b[this.layout.schedOffset + 1] = preemptions;
  }
  snapshot(): Uint8Array {
    return this.b.slice();
  }
  /** The step's result: the new bytes, or the same array when nothing was written. */
  finish(): Uint8Array {
    return this.b;
  }
}

/**
 * The packed memory over a recording view of the bytes (compiled.ts): the step writes into the
 * recorder's copy, which logs what is read and written.
 */
export class RecordingMemory extends PackedMemory {
  /** Bytes written when the fatal failure's snapshot was taken (a fatal step's result is that snapshot). */
  writtenAtSnapshot = -1;
  constructor(
    private readonly recorder: ByteRecorder,
    layout: Layout,
  ) {
    super(recorder.view, layout);
  }
  begin(state: Uint8Array): void {
    this.recorder.begin(state);
    this.reset(this.recorder.view);
    this.writtenAtSnapshot = -1;
  }
  override get dirty(): boolean {
    return this.recorder.written.length > 0;
  }
  protected override w(): Uint8Array {
    this.tick();
    return this.b;
  }
  override snapshot(): Uint8Array {
    this.writtenAtSnapshot = this.recorder.written.length;
    return this.recorder.cur.slice();
  }
}

/** Sets the panic of a packed state (in place). */
export function writePanic(b: Uint8Array, layout: Layout, f: HypFailure): void {
  const id = failureId(f);
  const o = layout.panicOffset;
  b[o] = id & 0xff;
  b[o + 1] = (id >>> 8) & 0xff;
  b[o + 2] = (id >>> 16) & 0xff;
  b[o + 3] = id >>> 24;
}

export const readerOf = (s: PkvmState, config: PkvmConfig): StateReader => new ObjectReader(s, config);

// ------------------------------------------------------------------ footprints (partial-order reduction)

/**
 * The regions of a state, for partial-order reduction: each page (its PTEs, vmemmap entry and
 * ghost counters), each guest, each domain's io-pgtable, each domain's IOTLB, each extension,
 * each CPU, each lock, the scheduler's record and the panic. A step's footprint is the set of
 * regions it read and the set it wrote; two steps whose footprints do not conflict commute.
 */
export class Regions {
  readonly vm: number;
  readonly dom: number;
  readonly iotlb: number;
  readonly ext: number;
  readonly cpu: number;
  readonly lock: number;
  readonly sched: number;
  readonly panic: number;
  readonly count: number;
  /** 32-bit words of one region set. */
  readonly words: number;
  constructor(layout: Layout) {
    const c = layout.config;
    const cpus = c.cpus > 1 ? c.cpus : 0;
    this.vm = layout.pages;
    this.dom = this.vm + c.guests;
    this.iotlb = this.dom + c.domains;
    this.ext = this.iotlb + c.domains;
    this.cpu = this.ext + layout.extNames.length;
    this.lock = this.cpu + cpus;
    this.sched = this.lock + (cpus ? lockCount(c) : 0);
    this.panic = this.sched + 1;
    this.count = this.panic + 1;
    this.words = Math.ceil(this.count / 32);
    // the region of each byte of the encoding (footprints from the bytes a step read and wrote)
    const of = new Int32Array(layout.size).fill(-1);
    const span = (start: number, length: number, region: number) => of.fill(region, start, start + length);
    for (let p = 0; p < layout.pages; p++) span(p * PAGE_BYTES, PAGE_BYTES, p);
    for (let v = 0; v < c.guests; v++) span(layout.vmOffset + v * layout.vmBytes, layout.vmBytes, this.vm + v);
    for (let d = 0; d < c.domains; d++) span(layout.domOffset + d * layout.domBytes, layout.domBytes, this.dom + d);
    span(layout.panicOffset, 4, this.panic);
    layout.extNames.forEach((n, k) => span(layout.extStart.get(n)!, 2 * layout.extLengths[k], this.ext + k));
    for (let k = 0; k < cpus; k++) span(layout.cpuBase(k), layout.cpuBytes, this.cpu + k);
    if (cpus) for (let id = 0; id < lockCount(c); id++) span(layout.lockOffset + id, 1, this.lock + id);
    if (c.iotlb) for (let d = 0; d < c.domains; d++) span(layout.iotlbOffset + d * c.iovas, c.iovas, this.iotlb + d);
    if (c.preemptions >= 0) span(layout.schedOffset, 2, this.sched);
    this.ofByte = of;
  }

  /** The region of each byte of the encoding. */
  readonly ofByte: Int32Array;

  /** The footprint of a step that read bytes `read` and wrote bytes `written` (a write is a read too). */
  footprintOf(read: ArrayLike<number>, written: ArrayLike<number>): Uint32Array {
    const fp = new Uint32Array(2 * this.words);
    for (let i = 0; i < read.length; i++) {
      const r = this.ofByte[read[i]];
      fp[r >>> 5] |= 1 << (r & 31);
    }
    for (let i = 0; i < written.length; i++) {
      const r = this.ofByte[written[i]];
      fp[r >>> 5] |= 1 << (r & 31);
      fp[this.words + (r >>> 5)] |= 1 << (r & 31);
    }
    return fp;
  }
}

/** A PackedMemory that records the regions a step reads and writes (reads of a write included). */
export class TracingMemory extends PackedMemory {
  readonly regions: Regions;
  private readonly extIndex: ReadonlyMap<string, number>;
  /** reads in words [0, w), writes in [w, 2w). */
  fp: Uint32Array;

  constructor(b: Uint8Array, layout: Layout) {
    super(b, layout);
    this.regions = new Regions(layout);
    this.extIndex = new Map(layout.extNames.map((n, i) => [n, i]));
    this.fp = new Uint32Array(2 * this.regions.words);
  }

  /** Starts recording a new footprint. */
  trace(b: Uint8Array): void {
    this.reset(b);
    this.fp = new Uint32Array(2 * this.regions.words);
  }
  private r(region: number): void {
    this.fp[region >>> 5] |= 1 << (region & 31);
  }
  private wr(region: number): void {
    this.fp[region >>> 5] |= 1 << (region & 31);
    this.fp[this.regions.words + (region >>> 5)] |= 1 << (region & 31);
  }
  private page(pfn: number): number {
    return pfn >= 0 && pfn < this.nrPages ? pfn : -1;
  }

  override hostPte(pfn: number): HostPte {
    if (this.page(pfn) >= 0) this.r(pfn);
    return super.hostPte(pfn);
  }
  override hypPte(pfn: number): StoredPageState | null {
    if (this.page(pfn) >= 0) this.r(pfn);
    return super.hypPte(pfn);
  }
  override refcount(pfn: number): number {
    if (this.page(pfn) >= 0) this.r(pfn);
    return super.refcount(pfn);
  }
  override pageFlags(pfn: number): number {
    if (this.page(pfn) >= 0) this.r(pfn);
    return super.pageFlags(pfn);
  }
  override ghost(counter: GhostCounter, pfn: number): number {
    if (this.page(pfn) >= 0) this.r(pfn);
    return super.ghost(counter, pfn);
  }
  override vmDying(vm: number): boolean {
    this.r(this.regions.vm + vm);
    return super.vmDying(vm);
  }
  override guestPte(vm: number, ipa: number): GuestPte | null {
    this.r(this.regions.vm + vm);
    return super.guestPte(vm, ipa);
  }
  override ioPgd(domain: number, idx: number): IoPte {
    this.r(this.regions.dom + domain);
    return super.ioPgd(domain, idx);
  }
  override ext(name: string, i: number): number {
    this.r(this.regions.ext + this.extIndex.get(name)!);
    return super.ext(name, i);
  }
  override panic(): HypFailure | null {
    this.r(this.regions.panic);
    return super.panic();
  }
  override cpu(c: number): CpuState {
    if (this.config.cpus > 1) this.r(this.regions.cpu + c);
    return super.cpu(c);
  }
  override lockOwner(id: number): number {
    if (this.config.cpus > 1) this.r(this.regions.lock + id);
    return super.lockOwner(id);
  }
  override iotlb(domain: number, slot: number): number | null {
    if (this.config.iotlb) this.r(this.regions.iotlb + domain);
    return super.iotlb(domain, slot);
  }
  override sched(): { readonly last: number; readonly preemptions: number } | null {
    if (this.config.preemptions >= 0) this.r(this.regions.sched);
    return super.sched();
  }

  override setHostPte(pfn: number, pte: HostPte): void {
    this.wr(pfn);
    super.setHostPte(pfn, pte);
  }
  override setHypPte(pfn: number, st: StoredPageState | null): void {
    this.wr(pfn);
    super.setHypPte(pfn, st);
  }
  override setRefcount(pfn: number, v: number): void {
    this.wr(pfn);
    super.setRefcount(pfn, v);
  }
  override setPageFlags(pfn: number, v: number): void {
    this.wr(pfn);
    super.setPageFlags(pfn, v);
  }
  override setGhost(counter: GhostCounter, pfn: number, v: number): void {
    this.wr(pfn);
    super.setGhost(counter, pfn, v);
  }
  override setVmDying(vm: number, dying: boolean): void {
    this.wr(this.regions.vm + vm);
    super.setVmDying(vm, dying);
  }
  override setGuestPte(vm: number, ipa: number, pte: GuestPte | null): void {
    this.wr(this.regions.vm + vm);
    super.setGuestPte(vm, ipa, pte);
  }
  override setIoPgd(domain: number, idx: number, pte: IoPte): void {
    this.wr(this.regions.dom + domain);
    super.setIoPgd(domain, idx, pte);
  }
  override setIoLeaf(domain: number, idx: number, k: number, pfn: number | null): void {
    this.wr(this.regions.dom + domain);
    super.setIoLeaf(domain, idx, k, pfn);
  }
  override setExt(name: string, i: number, v: number): void {
    this.wr(this.regions.ext + this.extIndex.get(name)!);
    super.setExt(name, i, v);
  }
  override setCpu(c: number, cpu: CpuState): void {
    this.wr(this.regions.cpu + c);
    super.setCpu(c, cpu);
  }
  override setLockOwner(id: number, owner: number): void {
    this.wr(this.regions.lock + id);
    super.setLockOwner(id, owner);
  }
  override setIotlb(domain: number, slot: number, pfn: number | null): void {
    if (this.config.iotlb) this.wr(this.regions.iotlb + domain);
    super.setIotlb(domain, slot, pfn);
  }
  override setSched(last: number, preemptions: number): void {
    this.wr(this.regions.sched);
    super.setSched(last, preemptions);
  }
  /** A fatal failure writes the panic (every step reads it). */
  markPanic(): void {
    this.wr(this.regions.panic);
  }
}
