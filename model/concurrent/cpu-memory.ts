/**
 * Concurrent mode: how one CPU's call runs as steps, with the same kernel code as the sequential
 * model. The call's code is run from its start at every step of the CPU, on this memory, which
 * stands between the code and the state:
 *
 * - up to the interleaving point where the CPU stopped (`resume`), the code is replayed: every
 *   read returns what the call read the first time (its log, in the CPU's record in the state)
 *   and every write is dropped (it is in the state already); the hypervisor records nothing;
 * - from that point on, it runs live: reads come from the state and go to the log, writes go to
 *   the state, until the next interleaving point, where the step ends (the CPU's record keeps the
 *   point and the log), or the call returns.
 *
 * Interleaving points are where another CPU, the hyp allocator or a device can act and make a
 * difference, found by one rule at the memory, not spelled out per function:
 * - before the code takes a lock (hyp_spin_lock): the CPU may have to wait for it;
 * - before an access to state that no lock the CPU holds protects from the others: the refcount
 *   of a hyp_page (the allocator changes it under its own lock; an atomic helper is one access,
 *   see atomicBegin), the IOTLB (the SMMU's), state a variant declares unlocked, and any state
 *   the code reads or writes without holding the lock that protects it (so that a variant that
 *   forgets a lock gets every interleaving of its accesses).
 * An access under the lock that protects it is no point: no other CPU that respects the lock can
 * tell the difference. A call that has touched nothing yet takes its first lock in its first step
 * when the lock is free (nobody can tell that apart either).
 *
 * Every write of a location that the call has not written before also logs the value it
 * replaces, so that the call's last step knows what the whole call changed (`undo`): failure
 * atomicity is judged on whole calls.
 */
import type { StoredPageState } from '../constants.ts';
import type { PkvmConfig } from '../config.ts';
import { lockName } from '../kernel/base.ts';
import { guestPteOf, hostPteCode, hostPteOf, ioBlockOf, ioTableOf, type GhostCounter, type Memory, type StateReader } from '../memory.ts';
import type { CpuState, GuestPte, HostPte, HypFailure, IoPte, PkvmState, StateExtensions } from '../state.ts';
import type { Draft } from 'immer';

/** Thrown by the memory where a CPU's step ends; caught by the scheduler (never a modelled outcome). */
export const SUSPEND: unique symbol = Symbol('pkvm-check: the CPU stops at an interleaving point');

/** What the memory needs of the hypervisor running the call. */
export interface CallHyp {
  readonly fatal: HypFailure | null;
  /** No record of failures, branches, accesses or acquisitions (the replayed part of a call). */
  quiet: boolean;
  holdsLockId(id: number): boolean;
  holdsNoLock(): boolean;
}

/** Lock ids of the components (base.ts's order). */
const HOST = 0;
const HYP = 1;
const IOMMU = 2;
/** No lock protects it from the others. */
const NONE = -1;

/** Kinds of locations (the call's first writes, and where an access point is); then the other kinds of points. */
const enum Loc {
  Host = 1,
  Hyp,
  Refcount,
  Flags,
  Ghost,
  Dying,
  Guest,
  IoPgd,
  Ext,
  Iotlb,
  /** A point before taking lock `a`. */
  Lock,
  /** A point before an atomic access (atomicBegin's description). */
  Atomic,
}

const locId = (kind: Loc, a: number, b: number) => kind * 0x1000000 + a * 0x1000 + b;
const GHOSTS: readonly GhostCounter[] = ['pins', 'pool', 'dmaRefs'];

/** A location the call wrote and the value (as a code) it held before the call's first write. */
export interface CallWrite {
  readonly kind: Loc;
  readonly a: number;
  readonly b: number;
  readonly codes: readonly number[];
}

