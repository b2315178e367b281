/**
 * Concurrent mode (cpus >= 2): the host's and the guests' calls run on CPUs, one step at a time,
 * and every step of every CPU is a transition. The hypervisor's own allocator and the hardware
 * (devices, IOTLB fills) act atomically between any two steps.
 *
 * Actions: for an idle CPU, starting any operation it may start; for a busy CPU, its next step
 * (disabled while it waits for a lock another CPU holds); and the atomic actions. A CPU's frame
 * stack, its locals, and the owner of every lock are part of the state.
 */
import { freeze } from 'immer';
import { RET_UNINITIALISED } from '../constants.ts';
import type { PkvmConfig } from '../config.ts';
import { lockId, lockName, type Lock } from '../kernel/base.ts';
import { Hyp } from '../kernel/hyp.ts';
import { PackedReader, type Memory, type StateReader } from '../memory.ts';
import type { OperationSpec, PkvmAction } from '../operations.ts';
import { IDLE_CPU, type CpuState, type Frame } from '../state.ts';
import type { Variant } from '../variant.ts';
import type { Next, Program } from './program.ts';
import { PROGRAMS } from './programs.ts';

/** Program index 0: an operation without a program of its own takes its locks, then runs in one step. */
const ATOMIC = 0;
/** A frame that runs a program's piece in one step (the variant replaced what the program spells out). */
const FALLBACK = 0x80;
const NO_INTO = 255;
const STEP_BOUND = 256;

export interface CpuStepInfo {
  readonly cpu: number;
  /** Where the step started and where it stopped (program:label), for traces. */
  readonly from: string;
  readonly to: string;
  /** Locks the CPU holds after the step. */
  readonly holds: readonly Lock[];
  /** The operation finished in this step (its return value is the outcome's ret). */
  readonly finished: boolean;
}

interface OpEntry {
  readonly spec: OperationSpec;
  readonly action: PkvmAction;
}

/** An operation that runs atomically between CPU steps, with the ids of the locks it must find free (fixed per action). */
interface AtomicEntry extends OpEntry {
  readonly lockIds: readonly number[];
}

export class Scheduler {
  readonly programs: readonly Program[];
  private readonly progIndex: ReadonlyMap<string, number>;
  /** Per static action: the CPU-startable entry, or null for an atomic action. */
  private readonly entries: readonly OpEntry[];
  private readonly startActions: readonly (readonly PkvmAction[])[];
  private readonly stepActions: readonly PkvmAction[];
  private readonly atomicActions: readonly AtomicEntry[];
  private readonly atomicByAction: ReadonlyMap<PkvmAction, AtomicEntry>;
  /** Whether a program spells out a piece the variant changed. */
  private readonly changed: (p: Program) => boolean;

  constructor(
    readonly config: PkvmConfig,
    readonly variant: Variant,
    ops: readonly { spec: OperationSpec; actions: readonly PkvmAction[] }[],
  ) {
    const all = { ...PROGRAMS, ...(variant.programs ?? {}) };
    const names = Object.keys(all).sort();
    this.programs = [{ name: '(atomic)', params: [], locals: ['held'], entry: 'entry', steps: {} }, ...names.map((n) => all[n])];
    this.progIndex = new Map(this.programs.map((p, i) => [p.name, i]));
    PackedReader.nlocals = (prog) => {
      const p = this.programs[prog & ~FALLBACK];
      if (!p) return 0;
      return prog & FALLBACK ? p.params.length + 1 : p.params.length + p.locals.length;
    };
    // a program spelling out a piece the variant changed (since the program was written) falls back to one step
    const proto = variant.hyp.prototype as unknown as Record<string, unknown>;
    const seed = Hyp.prototype as unknown as Record<string, unknown>;
    this.changed = (p: Program) => (p.spells ?? []).some((x) => proto[x] !== (p.writtenAgainst ? p.writtenAgainst[x] : seed[x]));
    const entries: OpEntry[] = [];
    const atomic: AtomicEntry[] = [];
    for (const { spec, actions } of ops)
      for (const action of actions) {
        if (runsOnCpu(spec)) entries.push({ spec, action });
        else atomic.push({ spec, action, lockIds: spec.locks ? spec.locks(action.args).map(lockId) : [] });
      }
    this.entries = entries;
    this.atomicActions = atomic;
    this.atomicByAction = new Map(atomic.map((a) => [a.action, a]));
    this.startActions = Array.from({ length: config.cpus }, (_, c) => entries.map((e, i) => freeze({ op: e.action.op, args: e.action.args, cpu: c, entry: i })));
    this.stepActions = Array.from({ length: config.cpus }, (_, c) => freeze({ op: 'step', args: {}, cpu: c }));
  }

