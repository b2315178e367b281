/**
 * The pKVM model as a transition system for the checker, in two representations that run the
 * same kernel code:
 *
 * - PkvmModel: the readable model. A state is frozen plain data; a step runs one operation of a
 *   variant's hypervisor on a copy-on-write immer draft.
 * - PackedPkvmModel: the fast path. A state is its canonical byte encoding; a step runs the same
 *   operation on a copy-on-write byte array.
 *
 * Both enumerate the same actions in the same order and produce equal states (tested).
 */
import { freeze } from 'immer';
import { RET_UNINITIALISED, retName } from './constants.ts';
import { type PkvmConfig, validateConfig } from './config.ts';
import { PkvmCodec } from './codec.ts';
import type { Acquisition, StaleTranslation, SubCall } from './kernel/base.ts';
import { runsOnCpu, Scheduler, type CallEffect, type CpuStepInfo } from './concurrent/scheduler.ts';
import type { Hyp } from './kernel/hyp.ts';
import { ByteRecorder, DecisionTree, type PathNode } from './compiled.ts';
import { Layout, ObjectMemory, ObjectReader, OVER_BUDGET, PackedMemory, PackedReader, RecordingMemory, Regions, TracingMemory, writePanic, type Memory, type StateReader } from './memory.ts';
import { OPERATIONS_BY_NAME, formatArg, operationsFor, type OperationSpec, type PkvmAction } from './operations.ts';
import { initialState, type HypFailure, type PkvmState } from './state.ts';
import { RFC_V1, VariantError, type Variant } from './variant.ts';
import { lifecycleOn, modelExtensions } from './lifecycle.ts';

export interface PkvmOutcome {
  /** What the caller sees (0, a negative errno, or a garbage value). */
  readonly ret: number;
  readonly failures: readonly HypFailure[];
  readonly branches: readonly string[];
  readonly subcalls: readonly SubCall[];
  readonly accesses: readonly { readonly by: string; readonly pfn: number }[];
  /** Locks taken in the step, with the locks held then. */
  readonly acquisitions: readonly Acquisition[];
  /** Translations the call left for an IOTLB to use (one CPU, IOTLB not modelled; see tlb-invalidated). */
  readonly staleTlb: readonly StaleTranslation[];
  /** Concurrent mode: which CPU stepped, from where to where, and the locks it holds after. */
  readonly cpu: CpuStepInfo | null;
  /** Concurrent mode, a call's last step: what the whole call changed (failure atomicity is judged on whole calls). */
  readonly call: CallEffect | null;
}

/** What both representations share: the configuration, the variant, the operations and their actions. */
abstract class PkvmSystem<S> {
  readonly config: PkvmConfig;
  readonly variant: Variant;
  readonly codec: PkvmCodec;
  protected readonly ops: readonly { spec: OperationSpec; actions: readonly PkvmAction[] }[];
  private readonly opsByName: ReadonlyMap<string, OperationSpec>;
  /** Concurrent mode: the CPUs and their programs; null with one CPU. */
  readonly scheduler: Scheduler | null;

  constructor(config: PkvmConfig, variant: Variant) {
    this.config = validateConfig(config);
    // the state the configuration adds (the page pool's with --memcache, the domain lifecycle's) is kept as a variant's is
    const extensions = modelExtensions(this.config, variant.state);
    variant = this.variant = extensions === variant.state ? variant : { ...variant, state: extensions };
    this.codec = new PkvmCodec(this.config, variant.state);
    const specs = [
      ...operationsFor(this.config).filter((o) => !variant.removeOperations.includes(o.name)),
      ...variant.addOperations.filter((o) => o.actor !== 'host' || (o.hosts ?? ['driver', 'iommu', 'adversarial']).includes(this.config.host)),
    ];
    this.opsByName = new Map(specs.map((o) => [o.name, o]));
    this.ops = specs.map((spec) => ({
      spec,
      actions: spec.staticArgs(this.config).map((args) => freeze({ op: spec.name, args: freeze(args) })),
    }));
    this.scheduler = this.config.cpus > 1 ? new Scheduler(this.config, variant, this.ops) : null;
  }