/** Values as log codes (16 bits each; an io-pgtable entry takes two). */
const hypCode = (st: StoredPageState | null) => (st === null ? 0 : st + 1);
const hypOf = (c: number): StoredPageState | null => (c === 0 ? null : ((c - 1) as StoredPageState));
const guestCode = (g: GuestPte | null) => (g === null ? 0 : g.pfn * 4 + g.state + 1);
const guestOf = (c: number): GuestPte | null => (c === 0 ? null : guestPteOf((c - 1) >> 2, ((c - 1) & 3) as StoredPageState));
const tlbCode = (pfn: number | null) => (pfn === null ? 0 : pfn + 1);
const tlbOf = (c: number) => (c === 0 ? null : c - 1);
function ioCodes(e: IoPte): [number, number] {
  if (e === null) return [0, 0];
  if (e.type === 'block') return [1, e.pfn];
  return [2 + (e.ptes[0] === null ? 0 : e.ptes[0] + 1), e.ptes[1] === null ? 0 : e.ptes[1] + 1];
}
function ioOf(c0: number, c1: number): IoPte {
  if (c0 === 0) return null;
  if (c0 === 1) return ioBlockOf(c1);
  return ioTableOf(c0 === 2 ? null : c0 - 3, c1 === 0 ? null : c1 - 1);
}

/** The undone form of a call's first writes: reads of them give the values they replaced (for failure atomicity). */
export function undoValue(w: CallWrite): unknown {
  switch (w.kind) {
    case Loc.Host:
      return hostPteOf(w.codes[0]);
    case Loc.Hyp:
      return hypOf(w.codes[0]);
    case Loc.Guest:
      return guestOf(w.codes[0]);
    case Loc.IoPgd:
      return ioOf(w.codes[0], w.codes[1]);
    case Loc.Dying:
      return w.codes[0] === 1;
    case Loc.Iotlb:
      return tlbOf(w.codes[0]);
    default:
      return w.codes[0];
  }
}


export class CpuMemory implements Memory {
  real!: Memory;
  hyp!: CallHyp;
  readonly config: PkvmConfig;
  readonly nrPages: number;
  private readonly extLock: ReadonlyMap<string, number>;
  private readonly extIndex: ReadonlyMap<string, number>;
  private readonly extNames: readonly string[];
  private readonly cap: number;

  private log: number[] = [];
  private pos = 0;
  private points = 0;
  private resume = 0;
  private live = false;
  private starting = false;
  private touched = false;
  private atomicDepth = 0;
  private atomicPointed = false;
  private atomicWhat = '';
  private written = new Set<number>();
  /** The call's first writes, in order, with the values they replaced. */
  undo: CallWrite[] = [];
  /** Where the step ended: the point, the lock waited for (-1: none), and what the point is. */
  suspendAt = 0;
  waitLock = -1;
  stoppedAt = '';
  /** What the step resumed at ('' for a call that starts). */
  resumedAt = '';
  /**
   * Name the kernel function a point is in (from the JavaScript stack: costly, for traces only):
   * the innermost method that is not one of `primitives` (the memory-level helpers).
   */
  describeCalls: { readonly pieces: ReadonlySet<string>; readonly primitives: ReadonlySet<string> } | null = null;

  constructor(config: PkvmConfig, extensions: StateExtensions, extLocks: (lock: string) => number) {
    this.config = config;
    this.nrPages = config.ramPages + config.mmioPages;
    const names = Object.keys(extensions).sort();
    this.extNames = names;
    this.extIndex = new Map(names.map((n, i) => [n, i]));
    this.extLock = new Map(names.map((n) => [n, extensions[n].lock ? extLocks(extensions[n].lock!) : NONE]));
    this.cap = config.cpuLog;
  }

  /** Starts a step of CPU c's call on the step's memory: `cpu` is its record (a new call: op set, log empty). */
  begin(real: Memory, hyp: CallHyp, cpu: CpuState, starting: boolean): void {
    this.real = real;
    this.hyp = hyp;
    // (a packed state's record is read into a fresh array; a state object's is frozen)
    this.log = starting ? [] : Object.isFrozen(cpu.log) ? [...cpu.log] : (cpu.log as number[]);
    this.pos = 0;
    this.points = 0;
    this.resume = starting ? -1 : cpu.resume;
    this.live = starting;
    this.starting = starting;
    this.touched = false;
    this.atomicDepth = 0;
    this.atomicPointed = false;
    this.written = new Set();
    this.undo = [];
    this.suspendAt = 0;
    this.waitLock = -1;
    this.stoppedAt = '';
    this.resumedAt = '';
    hyp.quiet = !starting;
  }

  /** The call's record after a step that ended at a point. */
  record(op: number): CpuState {
    if (this.log.length > this.cap) throw new CallTooLong(this.cap);
    return { op, wait: this.waitLock + 1, resume: this.suspendAt, log: this.log };
  }



