/**
 * Concurrent mode (cpus >= 2): the host's and the guests' calls run on CPUs, one step at a time,
 * and every step of every CPU is a transition. A call is the operation's own code, the same the
 * sequential model runs; its steps end at the interleaving points that cpu-memory.ts finds, so
 * every variant, built-in or a module, has the interleavings of the code it actually runs. The
 * hypervisor's own allocator and the hardware (devices, IOTLB fills) act atomically between any
 * two steps.
 *
 * Actions: for an idle CPU, starting any operation it may start; for a busy CPU, its next step
 * (disabled while it waits for a lock another CPU holds); and the atomic actions. A CPU's call
 * record (its action, resume point and log) and the owner of every lock are part of the state.
 */
import { freeze } from 'immer';
import type { PkvmConfig } from '../config.ts';
import { lockId } from '../kernel/base.ts';
import { pieceNames, type Hyp } from '../kernel/hyp.ts';
import { HypBase } from '../kernel/base.ts';
import type { Memory, StateReader } from '../memory.ts';
import type { OperationSpec, PkvmAction } from '../operations.ts';
import { IDLE_CPU } from '../state.ts';
import type { Variant } from '../variant.ts';
import { CpuMemory, SUSPEND, type CallWrite } from './cpu-memory.ts';
import type { Lock } from '../kernel/base.ts';

/** Interleaving points a call may meet before it counts as a hang (a CPU's record keeps the point in a byte). */
export const MAX_POINTS = 250;

export interface CpuStepInfo {
  readonly cpu: number;
  /** The operation the CPU's call runs. */
  readonly op: string;
  /** Where the step went on ('start' for a call that starts) and where it stopped ('done' when the call returned), for traces. */
  readonly from: string;
  readonly to: string;
  /** Locks the CPU holds after the step. */
  readonly holds: readonly Lock[];
  /** The operation finished in this step (its return value is the outcome's ret). */
  readonly finished: boolean;
}

/** What a call changed, as a whole (its last step only): each location it wrote, with the value it held before. */
export interface CallEffect {
  readonly undo: readonly CallWrite[];
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
  /** Per CPU-startable static action: its operation and action. */
  private readonly entries: readonly OpEntry[];
  private readonly startActions: readonly (readonly PkvmAction[])[];
  private readonly stepActions: readonly PkvmAction[];
  private readonly atomicActions: readonly AtomicEntry[];
  private readonly atomicByAction: ReadonlyMap<PkvmAction, AtomicEntry>;
  private readonly cm: CpuMemory;

  constructor(
    readonly config: PkvmConfig,
    readonly variant: Variant,
    ops: readonly { spec: OperationSpec; actions: readonly PkvmAction[] }[],
  ) {
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
    this.cm = new CpuMemory(config, variant.state, (l) => lockId(l as Lock));
  }

  /** Traces: name the kernel function each step stops and goes on in (slower: from the stack). */
  describeCalls(): void {
    const base = new Set(Object.getOwnPropertyNames(HypBase.prototype));
    this.cm.describeCalls = { pieces: new Set(pieceNames(this.variant.hyp)), primitives: base };
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

  /**
   * Runs an action on the memory: an atomic one whole; a CPU's step from where its call stopped
   * to the next interleaving point or the call's return. Returns the value the caller sees (when
   * the call returns), the step's CPU record, and, for a call's last step, what the whole call
   * changed.
   */
  run(mem: Memory, hyp: Hyp, action: PkvmAction): { ret: number; info: CpuStepInfo | null; call: CallEffect | null } {
    if (action.cpu === undefined) {
      const spec = this.atomicByAction.get(action)?.spec;
      if (!spec) throw new Error(`${action.op} is not an atomic action of this model`);
      const ret = spec.run(hyp, action.args);
      for (const l of spec.locks ? spec.locks(action.args) : []) if (hyp.holds(l)) hyp.hyp_spin_unlock(l);
      if (!hyp.fatal && spec.ghost) spec.ghost(hyp, action.args, ret);
      return { ret, info: null, call: null };
    }
    const c = action.cpu;
    const sched = mem.sched();
    if (sched) mem.setSched(c, sched.preemptions + (this.isPreemption(mem, sched.last, c) ? 1 : 0));
    const record = mem.cpu(c);
    const starting = record.op === 0;
    const op = starting ? (action.entry ?? this.entries.findIndex((e) => e.action === action)) + 1 : record.op;
    const entry = this.entries[op - 1];
    if (!entry) throw new Error(`CPU ${c} runs operation #${op - 1}, which this model does not have`);
    const cm = this.cm;
    cm.begin(mem, hyp, record, starting);
    hyp.cpu = c;
    hyp.mem = cm;
    let ret = 0;
    let finished = false;
    try {
      ret = entry.spec.run(hyp, entry.action.args);
      if (!hyp.fatal && entry.spec.ghost) entry.spec.ghost(hyp, entry.action.args, ret);
      finished = true;
    } catch (e) {
      if (e !== SUSPEND) throw e;
    } finally {
      hyp.mem = mem;
      hyp.quiet = false;
    }
    if (!finished && cm.suspendAt >= MAX_POINTS) {
      hyp.hang(entry.action.op, `the call does not return within ${MAX_POINTS} interleaving points`);
      finished = true;
    }
    const from = starting ? 'start' : cm.resumedAt;
    if (finished) {
      // a lock left held stays held: no-deadlock reports it
      mem.setCpu(c, IDLE_CPU);
      return { ret, info: { cpu: c, op: entry.action.op, from, to: 'done', holds: hyp.heldLocks(), finished: true }, call: { undo: cm.undo } };
    }
    mem.setCpu(c, cm.record(op));
    return { ret: 0, info: { cpu: c, op: entry.action.op, from, to: cm.stoppedAt, holds: hyp.heldLocks(), finished: false }, call: null };
  }
}

/** Host and guest calls, and the environment's, run on CPUs; the allocator and the hardware act atomically. */
export function runsOnCpu(spec: OperationSpec): boolean {
  return spec.actor === 'host' || spec.actor === 'guest' || spec.actor === 'environment';
}