  protected abstract reader(s: S): StateReader;

  actions(state: S): readonly PkvmAction[] {
    const r = this.reader(state);
    if (r.panic()) return [];
    if (this.scheduler) return this.scheduler.actions(r);
    const out: PkvmAction[] = [];
    for (const { spec, actions } of this.ops) {
      if (!spec.enabled) {
        for (const a of actions) out.push(a);
        continue;
      }
      for (const a of actions) if (spec.enabled(r, a.args, this.config)) out.push(a);
    }
    return out;
  }

  private ids: Map<PkvmAction, number> | null = null;

  /** Several CPUs: the operations that run atomically between CPU steps (the hypervisor's own activity, the hardware). */
  atomicOperations(): string[] {
    return this.scheduler ? this.ops.filter((o) => !runsOnCpu(o.spec)).map((o) => o.spec.name) : [];
  }

  /** Every action the model can enable, in any state, in a fixed order. */
  allActions(): readonly PkvmAction[] {
    return this.scheduler ? this.scheduler.allActions() : this.ops.flatMap((o) => o.actions);
  }

  /** Partial-order reduction: a small integer naming an action, the same in every state. */
  actionId(action: PkvmAction): number {
    if (!this.ids) this.ids = new Map(this.allActions().map((a, i) => [a, i]));
    const id = this.ids.get(action);
    if (id === undefined) throw new Error(`action ${this.describeAction(action)} is not one of the model's actions`);
    return id;
  }

  /** Whether one action is enabled (the test `actions` makes), so that a footprint records what it reads. */
  protected isEnabled(r: StateReader, action: PkvmAction): boolean {
    if (r.panic()) return false;
    if (this.scheduler) return this.scheduler.isEnabled(r, action);
    const spec = this.opsByName.get(action.op);
    return !!spec && (!spec.enabled || spec.enabled(r, action.args, this.config));
  }

  private hypObject: Hyp | null = null;

  /** Runs one operation on a memory; returns the hypervisor (its record and fatal failure) and the value returned. */
  protected run(mem: Memory, action: PkvmAction): { hyp: Hyp; ret: number; info: CpuStepInfo | null; call: CallEffect | null } {
    // one hypervisor object per model, reset for every step (steps never nest)
    let hyp = this.hypObject;
    if (hyp) hyp.reset(mem);
    else hyp = this.hypObject = new this.variant.hyp(mem, this.config);
    try {
      if (this.scheduler) {
        const r = this.scheduler.run(mem, hyp, action);
        return { hyp, ret: r.ret, info: r.info, call: r.call };
      }
      const spec = this.opsByName.get(action.op);
      if (!spec) throw new Error(`unknown operation ${action.op}`);
      const ret = spec.run(hyp, action.args);
      if (!hyp.fatal) {
        const left = hyp.heldLocks();
        if (left.length) hyp.lockLeak(action.op, left);
      }
      if (!hyp.fatal && spec.ghost) spec.ghost(hyp, action.args, ret);
      if (!hyp.fatal) hyp.smmu_note_stale_translations();
      return { hyp, ret, info: null, call: null };
    } catch (e) {
      if (e !== OVER_BUDGET) throw e;
      // the code does not return: a hang, in the state as it was when the budget ran out
      hyp.mem = mem;
      hyp.quiet = false;
      hyp.hang(action.op === 'step' ? `cpu ${action.cpu}'s call` : action.op, `the step makes more than ${this.config.stepBudget.toLocaleString('en-US')} state accesses without returning (--step-budget)`);
      return { hyp, ret: RET_UNINITIALISED, info: null, call: null };
    }
  }

  protected outcome(hyp: Hyp, ret: number, info: CpuStepInfo | null, call: CallEffect | null): PkvmOutcome {
    return { ret, failures: hyp.rec.failures, branches: hyp.rec.branches, subcalls: hyp.rec.subcalls, accesses: hyp.rec.accesses, acquisitions: hyp.rec.acquisitions, staleTlb: hyp.rec.staleTlb, cpu: info, call };
  }