  // ---------------------------------------------------------------- interleaving points

  /**
   * An interleaving point (number `points`, counted the same way live and replayed) of a kind at
   * a place (see `what`): replayed, the one the CPU stopped at makes the code go live; live, the
   * step ends here (throws SUSPEND) unless `goOn`. `lock` is the lock that protects an access
   * point, `wait` the lock the CPU waits for.
   */
  private point(wait: number, kind: Loc, a: number, b: number, lock: number, goOn = false): void {
    const idx = this.points++;
    if (!this.live) {
      if (idx === this.resume) {
        this.live = true;
        this.hyp.quiet = false;
        this.resumedAt = this.described(kind, a, b, lock);
      }
      return;
    }
    if (goOn) return;
    this.suspendAt = idx;
    this.waitLock = wait;
    this.stoppedAt = this.described(kind, a, b, lock);
    throw SUSPEND;
  }

  /** What a point is: taking a lock, or an access of a location (without the lock that protects it). */
  private what(kind: Loc, a: number, b: number, lock: number): string {
    const without = lock >= 0 ? ` without ${lockName(lock)}` : '';
    switch (kind) {
      case Loc.Lock:
        return `to take ${lockName(a)}`;
      case Loc.Atomic:
        return `before ${this.atomicWhat}`;
      case Loc.Host:
        return `before the host stage-2 entry of pfn ${a}${without}`;
      case Loc.Hyp:
        return `before the hyp stage-1 entry of pfn ${a}${without}`;
      case Loc.Refcount:
        return `before hyp_page.refcount of pfn ${a}`;
      case Loc.Flags:
        return `before hyp_page.flags of pfn ${a}${without}`;
      case Loc.Dying:
        return `before guest ${a}'s state${without}`;
      case Loc.Guest:
        return `before guest ${a}'s stage-2 entry of IPA page ${b}${without}`;
      case Loc.IoPgd:
        return `before domain ${a}'s io-pgtable entry ${b}${without}`;
      case Loc.Ext:
        return `before state '${this.extNames[a]}'[${b}]${without}`;
      case Loc.Iotlb:
        return `before domain ${a}'s IOTLB`;
      default:
        return `before location ${kind}:${a}:${b}`;
    }
  }

  /** A point's description, with the kernel function it is in when calls are described. */
  private described(kind: Loc, a: number, b: number, lock: number): string {
    const text = this.what(kind, a, b, lock);
    const d = this.describeCalls;
    if (!d) return text;
    // (V8's stack depth, typed here so that the model's sources need no Node types)
    const v8 = Error as { stackTraceLimit?: number };
    const limit = v8.stackTraceLimit;
    v8.stackTraceLimit = 64;
    const stack = new Error().stack ?? '';
    v8.stackTraceLimit = limit;
    const names: string[] = [];
    for (const line of stack.split('\n')) {
      const m = /^\s*at (?:[\w$]+\.)?([\w$]+) /.exec(line);
      if (!m || !d.pieces.has(m[1]) || d.primitives.has(m[1])) continue;
      if (names[names.length - 1] !== m[1]) names.push(m[1]);
      if (names.length === 2) break;
    }
    return names.length ? `${names[0]}${names[1] ? ` (from ${names[1]})` : ''}: ${text}` : text;
  }

  /**
   * hyp_spin_lock is about to take lock `id`: a point, where the CPU may wait. A call that has
   * touched nothing yet and holds no lock takes a free lock at once.
   */
  lockPoint(id: number): void {
    if (this.hyp.fatal) return;
    const now = this.live && this.starting && !this.touched && this.hyp.holdsNoLock() && this.real.lockOwner(id) < 0;
    this.point(id, Loc.Lock, id, 0, -1, now);
  }

  /** An atomic access (a helper's read-modify-write, a TLBI command): one point for all its accesses. */
  atomicBegin(what: string): void {
    if (this.atomicDepth++ === 0) {
      this.atomicPointed = false;
      this.atomicWhat = what;
    }
  }

  atomicEnd(): void {
    if (this.atomicDepth > 0) this.atomicDepth--;
  }