  /** The enabled actions of a state, in a fixed order: CPU by CPU, then the atomic actions. */
  actions(r: StateReader): PkvmAction[] {
    const out: PkvmAction[] = [];
    const sched = r.sched();
    for (let c = 0; c < this.config.cpus; c++) {
      if (sched && this.isPreemption(r, sched.last, c) && sched.preemptions >= this.config.preemptions) continue;
      const cpu = r.cpu(c);
      if (cpu.op === 0) {
        const starts = this.startActions[c];
        for (let i = 0; i < this.entries.length; i++) {
          const e = this.entries[i];
          if (!e.spec.enabled || e.spec.enabled(r, e.action.args, this.config)) out.push(starts[i]);
        }
      } else if (cpu.wait === 0 || r.lockOwner(cpu.wait - 1) < 0) out.push(this.stepActions[c]);
    }
    for (let i = 0; i < this.atomicActions.length; i++) {
      const a = this.atomicActions[i];
      if (this.atomicEnabled(r, a)) out.push(a.action);
    }
    return out;
  }

  /** Every action this scheduler can enable, in a fixed order (for stable action ids). */
  allActions(): PkvmAction[] {
    return [...this.startActions.flat(), ...this.stepActions, ...this.atomicActions.map((a) => a.action)];
  }

  /** Whether one action is enabled: the test `actions` makes, for one action (footprints record what it reads). */
  isEnabled(r: StateReader, action: PkvmAction): boolean {
    if (action.cpu !== undefined) {
      const c = action.cpu;
      const sched = r.sched();
      if (sched && this.isPreemption(r, sched.last, c) && sched.preemptions >= this.config.preemptions) return false;
      const cpu = r.cpu(c);
      if (action.op === 'step') return cpu.op !== 0 && (cpu.wait === 0 || r.lockOwner(cpu.wait - 1) < 0);
      if (cpu.op !== 0) return false;
      const e = this.entries[action.entry ?? -1];
      return !!e && (!e.spec.enabled || e.spec.enabled(r, e.action.args, this.config));
    }
    const a = this.atomicByAction.get(action);
    return !!a && this.atomicEnabled(r, a);
  }

  /** An atomic operation is enabled when its own test passes and none of its locks is held. */
  private atomicEnabled(r: StateReader, a: AtomicEntry): boolean {
    if (a.spec.enabled && !a.spec.enabled(r, a.action.args, this.config)) return false;
    for (let i = 0; i < a.lockIds.length; i++) if (r.lockOwner(a.lockIds[i]) >= 0) return false;
    return true;
  }

  /** Switching away from a CPU that could go on costs a preemption. */
  private isPreemption(r: StateReader, last: number, c: number): boolean {
    if (last < 0 || last === c) return false;
    const prev = r.cpu(last);
    if (prev.op === 0) return false;
    return prev.wait === 0 || r.lockOwner(prev.wait - 1) < 0;
  }

  /** Runs an action on the memory; returns the value the caller sees (when an operation finishes). */
  run(mem: Memory, hyp: Hyp, action: PkvmAction): { ret: number; info: CpuStepInfo | null } {
    if (action.cpu === undefined) {
      const spec = this.atomicByAction.get(action)?.spec ?? this.specOf(action.op);
      const locks = spec.locks ? spec.locks(action.args) : [];
      const ret = spec.run(hyp, action.args);
      for (const l of locks) if (hyp.holds(l)) hyp.hyp_spin_unlock(l);
      if (!hyp.fatal && spec.ghost) spec.ghost(hyp, action.args, ret);
      return { ret, info: null };
    }
    const c = action.cpu;
    const sched = mem.sched();
    if (sched) mem.setSched(c, sched.preemptions + (this.isPreemption(mem, sched.last, c) ? 1 : 0));
    hyp.cpu = c;
    let cpu = mem.cpu(c);
    const from = cpu.op === 0 ? 'start' : this.where(cpu);
    let result: { cpu: CpuState; ret: number };
    if (cpu.op === 0) {
      // starting an operation also takes its first lock when it is free: the code before it
      // touches nothing shared, so no other CPU can tell the two apart
      cpu = this.start(action, cpu);
      result = this.advance(mem, hyp, c, cpu);
      if (result.cpu.op !== 0 && result.cpu.wait && mem.lockOwner(result.cpu.wait - 1) < 0 && !hyp.fatal) result = this.advance(mem, hyp, c, result.cpu);
    } else result = this.advance(mem, hyp, c, cpu);
    return { ret: result.ret, info: { cpu: c, from, to: result.cpu.op === 0 ? 'done' : this.where(result.cpu), holds: hyp.heldLocks(), finished: result.cpu.op === 0 } };
  }