  describeAction(action: PkvmAction): string {
    return describeAction(action, this.opsByName.get(action.op));
  }

  operation(name: string): OperationSpec | undefined {
    return this.opsByName.get(name);
  }

  /**
   * Symmetry: SMMU domains are interchangeable (nothing in the hypervisor tells them apart), and
   * so are guests (an annotation says PKVM_ID_GUEST, not which guest). Pages are not: range
   * operations see which pages are adjacent. The representative sorts the domains' and the
   * guests' byte blocks.
   */
  canonicalizeBytes(b: Uint8Array): Uint8Array {
    // a CPU's call record names domains and guests in its action and its log: not permuted here
    if (this.config.cpus > 1) throw new Error('symmetry reduction is not available with several CPUs');
    // endpoints' STEs and the domains' refs name domains by index: not permuted here
    if (lifecycleOn(this.config)) throw new Error('symmetry reduction is not available with --domain-lifecycle');
    const L = this.codec.layout;
    let out: Uint8Array | null = null;
    /** Sorts `count` components, each the bytes of its parts (offset, size per component), moving every part together. */
    const sortComponents = (count: number, parts: readonly { offset: number; size: number }[]) => {
      if (count < 2) return;
      const src = out ?? b;
      // compared in place, part by part (a state already canonical, the common case, copies nothing)
      const cmp = (x: number, y: number): number => {
        for (const p of parts)
          for (let k = 0; k < p.size; k++) {
            const d = src[p.offset + x * p.size + k] - src[p.offset + y * p.size + k];
            if (d !== 0) return d;
          }
        return 0;
      };
      let sorted = true;
      for (let i = 1; i < count && sorted; i++) if (cmp(i - 1, i) > 0) sorted = false;
      if (sorted) return;
      const order = Array.from({ length: count }, (_, i) => i).sort(cmp);
      const from = src.slice();
      out ??= b.slice();
      order.forEach((j, i) => {
        for (const p of parts) out!.set(from.subarray(p.offset + j * p.size, p.offset + (j + 1) * p.size), p.offset + i * p.size);
      });
    };
    sortComponents(this.config.guests, [{ offset: L.vmOffset, size: L.vmBytes }]);
    // a domain is its io-pgtable and, when modelled, its IOTLB
    sortComponents(this.config.domains, [{ offset: L.domOffset, size: L.domBytes }, ...(this.config.iotlb ? [{ offset: L.iotlbOffset, size: this.config.iovas }] : [])]);
    return out ?? b;
  }
}

/** The readable model: frozen plain-data states. */
export class PkvmModel extends PkvmSystem<PkvmState> {
  private readonly init: PkvmState;

  constructor(config: PkvmConfig, variant: Variant = RFC_V1) {
    super(config, variant);
    this.init = initialState(this.config, this.variant.state);
  }

  /** From now on, CPU steps say which kernel function they stop and go on in (for traces: slower). */
  describeCalls(): void {
    this.scheduler?.describeCalls();
  }

  protected reader(s: PkvmState): StateReader {
    return new ObjectReader(s, this.config);
  }

  /** A reader of a state of this model (for views and invariants). */
  read(s: PkvmState): StateReader {
    return new ObjectReader(s, this.config);
  }

  initialStates(): readonly PkvmState[] {
    return [this.init];
  }

  step(state: PkvmState, action: PkvmAction): { readonly state: PkvmState; readonly outcome: PkvmOutcome } {
    const mem = new ObjectMemory(state, this.config);
    const { hyp, ret, info, call } = this.run(mem, action);
    let next = mem.finish();
    if (hyp.fatal) next = freeze({ ...(hyp.fatalSnapshot as PkvmState), panic: hyp.fatal }, true);
    return { state: next, outcome: this.outcome(hyp, ret, info, call) };
  }

  encode(state: PkvmState): Uint8Array {
    return this.codec.encode(state);
  }