  /** Before an access of location (kind, a, b), which `lock` protects (NONE: nothing does): a point unless the CPU holds that lock. */
  private access(lock: number, kind: Loc, a: number, b: number): void {
    if (this.live) this.touched = true;
    if (this.hyp.fatal) return;
    if (this.atomicDepth > 0) {
      if (this.atomicPointed) return;
      this.atomicPointed = true;
      this.point(-1, Loc.Atomic, 0, 0, -1);
      return;
    }
    if (lock >= 0 && this.hyp.holdsLockId(lock)) return;
    this.point(-1, kind, a, b, lock);
  }

  /** The next code of the replayed log, or (live) logs `code`. */
  private next(): number {
    return this.log[this.pos++];
  }

  /** A read made live: its code goes to the log, the value to the code. */
  private logged(code: number): void {
    this.log.push(code);
  }

  /** The codes of a location's value in the live state (what a read of it logs). */
  private liveCodes(kind: Loc, a: number, b: number): number[] {
    const r = this.real;
    switch (kind) {
      case Loc.Host:
        return [hostPteCode(r.hostPte(a))];
      case Loc.Hyp:
        return [hypCode(r.hypPte(a))];
      case Loc.Refcount:
        return [r.refcount(a)];
      case Loc.Flags:
        return [r.pageFlags(a)];
      case Loc.Ghost:
        return [r.ghost(GHOSTS[a], b)];
      case Loc.Dying:
        return [r.vmDying(a) ? 1 : 0];
      case Loc.Guest:
        return [guestCode(r.guestPte(a, b))];
      case Loc.IoPgd:
        return ioCodes(r.ioPgd(a, b));
      case Loc.Ext:
        return [r.ext(this.extNames[a], b)];
      case Loc.Iotlb:
        return [tlbCode(r.iotlb(a, b))];
      default:
        throw new Error(`no location of kind ${kind}`);
    }
  }

  /** Before the call's first write of a location: its current value goes to the log and the undo list. */
  private first(kind: Loc, a: number, b: number): void {
    const id = locId(kind, a, b);
    if (this.written.has(id)) return;
    this.written.add(id);
    let cs: number[];
    if (this.live) {
      cs = this.liveCodes(kind, a, b);
      for (const c of cs) this.log.push(c);
    } else {
      const n = kind === Loc.IoPgd ? 2 : 1;
      cs = this.log.slice(this.pos, this.pos + n);
      this.pos += n;
    }
    this.undo.push({ kind, a, b, codes: cs });
  }

  // ---------------------------------------------------------------- reads

  hostPte(pfn: number): HostPte {
    this.access(HOST, Loc.Host, pfn, 0);
    if (!this.live) return hostPteOf(this.next());
    const v = this.real.hostPte(pfn);
    this.logged(hostPteCode(v));
    return v;
  }
  hypPte(pfn: number): StoredPageState | null {
    this.access(HYP, Loc.Hyp, pfn, 0);
    if (!this.live) return hypOf(this.next());
    const v = this.real.hypPte(pfn);
    this.logged(hypCode(v));
    return v;
  }
  refcount(pfn: number): number {
    this.access(NONE, Loc.Refcount, pfn, 0);
    if (!this.live) return this.next();
    const v = this.real.refcount(pfn);
    this.logged(v);
    return v;
  }
  pageFlags(pfn: number): number {
    this.access(HOST, Loc.Flags, pfn, 0);
    if (!this.live) return this.next();
    const v = this.real.pageFlags(pfn);
    this.logged(v);
    return v;
  }
  /** The specification's bookkeeping: never a point (no kernel code races on it), but replayed as read. */
  ghost(counter: GhostCounter, pfn: number): number {
    if (!this.live) return this.next();
    const v = this.real.ghost(counter, pfn);
    this.logged(v);
    return v;
  }
  vmDying(vm: number): boolean {
    this.access(4 + vm, Loc.Dying, vm, 0);
    if (!this.live) return this.next() === 1;
    const v = this.real.vmDying(vm);
    this.logged(v ? 1 : 0);
    return v;
  }
  guestPte(vm: number, ipa: number): GuestPte | null {
    this.access(4 + vm, Loc.Guest, vm, ipa);
    if (!this.live) return guestOf(this.next());
    const v = this.real.guestPte(vm, ipa);
    this.logged(guestCode(v));
    return v;
  }
  ioEntries(domain: number): number {
    return this.real.ioEntries(domain);
  }
  ioPgd(domain: number, idx: number): IoPte {
    this.access(IOMMU, Loc.IoPgd, domain, idx);
    if (!this.live) {
      const c0 = this.next();
      return ioOf(c0, this.next());
    }
    const e = this.real.ioPgd(domain, idx);
    const [c0, c1] = ioCodes(e);
    this.log.push(c0, c1);
    return e;
  }
  ext(name: string, i: number): number {
    this.access(this.extLock.get(name) ?? NONE, Loc.Ext, this.extIndex.get(name) ?? 0xfff, i);
    if (!this.live) return this.next();
    const v = this.real.ext(name, i);
    this.logged(v);
    return v;
  }
  iotlb(domain: number, slot: number): number | null {
    this.access(NONE, Loc.Iotlb, domain, slot);
    if (!this.live) return tlbOf(this.next());
    const v = this.real.iotlb(domain, slot);
    this.logged(tlbCode(v));
    return v;
  }

