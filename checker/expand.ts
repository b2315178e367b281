/**
 * The expansion step every search runs: a state, its enabled actions, each action's successor
 * (fingerprinted, and built only when somebody wants it), and what the step properties find on
 * each transition. Breadth-first search (exact, bitstate, symmetry, partial-order reduction), the
 * parallel workers, random walks, diff (a product model) and replay all expand states through an
 * Expander; a search only decides, through its Sink, what to keep and where to go next.
 *
 * Two ways to step, one semantics:
 * - by bytes written (models with stepDelta whose states are their encodings, without symmetry):
 *   the successor's fingerprint follows from the parent's and the bytes written, and the successor
 *   is built only when a step property reads it or the sink asks for it;
 * - by `step` (any model; `stepWithFootprint` for partial-order reduction): the successor's key is
 *   its encoding, canonical under symmetry.
 * Partial-order reduction steps by bytes written when the model gives their footprints
 * (`stepDeltaWithFootprint`).
 * Either way the step properties run where their gate says they can fail (StepGate), on the same
 * (before, action, outcome, after), and the sink sees the same transitions in the same order.
 */
import { editedFingerprint, fingerprint } from './fingerprint.ts';
import { applyDelta } from './delta.ts';
import type { PropertySet } from './properties.ts';
import type { Finding, Footprint, Model, Step, StepDelta } from './types.ts';

/** What a search does with the transitions of a state. */
export interface Sink {
  /** The k-th step property fails on transition `ai`; true stops the expansion after this transition. */
  stepFinding(ai: number, k: number, finding: Finding): boolean;
  /**
   * Transition `ai` leads to another state, of fingerprint (hi, lo) (the lanes as signed 32-bit
   * integers); the expander's successorKey/successorState give it. True stops the expansion after
   * this transition.
   */
  successor(ai: number, hi: number, lo: number): boolean;
  /** Optional: transition `ai` leads back to the state itself (a self-loop; the expander's outcome gives its outcome). */
  unchanged?(ai: number): void;
  /** Partial-order reduction only: whether to take the action (it is not asleep). */
  take?(ai: number): boolean;
  /** Partial-order reduction only: transition `ai` was taken (its footprint in the expander). */
  explored?(ai: number): void;
}

export interface ExpanderOptions {
  /** Key states by the model's canonical form. */
  readonly symmetry?: boolean;
  /** Step with footprints (partial-order reduction). */
  readonly footprints?: boolean;
}

export class Expander<S, A, O> {
  /** Whether steps are taken as bytes written. */
  readonly byDelta: boolean;
  private readonly batch: boolean;
  private readonly canon: ((b: Uint8Array) => Uint8Array) | null;
  private readonly decode: ((b: Uint8Array) => S) | null;
  private readonly footprints: boolean;
  private readonly deltas: StepDelta<O>[] = [];
  private readonly fpU = new Uint32Array(2);
  private readonly fpI = new Int32Array(this.fpU.buffer);
  private readonly edited = new Int32Array(2);

  // the state being expanded and the transition being visited
  private state: S | null = null;
  private acts: readonly A[] | null = null;
  private delta: StepDelta<O> | null = null;
  private succ: S | null = null;
  private succKey: Uint8Array | null = null;
  private succRep: S | null = null;
  private lastOutcome: O | null = null;
  /** The footprint of the last step (partial-order reduction). */
  footprint: Footprint | null = null;
  /** The fingerprint of the state being expanded (byDelta). */
  private p0 = 0;
  private p1 = 0;

  constructor(
    private readonly model: Model<S, A, O>,
    readonly props: PropertySet<S, A, O>,
    options: ExpanderOptions = {},
  ) {
    if (options.symmetry && !model.canonicalize) throw new Error('symmetry reduction needs a model with a canonical form (canonicalize)');
    if (options.footprints && (!model.stepWithFootprint || !model.actionId)) throw new Error('partial-order reduction needs a model that reports footprints (stepWithFootprint, actionId)');
    this.canon = options.symmetry ? model.canonicalize!.bind(model) : null;
    this.decode = typeof model.decode === 'function' ? model.decode.bind(model) : null;
    if (this.canon && !this.decode) throw new Error('symmetry reduction needs a model that can decode its encodings');
    this.footprints = !!options.footprints;
    this.byDelta = !this.canon && typeof model.stepDelta === 'function' && this.decode !== null && (!this.footprints || typeof model.stepDeltaWithFootprint === 'function');
    // (partial-order reduction takes some actions only: one step at a time)
    this.batch = this.byDelta && !this.footprints && typeof model.stepDeltas === 'function';
  }

  /** The key a state is stored under: its encoding, canonical under symmetry. */
  keyOf(s: S): Uint8Array {
    const b = this.model.encode(s);
    return this.canon ? this.canon(b) : b;
  }

  /** The state a key stands for (a representative under symmetry). */
  stateOf(key: Uint8Array, original?: S): S {
    if (!this.canon && original !== undefined) return original;
    return this.decode ? this.decode(key) : (original as S);
  }

  /** The enabled actions of the state being expanded (computed once, when first wanted). */
  actions(): readonly A[] {
    return (this.acts ??= this.model.actions(this.state as S));
  }