  decode(bytes: Uint8Array): PkvmState {
    return this.codec.decode(bytes);
  }

  canonicalize(b: Uint8Array): Uint8Array {
    return this.canonicalizeBytes(b);
  }
}

/** The fast path: states are canonical byte encodings, stepped in place of objects. */
export class PackedPkvmModel extends PkvmSystem<Uint8Array> {
  readonly layout: Layout;
  private readonly init: Uint8Array;

  constructor(config: PkvmConfig, variant: Variant = RFC_V1) {
    super(config, variant);
    this.layout = this.codec.layout;
    this.init = this.codec.encode(initialState(this.config, this.variant.state));
  }

  protected reader(b: Uint8Array): StateReader {
    return new PackedReader(b, this.layout);
  }

  read(b: Uint8Array): StateReader {
    return new PackedReader(b, this.layout);
  }

  initialStates(): readonly Uint8Array[] {
    return [this.init];
  }

  private memObject: PackedMemory | null = null;

  step(state: Uint8Array, action: PkvmAction): { readonly state: Uint8Array; readonly outcome: PkvmOutcome } {
    let mem = this.memObject;
    if (mem) mem.reset(state);
    else mem = this.memObject = new PackedMemory(state, this.layout);
    const { hyp, ret, info, call } = this.run(mem, action);
    let next = mem.finish();
    if (hyp.fatal) {
      next = hyp.fatalSnapshot as Uint8Array;
      writePanic(next, this.layout, hyp.fatal);
    }
    return { state: next, outcome: this.outcome(hyp, ret, info, call) };
  }

  private traceObject: TracingMemory | null = null;

  /**
   * Partial-order reduction: `step`, plus the regions (see Regions) the action read, its
   * enabledness included, and wrote. A fatal failure writes the panic, which every action reads.
   */
  stepWithFootprint(state: Uint8Array, action: PkvmAction): { readonly state: Uint8Array; readonly outcome: PkvmOutcome; readonly footprint: Uint32Array } {
    let mem = this.traceObject;
    if (mem) mem.trace(state);
    else mem = this.traceObject = new TracingMemory(state, this.layout);
    this.isEnabled(mem, action);
    const { hyp, ret, info, call } = this.run(mem, action);
    let next = mem.finish();
    if (hyp.fatal) {
      next = hyp.fatalSnapshot as Uint8Array;
      writePanic(next, this.layout, hyp.fatal);
      mem.markPanic();
    }
    return { state: next, outcome: this.outcome(hyp, ret, info, call), footprint: mem.fp };
  }

  encode(state: Uint8Array): Uint8Array {
    return state;
  }

  decode(bytes: Uint8Array): Uint8Array {
    return bytes;
  }

  /** The readable form of a packed state. */
  toObject(b: Uint8Array): PkvmState {
    return this.codec.decode(b);
  }

  canonicalize(b: Uint8Array): Uint8Array {
    return this.canonicalizeBytes(b);
  }
}

/** A compiled step's result: the outcome, shared by every state that takes the same path. */
type StepLeaf = PathNode<PkvmOutcome>;

/** A leaf of the compiled enabledness test: the actions, their step trees, and where walks of them start. */
interface ActionList {
  readonly actions: readonly PkvmAction[];
  readonly trees: readonly DecisionTree<PkvmOutcome>[];
  /**
   * The bytes the enabledness tests read (the same in every state that reaches this leaf), until
   * `starts` is set; null for a list computed without a tree (several CPUs), whose walks start at
   * the roots.
   */
  known: Int32Array | null;
  /** Per action, the reference in its step tree that those bytes lead to (set at the first expansion). */
  starts: Int32Array | null;
}

/**
 * The compiled engine: the packed engine's steps (per action) and, with one CPU, each operation's
 * enabledness test, compiled on first use into decision trees over the bytes they read
 * (compiled.ts). Same states, same outcomes, same action order; the kernel code runs once per
 * distinct path instead of once per transition.
 */