  // the scheduler's and the hardware's own records: no points, no log
  panic(): HypFailure | null {
    return this.real.panic();
  }
  cpu(c: number): CpuState {
    return this.real.cpu(c);
  }
  lockOwner(id: number): number {
    return this.real.lockOwner(id);
  }
  lockHeldBy(id: number, cpu: number): boolean {
    return this.real.lockHeldBy(id, cpu);
  }
  sched(): { readonly last: number; readonly preemptions: number } | null {
    return this.real.sched();
  }

  // ---------------------------------------------------------------- writes

  setHostPte(pfn: number, pte: HostPte): void {
    this.access(HOST, Loc.Host, pfn, 0);
    this.first(Loc.Host, pfn, 0);
    if (this.live) this.real.setHostPte(pfn, pte);
  }
  setHypPte(pfn: number, st: StoredPageState | null): void {
    this.access(HYP, Loc.Hyp, pfn, 0);
    this.first(Loc.Hyp, pfn, 0);
    if (this.live) this.real.setHypPte(pfn, st);
  }
  setRefcount(pfn: number, v: number): void {
    this.access(NONE, Loc.Refcount, pfn, 0);
    this.first(Loc.Refcount, pfn, 0);
    if (this.live) this.real.setRefcount(pfn, v);
  }
  setPageFlags(pfn: number, v: number): void {
    this.access(HOST, Loc.Flags, pfn, 0);
    this.first(Loc.Flags, pfn, 0);
    if (this.live) this.real.setPageFlags(pfn, v);
  }
  setGhost(counter: GhostCounter, pfn: number, v: number): void {
    this.first(Loc.Ghost, GHOSTS.indexOf(counter), pfn);
    if (this.live) this.real.setGhost(counter, pfn, v);
  }
  setVmDying(vm: number, dying: boolean): void {
    this.access(4 + vm, Loc.Dying, vm, 0);
    this.first(Loc.Dying, vm, 0);
    if (this.live) this.real.setVmDying(vm, dying);
  }
  setGuestPte(vm: number, ipa: number, pte: GuestPte | null): void {
    this.access(4 + vm, Loc.Guest, vm, ipa);
    this.first(Loc.Guest, vm, ipa);
    if (this.live) this.real.setGuestPte(vm, ipa, pte);
  }
  setIoPgd(domain: number, idx: number, pte: IoPte): void {
    this.access(IOMMU, Loc.IoPgd, domain, idx);
    this.first(Loc.IoPgd, domain, idx);
    if (this.live) this.real.setIoPgd(domain, idx, pte);
  }
  setIoLeaf(domain: number, idx: number, k: number, pfn: number | null): void {
    this.access(IOMMU, Loc.IoPgd, domain, idx);
    this.first(Loc.IoPgd, domain, idx);
    if (this.live) this.real.setIoLeaf(domain, idx, k, pfn);
  }
  setExt(name: string, i: number, v: number): void {
    const k = this.extIndex.get(name) ?? 0xfff;
    this.access(this.extLock.get(name) ?? NONE, Loc.Ext, k, i);
    this.first(Loc.Ext, k, i);
    if (this.live) this.real.setExt(name, i, v);
  }
  setIotlb(domain: number, slot: number, pfn: number | null): void {
    this.access(NONE, Loc.Iotlb, domain, slot);
    this.first(Loc.Iotlb, domain, slot);
    if (this.live) this.real.setIotlb(domain, slot, pfn);
  }
  setCpu(c: number, cpu: CpuState): void {
    if (this.live) this.real.setCpu(c, cpu);
  }
  setLockOwner(id: number, owner: number): void {
    if (this.live) this.real.setLockOwner(id, owner);
  }
  setSched(last: number, preemptions: number): void {
    if (this.live) this.real.setSched(last, preemptions);
  }