  private specOf(op: string): OperationSpec {
    const e = this.entries.find((x) => x.action.op === op) ?? this.atomicActions.find((x) => x.action.op === op);
    if (!e) throw new Error(`unknown operation ${op}`);
    return e.spec;
  }

  /** The CPU's position, printable: program:label of the innermost frame. */
  where(cpu: CpuState): string {
    const f = cpu.frames[cpu.frames.length - 1];
    if (!f) return 'idle';
    const p = this.programs[f.prog & ~FALLBACK];
    const label = f.prog === ATOMIC || f.prog & FALLBACK ? 'locked' : Object.keys(p.steps)[f.pc];
    return `${f.prog === ATOMIC ? (this.entries[this.entryOf(cpu) ?? 0]?.action.op ?? 'op') : p.name}:${label}${cpu.wait ? ` (to take ${lockName(cpu.wait - 1)})` : ''}`;
  }

  private entryOf(cpu: CpuState): number | null {
    return cpu.op === 0 ? null : cpu.op - 1;
  }

  /** A CPU starts an operation: its program's first frame (or the atomic wrapper). */
  private start(action: PkvmAction, cpu: CpuState): CpuState {
    const entry = action.entry ?? this.entries.findIndex((e) => e.action === action);
    const { spec } = this.entries[entry];
    const prog = spec.program ? spec.program(action.args, this.config) : null;
    if (prog) {
      const p = this.program(prog.name);
      if (!this.changed(p)) return { op: entry + 1, wait: 0, frames: [this.frame(p, prog.args)] };
    }
    return { ...cpu, op: entry + 1, wait: 0, frames: [{ prog: ATOMIC, pc: 0, into: NO_INTO, locals: [0] }] };
  }

  private program(name: string): Program {
    const i = this.progIndex.get(name);
    if (i === undefined) throw new Error(`no program ${name}`);
    return this.programs[i];
  }

  private frame(p: Program, args: readonly number[]): Frame {
    const locals = [...args, ...p.locals.map(() => 0)];
    return { prog: this.progIndex.get(p.name)!, pc: Object.keys(p.steps).indexOf(p.entry), into: NO_INTO, locals };
  }