export class CompiledPkvmModel extends PackedPkvmModel {
  private readonly recorder = new ByteRecorder();
  private readonly recMem: RecordingMemory;
  private readonly stepTrees = new Map<PkvmAction, DecisionTree<PkvmOutcome>>();
  /** Enabled-action lists and their step trees, shared by the states (and enabledness leaves) that enable the same actions. */
  private readonly lists = new Map<string, { actions: readonly PkvmAction[]; trees: readonly DecisionTree<PkvmOutcome>[] }>();

  constructor(config: PkvmConfig, variant: Variant = RFC_V1) {
    super(config, variant);
    this.recMem = new RecordingMemory(this.recorder, this.layout);
  }

  private treeOf(action: PkvmAction): DecisionTree<PkvmOutcome> {
    let tree = this.stepTrees.get(action);
    if (tree === undefined) this.stepTrees.set(action, (tree = new DecisionTree()));
    return tree;
  }

  /**
   * Several CPUs: the scheduler decides the whole list from every CPU's frame, which differs in
   * nearly every state, so a tree of it would hold a path per state: the list is computed on the
   * bytes (no recording) and only the steps are compiled, walked from their roots.
   */
  private actionList(state: Uint8Array): ActionList {
    const actions = super.actions(state);
    let key = '';
    for (const a of actions) key += `${this.actionId(a)},`;
    let shared = this.lists.get(key);
    if (!shared) this.lists.set(key, (shared = { actions: freeze(actions), trees: actions.map((a) => this.treeOf(a)) }));
    return { actions: shared.actions, trees: shared.trees, known: null, starts: null };
  }

  /**
   * One CPU: each operation's enabledness has its own tree (the operations' tests read few bytes
   * each, so these trees stay small however many states there are); with several CPUs the
   * scheduler decides the whole list at once (actionList).
   */
  private groups: { readonly spec: OperationSpec; readonly actions: readonly PkvmAction[]; readonly tree: DecisionTree<ActionList> | null; readonly always: ActionList | null }[] | null = null;

  private groupsOf(): NonNullable<CompiledPkvmModel['groups']> {
    return (this.groups ??= this.ops.map(({ spec, actions }) => ({
      spec,
      actions,
      tree: spec.enabled ? new DecisionTree<ActionList>() : null,
      always: spec.enabled ? null : { actions, trees: actions.map((a) => this.treeOf(a)), known: new Int32Array(0), starts: null },
    })));
  }

  /** The actions of one operation enabled in a state, from its tree. */
  private enabledOf(g: NonNullable<CompiledPkvmModel['groups']>[number], state: Uint8Array): ActionList {
    const tree = g.tree;
    if (tree === null) return g.always!;
    const leaf = tree.find(state);
    if (leaf !== undefined) return leaf.outcome!;
    return this.recordEnabled(g, tree, state);
  }

  /**
   * enabledOf for a state no path of the tree matches yet: runs the operation's test on a
   * recording. (Apart, so that enabledOf has no closure: a closure over a parameter would cost
   * every call, the common one included, an allocation.)
   */
  private recordEnabled(g: NonNullable<CompiledPkvmModel['groups']>[number], tree: DecisionTree<ActionList>, state: Uint8Array): ActionList {
    this.recorder.begin(state);
    const r = new PackedReader(this.recorder.view, this.layout);
    const on = g.actions.filter((a) => g.spec.enabled!(r, a.args, this.config));
    // leaves that enable the same actions share the lists (there are far more leaves than subsets)
    const key = on.map((a) => this.actionId(a)).join(',');
    let shared = this.lists.get(key);
    if (!shared) this.lists.set(key, (shared = { actions: on, trees: on.map((a) => this.treeOf(a)) }));
    const list: ActionList = { actions: shared.actions, trees: shared.trees, known: Int32Array.from(this.recorder.readOffsets), starts: null };
    tree.add(this.recorder, [], [], list);
    return list;
  }

  private panicked(state: Uint8Array): boolean {
    const o = this.layout.panicOffset;
    return (state[o] | state[o + 1] | state[o + 2] | state[o + 3]) !== 0;
  }