  action(ai: number): A {
    return this.actions()[ai];
  }

  /** The outcome of the last transition visited. */
  outcome(): O {
    return this.lastOutcome as O;
  }

  /** The key (canonical encoding) of the transition's successor; a new array unless `into` is given (byDelta). */
  successorKey(into?: Uint8Array): Uint8Array {
    if (this.succKey) return this.succKey;
    if (this.delta) {
      const b = applyDelta(this.state as unknown as Uint8Array, this.delta, into);
      if (!into) this.succKey = b;
      return b;
    }
    return (this.succKey = this.keyOf(this.succ as S));
  }

  /** The transition's successor as the search keeps it (its representative under symmetry). */
  successorState(): S {
    if (this.succRep) return this.succRep;
    if (this.delta) return (this.succRep = this.successorKey() as unknown as S);
    return (this.succRep = this.canon ? this.decode!(this.successorKey()) : (this.succ as S));
  }

  private begin(state: S): void {
    this.state = state;
    this.acts = null;
    if (this.byDelta) {
      fingerprint(state as unknown as Uint8Array, this.fpU);
      this.p0 = this.fpI[0];
      this.p1 = this.fpI[1];
    }
  }

  /** Expands a state: every enabled action in order, until the sink says stop. Returns the transitions taken. */
  expand(state: S, sink: Sink): number {
    this.begin(state);
    let count: number;
    if (this.batch) count = this.model.stepDeltas!(state, this.deltas);
    else count = this.actions().length;
    let taken = 0;
    for (let ai = 0; ai < count; ai++) {
      if (sink.take && !sink.take(ai)) continue;
      taken++;
      if (this.transition(ai, sink, this.batch ? this.deltas[ai] : null)) break;
    }
    return taken;
  }

  /**
   * One transition of a state (random walks, replay): the same judging as in expand. Returns
   * whether the sink said stop; successorKey/successorState give the successor until the next
   * transition.
   */
  stepOne(state: S, ai: number, sink: Sink): boolean {
    this.begin(state);
    return this.transition(ai, sink, null);
  }

  /**
   * Transition `ai` of the state begun (`batched`: its step as stepDeltas gave it): the step
   * properties the gate selects, then the successor, if any, to the sink.
   */
  private transition(ai: number, sink: Sink, batched: StepDelta<O> | null): boolean {
    const gate = this.props.gate;
    const state = this.state as S;
    this.succ = this.succKey = this.succRep = null;
    let stop = false;
    if (this.byDelta) {
      let d: StepDelta<O>;
      if (batched) d = batched;
      else if (this.footprints) {
        const r = this.model.stepDeltaWithFootprint!(state, this.actions()[ai]);
        d = r.delta;
        this.footprint = r.footprint;
      } else d = this.model.stepDelta!(state, this.actions()[ai]);
      this.delta = d;
      this.lastOutcome = d.outcome;
      const bytes = state as unknown as Uint8Array;
      const changed = editedFingerprint(bytes, d.offsets, d.values, this.p0, this.p1, this.edited);
      let mask = gate.gated.length ? gate.known(d, changed) : 0;
      if (mask < 0) mask = gate.decide(d, changed, this.actions()[ai]);
      if (mask !== 0 || gate.ungated.length) {
        // the properties may keep what they are given: the successor as kept, not a reused buffer
        const after = changed ? (this.successorKey() as unknown as S) : state;
        stop = this.judgeStep(ai, mask, state, this.actions()[ai], d.outcome, after, sink);
      }
      if (changed) {
        if (sink.successor(ai, this.edited[0], this.edited[1])) stop = true;
      } else if (sink.unchanged) sink.unchanged(ai);
      if (sink.explored) sink.explored(ai);
    } else {
      this.delta = null;
      const action = this.actions()[ai];
      const r: Step<S, O> & { readonly footprint?: Footprint } = this.footprints ? this.model.stepWithFootprint!(state, action) : this.model.step(state, action);
      if (r.footprint) this.footprint = r.footprint;
      const succ = r.state;
      const outcome = r.outcome;
      this.succ = succ;
      this.lastOutcome = outcome;
      const changed = succ !== state;
      const mask = gate.maskOf(action, outcome, changed);
      if (mask !== 0 || gate.ungated.length) stop = this.judgeStep(ai, mask, state, action, outcome, succ, sink);
      if (changed) {
        fingerprint(this.successorKey(), this.fpU);
        if (sink.successor(ai, this.fpI[0], this.fpI[1])) stop = true;
      } else if (sink.unchanged) sink.unchanged(ai);
      if (sink.explored) sink.explored(ai);
    }
    return stop;
  }

  /** The step properties a gate mask selects, on one transition; whether the sink said stop. */
  private judgeStep(ai: number, mask: number, before: S, action: A, outcome: O, after: S, sink: Sink): boolean {
    const sel = this.props.gate.selected(mask);
    const step = this.props.step;
    let stop = false;
    for (let i = 0; i < sel.length; i++) {
      const k = sel[i];
      const f = step[k].check(before, action, outcome, after);
      if (f && sink.stepFinding(ai, k, f)) stop = true;
    }
    return stop;
  }
}