  get dirty(): boolean {
    return this.real.dirty;
  }
  snapshot(): unknown {
    return this.real.snapshot();
  }
  draft(): Draft<PkvmState> {
    throw new Error('with several CPUs, kernel code must read and write the state through this.mem (a call is replayed from what it read), not the state object (this.s)');
  }
}

/** A call that reads more between its start and its end than a CPU's record holds. */
export class CallTooLong extends Error {
  override readonly name = 'CallTooLong';
  constructor(readonly cap: number) {
    super(`a call read more than the ${cap} values a CPU's record holds (raise --cpu-log)`);
  }
}

/**
 * A state as it would be had a call not run: a reader of the state after the call's last step
 * that gives, for every location the call wrote, the value it held before the call's first write
 * of it (other CPUs' changes kept). Failure atomicity compares the two.
 */
export class UndoneReader implements StateReader {
  readonly config: PkvmConfig;
  readonly nrPages: number;
  private readonly undone = new Map<number, unknown>();
  private readonly extIndex: ReadonlyMap<string, number>;

  constructor(
    private readonly base: StateReader,
    undo: readonly CallWrite[],
    extNames: readonly string[],
  ) {
    this.config = base.config;
    this.nrPages = base.nrPages;
    this.extIndex = new Map(extNames.map((n, i) => [n, i]));
    for (const w of undo) this.undone.set(locId(w.kind, w.a, w.b), undoValue(w));
  }

  private at<T>(kind: Loc, a: number, b: number, read: () => T): T {
    const id = locId(kind, a, b);
    return this.undone.has(id) ? (this.undone.get(id) as T) : read();
  }

  hostPte(pfn: number): HostPte {
    return this.at(Loc.Host, pfn, 0, () => this.base.hostPte(pfn));
  }
  hypPte(pfn: number): StoredPageState | null {
    return this.at(Loc.Hyp, pfn, 0, () => this.base.hypPte(pfn));
  }
  refcount(pfn: number): number {
    return this.at(Loc.Refcount, pfn, 0, () => this.base.refcount(pfn));
  }
  pageFlags(pfn: number): number {
    return this.at(Loc.Flags, pfn, 0, () => this.base.pageFlags(pfn));
  }
  ghost(counter: GhostCounter, pfn: number): number {
    return this.at(Loc.Ghost, GHOSTS.indexOf(counter), pfn, () => this.base.ghost(counter, pfn));
  }
  vmDying(vm: number): boolean {
    return this.at(Loc.Dying, vm, 0, () => this.base.vmDying(vm));
  }
  guestPte(vm: number, ipa: number): GuestPte | null {
    return this.at(Loc.Guest, vm, ipa, () => this.base.guestPte(vm, ipa));
  }
  ioEntries(domain: number): number {
    return this.base.ioEntries(domain);
  }
  ioPgd(domain: number, idx: number): IoPte {
    return this.at(Loc.IoPgd, domain, idx, () => this.base.ioPgd(domain, idx));
  }
  ext(name: string, i: number): number {
    return this.at(Loc.Ext, this.extIndex.get(name) ?? 0xfff, i, () => this.base.ext(name, i));
  }
  iotlb(domain: number, slot: number): number | null {
    return this.at(Loc.Iotlb, domain, slot, () => this.base.iotlb(domain, slot));
  }
  panic(): HypFailure | null {
    return this.base.panic();
  }
  cpu(c: number): CpuState {
    return this.base.cpu(c);
  }
  lockOwner(id: number): number {
    return this.base.lockOwner(id);
  }
  lockHeldBy(id: number, cpu: number): boolean {
    return this.base.lockHeldBy(id, cpu);
  }
  sched(): { readonly last: number; readonly preemptions: number } | null {
    return this.base.sched();
  }
}