  override actions(state: Uint8Array): readonly PkvmAction[] {
    if (this.scheduler) return this.actionList(state).actions;
    if (this.panicked(state)) return [];
    const out: PkvmAction[] = [];
    for (const g of this.groupsOf()) for (const a of this.enabledOf(g, state).actions) out.push(a);
    return out;
  }

  /**
   * Every enabled action's step as the bytes it writes, in the order of `actions` (into `out`);
   * returns how many. The states that reach one leaf of an enabledness tree agree on the bytes it
   * tested, so each of its actions' step trees is walked over those bytes once, the first time,
   * and later states start from where that walk stopped (sometimes a leaf: no test at all).
   */
  stepDeltas(state: Uint8Array, out: PathNode<PkvmOutcome>[]): number {
    if (this.scheduler) {
      const list = this.actionList(state);
      this.walk(list, state, out, 0);
      return list.actions.length;
    }
    let k = 0;
    if (!this.panicked(state)) {
      const groups = this.groupsOf();
      for (let gi = 0; gi < groups.length; gi++) {
        const list = this.enabledOf(groups[gi], state);
        this.walk(list, state, out, k);
        k += list.actions.length;
      }
    }
    return k;
  }

  /** The steps of a list's actions in a state, into out[k...]. */
  private walk(list: ActionList, state: Uint8Array, out: PathNode<PkvmOutcome>[], k: number): void {
    const { actions, trees } = list;
    const starts = list.starts;
    for (let i = 0; i < actions.length; i++) {
      const t = trees[i];
      const x = t.descend(state, starts !== null ? starts[i] : t.root);
      out[k + i] = x < 0 ? t.leafNodes[-x - 1] : this.compile(t, state, actions[i]);
    }
    if (starts === null && list.known !== null && actions.length) {
      // every action's path for this state is in its tree now
      const known = new Uint8Array(state.length);
      const read = list.known;
      for (let j = 0; j < read.length; j++) known[read[j]] = 1;
      list.known = null;
      const s = new Int32Array(actions.length);
      for (let i = 0; i < actions.length; i++) s[i] = trees[i].descendKnown(state, known);
      list.starts = s;
    }
  }

  private regions: Regions | null = null;
  private enabledTracer: TracingMemory | null = null;

  /**
   * Partial-order reduction on compiled steps: the footprint of a step is its path's (the bytes
   * it read and wrote, kept in the leaf when the path was compiled) with the regions its
   * enabledness test reads (traced at every call: a few fields).
   */
  override stepWithFootprint(state: Uint8Array, action: PkvmAction): { readonly state: Uint8Array; readonly outcome: PkvmOutcome; readonly footprint: Uint32Array } {
    const { delta, footprint } = this.stepDeltaWithFootprint(state, action);
    return { ...this.apply(state, delta), footprint };
  }

  /** The same, as the bytes written (the checker fingerprints the successor from them). */
  stepDeltaWithFootprint(state: Uint8Array, action: PkvmAction): { readonly delta: StepLeaf; readonly footprint: Uint32Array } {
    const leaf = this.stepDelta(state, action);
    let tracer = this.enabledTracer;
    if (tracer) tracer.trace(state);
    else tracer = this.enabledTracer = new TracingMemory(state, this.layout);
    this.isEnabled(tracer, action);
    const fp = tracer.fp;
    const path = leaf.footprint!;
    for (let i = 0; i < fp.length; i++) fp[i] |= path[i];
    return { delta: leaf, footprint: fp };
  }

  override step(state: Uint8Array, action: PkvmAction): { readonly state: Uint8Array; readonly outcome: PkvmOutcome } {
    return this.apply(state, this.stepDelta(state, action));
  }

  /** The successor and outcome of a compiled step. */
  private apply(state: Uint8Array, leaf: StepLeaf): { readonly state: Uint8Array; readonly outcome: PkvmOutcome } {
    const offsets = leaf.offsets;
    const n = offsets.length;
    if (n === 0) return { state, outcome: leaf.outcome! };
    const next = state.slice();
    const values = leaf.values;
    for (let i = 0; i < n; i++) next[offsets[i]] = values[i];
    return { state: next, outcome: leaf.outcome! };
  }