  /** Runs the CPU until its next waiting point or the end of its operation. */
  private advance(mem: Memory, hyp: Hyp, c: number, start: CpuState): { cpu: CpuState; ret: number } {
    const entry = this.entries[start.op - 1];
    const frames = start.frames.map((f) => ({ ...f, locals: [...f.locals] }));
    let wait = start.wait;
    if (wait) {
      hyp.hyp_spin_lock(lockName(wait - 1));
      wait = 0;
    }
    for (let guard = 0; guard < STEP_BOUND; guard++) {
      if (hyp.fatal) break;
      const top = frames[frames.length - 1];
      if (top.prog === ATOMIC) {
        // the wrapper: take the declared locks one step at a time, then run the operation
        const locks = this.atomicLocks(entry);
        const held = top.locals[0];
        if (held < locks.length) {
          const l = locks[held];
          top.locals[0] = held + 1;
          if (hyp.holds(l)) continue;
          return this.stop(mem, c, start.op, frames, lockId(l) + 1);
        }
        const ret = entry.spec.run(hyp, entry.action.args);
        for (const l of locks) if (hyp.holds(l)) hyp.hyp_spin_unlock(l);
        return this.finish(mem, hyp, c, entry, ret);
      }
      const p = this.programs[top.prog & ~FALLBACK];
      const labels = Object.keys(p.steps);
      const names = [...p.params, ...p.locals];
      const l: Record<string, number> = {};
      let next: Next;
      if (top.prog & FALLBACK) {
        // take the program's locks one step at a time, then run the piece in one go
        const locks = p.locks ?? [];
        const held = top.locals[p.params.length];
        if (held < locks.length) {
          top.locals[p.params.length] = held + 1;
          if (hyp.holds(locks[held])) continue;
          return this.stop(mem, c, start.op, frames, lockId(locks[held]) + 1);
        }
        p.params.forEach((n, k) => (l[n] = top.locals[k]));
        const value = p.fallback!(hyp, l);
        // the piece does not know the wrapper took its locks: release what it left held
        for (const lk of locks) if (hyp.holds(lk)) hyp.hyp_spin_unlock(lk);
        next = { k: 'return', value };
      } else {
        names.forEach((n, k) => (l[n] = top.locals[k]));
        next = p.steps[labels[top.pc]](hyp, l);
        names.forEach((n, k) => (top.locals[k] = l[n]));
      }
      switch (next.k) {
        case 'goto':
          top.pc = this.label(p, next.label);
          continue;
        case 'yield':
          top.pc = this.label(p, next.label);
          return this.stop(mem, c, start.op, frames, 0);
        case 'acquire':
          top.pc = this.label(p, next.label);
          if (hyp.holds(next.lock)) {
            hyp.BUG_ON(true, p.name, () => `CPU ${c} takes ${next.lock} again while holding it: a spinlock is not recursive (self-deadlock)`);
            return { cpu: mem.cpu(c), ret: 0 };
          }
          return this.stop(mem, c, start.op, frames, lockId(next.lock) + 1);
        case 'call': {
          const callee = this.program(next.prog);
          top.pc = this.label(p, next.label);
          top.into = names.indexOf(next.into);
          if (frames.length >= 3) throw new Error(`program ${next.prog} called too deep`);
          if (callee.fallback && this.changed(callee))
            frames.push({ prog: this.progIndex.get(callee.name)! | FALLBACK, pc: 0, into: NO_INTO, locals: [...next.args, 0] });
          else frames.push({ ...this.frame(callee, next.args), locals: [...next.args, ...callee.locals.map(() => 0)] });
          continue;
        }
        case 'return': {
          frames.pop();
          if (frames.length === 0) return this.finish(mem, hyp, c, entry, next.value);
          const caller = frames[frames.length - 1];
          if (caller.into !== NO_INTO) caller.locals[caller.into] = next.value;
          caller.into = NO_INTO;
          continue;
        }
      }
    }
    if (!hyp.fatal) hyp.hang(entry.action.op, 'a CPU program loops without reaching a waiting point');
    return { cpu: mem.cpu(c), ret: RET_UNINITIALISED };
  }

  private atomicLocks(entry: OpEntry): readonly Lock[] {
    const prog = entry.spec.program ? entry.spec.program(entry.action.args, this.config) : null;
    if (prog) return this.program(prog.name).locks ?? [];
    return entry.spec.locks ? entry.spec.locks(entry.action.args) : [];
  }

  private label(p: Program, label: string): number {
    const i = Object.keys(p.steps).indexOf(label);
    if (i < 0) throw new Error(`program ${p.name}: no step '${label}'`);
    return i;
  }

  private stop(mem: Memory, c: number, op: number, frames: Frame[], wait: number): { cpu: CpuState; ret: number } {
    const cpu: CpuState = { op, wait, frames: frames.map((f) => ({ prog: f.prog, pc: f.pc, into: f.into, locals: [...f.locals] })) };
    mem.setCpu(c, cpu);
    return { cpu, ret: 0 };
  }

  private finish(mem: Memory, hyp: Hyp, c: number, entry: OpEntry, ret: number): { cpu: CpuState; ret: number } {
    if (!hyp.fatal && entry.spec.ghost) entry.spec.ghost(hyp, entry.action.args, ret);
    mem.setCpu(c, IDLE_CPU);
    return { cpu: IDLE_CPU, ret };
  }
}

/** Host and guest calls, and the environment's, run on CPUs; the allocator and the hardware act atomically. */
export function runsOnCpu(spec: OperationSpec): boolean {
  return spec.actor === 'host' || spec.actor === 'guest' || spec.actor === 'environment';
}