  /** The step as the bytes it writes (the leaf itself: no allocation). */
  stepDelta(state: Uint8Array, action: PkvmAction): PathNode<PkvmOutcome> {
    const tree = this.treeOf(action);
    return tree.find(state) ?? this.compile(tree, state, action);
  }

  /** Runs the step once on a recording of the state and adds its path to the tree. */
  private compile(tree: DecisionTree<PkvmOutcome>, state: Uint8Array, action: PkvmAction): StepLeaf {
    const rec = this.recorder;
    const mem = this.recMem;
    mem.begin(state);
    const { hyp, ret, info, call } = this.run(mem, action);
    let offsets: number[] = rec.written;
    let final = rec.cur;
    if (hyp.fatal) {
      // the result is the state when the failure struck, with the panic recorded
      final = hyp.fatalSnapshot as Uint8Array;
      writePanic(final, this.layout, hyp.fatal);
      offsets = rec.written.slice(0, mem.writtenAtSnapshot);
      for (let i = 0; i < 4; i++) if (!offsets.includes(this.layout.panicOffset + i)) offsets.push(this.layout.panicOffset + i);
    }
    offsets = [...offsets].sort((a, b) => a - b);
    try {
      const leaf = tree.add(rec, offsets, offsets.map((o) => final[o]), this.outcome(hyp, ret, info, call));
      // the regions every state on this path reads and writes (partial-order reduction)
      leaf.footprint = (this.regions ??= new Regions(this.layout)).footprintOf(rec.readOffsets, offsets);
      return leaf;
    } catch (e) {
      // the kernel code read something besides the state: a piece keeps state between steps
      throw new VariantError(
        this.variant.name,
        null,
        `${this.describeAction(action)}: ${e instanceof Error ? e.message : String(e)}; does a piece keep state of its own between steps? (--engine packed runs the code at every step)`,
      );
    }
  }

  /** Sizes of the compiled trees (paths are leaves). */
  compiledStats(): { trees: number; nodes: number; leaves: number } {
    let nodes = 0;
    let leaves = 0;
    for (const g of this.groups ?? [])
      if (g.tree) {
        nodes += g.tree.nodes;
        leaves += g.tree.leaves;
      }
    for (const t of this.stepTrees.values()) {
      nodes += t.nodes;
      leaves += t.leaves;
    }
    return { trees: this.stepTrees.size + (this.groups?.filter((g) => g.tree).length ?? 0), nodes, leaves };
  }
}

export function describeAction(action: PkvmAction, spec: OperationSpec | undefined = OPERATIONS_BY_NAME.get(action.op)): string {
  if (action.op === 'step') return `cpu ${action.cpu}: next step`;
  const toPhys = { hyp_pfn_to_phys: (p: number) => 0x8000_0000 + p * 4096 };
  if (action.cpu !== undefined) return `cpu ${action.cpu}: ${describeAction({ op: action.op, args: action.args }, spec)}`;
  const args = Object.entries(action.args)
    .map(([k, v]) => `${k}=${formatArg(spec?.argFormats[k] ?? 'num', v, toPhys)}`)
    .join(', ');
  return `${action.op}(${args})`;
}

/** A stable key for an action (used to find it again when a trace is replayed on another variant). */
export function actionKey(action: PkvmAction): string {
  return `${action.cpu !== undefined ? `cpu${action.cpu}:` : ''}${action.op}(${Object.keys(action.args)
    .sort()
    .map((k) => `${k}=${String(action.args[k])}`)
    .join(',')})`;
}

export function describeOutcome(o: PkvmOutcome): string {
  const parts = [`returns ${retName(o.ret)}`];
  for (const f of o.failures) parts.push(`${f.kind} in ${f.where}: ${f.detail}`);
  return parts.join('; ');
}
