/**
 * The checker's whole view of a system: a deterministic transition system over states `S`,
 * actions `A` and step outcomes `O`, plus properties that read states and steps.
 *
 * Determinism contract (replay depends on it): for the same state, `actions` returns the same
 * actions in the same order, and `step` returns an equal state and outcome.
 */
export interface Model<S, A, O = unknown> {
  initialStates(): readonly S[];
  /** Enabled actions, in a deterministic order. */
  actions(state: S): readonly A[];
  step(state: S, action: A): Step<S, O>;
  /** Canonical encoding: two states are equal exactly when their encodings are. */
  encode(state: S): Uint8Array;
  /** Inverse of `encode`; when present the checker keeps only encodings in its frontier. */
  decode?(bytes: Uint8Array): S;
  /**
   * Symmetry: the representative of an encoding's class (e.g. with interchangeable components
   * sorted). Must map symmetric states to the same bytes and be idempotent; the properties must
   * not tell symmetric states apart.
   */
  canonicalize?(bytes: Uint8Array): Uint8Array;
  describeAction?(action: A): string;
  /**
   * Partial-order reduction (optional, with `actionId`): `step`, plus the footprint of the action
   * in that state, its enabledness included. Contract: two actions enabled in a state whose
   * footprints do not conflict (see Footprint) commute: each stays enabled after the other, with
   * the same footprint and outcome, and both orders reach the same state. Step properties must be
   * decided by the step's outcome and what it wrote.
   */
  stepWithFootprint?(state: S, action: A): Step<S, O> & { readonly footprint: Footprint };
  /** A small integer naming an action, the same in every state (sleep sets hold these). */
  actionId?(action: A): number;
  /**
   * A step as the bytes it writes (optional), for models whose states are their own encodings
   * (`encode` returns the state, a Uint8Array): the successor is the state with `values[i]` at
   * `offsets[i]` (offsets distinct), or the state itself when nothing is written. Must agree
   * with `step`. The checker then fingerprints a successor from the bytes written and builds it
   * only when it is new or a step property reads it.
   */
  stepDelta?(state: S, action: A): StepDelta<O>;
  /**
   * Optional, with stepDelta: the steps of the enabled actions, as `stepDelta` gives them, into
   * `out` in the order of `actions(state)`, in one call; returns how many.
   */
  stepDeltas?(state: S, out: StepDelta<O>[]): number;
  /**
   * Optional, with stepDelta and actionId: `stepDelta` with the step's footprint (as
   * `stepWithFootprint` gives it), so that partial-order reduction steps by bytes written too.
   */
  stepDeltaWithFootprint?(state: S, action: A): { readonly delta: StepDelta<O>; readonly footprint: Footprint };
}

/**
 * What `stepDelta` returns. The model may return the same object for many steps of one action
 * (never of two actions), with the same writes and outcome; the checker keeps in `memo` what it
 * derived from it.
 */
export interface StepDelta<O> {
  readonly offsets: ArrayLike<number>;
  readonly values: ArrayLike<number>;
  readonly outcome: O;
  /** The checker's: the model sets it undefined and never reads it. */
  memo: unknown;
}

/**
 * What a step read and wrote, as two bit sets over regions of the state that the model defines:
 * words [0, n/2) are the regions read, words [n/2, n) the regions written. Two footprints
 * conflict when one writes a region the other reads or writes.
 */
export type Footprint = Uint32Array;

export interface Step<S, O> {
  readonly state: S;
  readonly outcome: O;
}

/** Why a property fails; `key` separates distinct failures of one property (e.g. by call site). */
export interface Finding {
  readonly message: string;
  readonly key?: string;
}

/** A property of every reachable state ("always"). */
export interface StateProperty<S> {
  readonly kind: 'state';
  readonly name: string;
  readonly description: string;
  check(state: S): Finding | null;
}

/** A property of every transition: before state, action, outcome, after state. */
export interface StepProperty<S, A, O> {
  readonly kind: 'step';
  readonly name: string;
  readonly description: string;
  check(before: S, action: A, outcome: O, after: S): Finding | null;
  /**
   * Optional: whether `check` can fail on a step with this action and outcome (false means it
   * returns null whatever the states). Decided by the action and outcome alone, so a checker may
   * skip `check`, and building the states it reads, where it is false, and reuse the answer for
   * a step outcome it meets again.
   */
  relevant?(action: A, outcome: O): boolean;
  /** Optional: `check` returns null on a step whose after-state equals its before-state. */
  readonly holdsWhenUnchanged?: boolean;
}

/** Something that should be reachable ("sometimes"): the checker reports a shortest example. */
export interface ReachableProperty<S> {
  readonly kind: 'reachable';
  readonly name: string;
  readonly description: string;
  holds(state: S): boolean;
}

/**
 * Recoverability ("always, eventually possible"): for every reachable state s and every obligation
 * k pending in s, some path from s reaches a state where k is discharged, i.e. AG(pending k -> EF
 * discharged k) on the state graph. The obligations are named by `keys` (at most 32) and given as
 * bit masks over them. The search keeps the explored graph and decides the property after it (see
 * recover.ts): a state is stuck only when everything it can reach was explored and discharges
 * nothing; where a bound cut its future, it is undecided.
 */
export interface RecoverableProperty<S> {
  readonly kind: 'recoverable';
  readonly name: string;
  readonly description: string;
  /** The obligations, by bit: key i is bit i (at most 32). */
  readonly keys: readonly string[];
  /** The obligations pending in a state (a mask over keys). */
  pending(state: S): number;
  /** The obligations discharged in a state (a mask over keys). */
  discharged(state: S): number;
}

export type Property<S, A, O> = StateProperty<S> | StepProperty<S, A, O> | ReachableProperty<S> | RecoverableProperty<S>;

/** A path from an initial state: the initial state's index, then one action index per step. */
export interface Path {
  readonly init: number;
  readonly actions: readonly number[];
}

export interface Violation {
  readonly property: string;
  readonly kind: 'state' | 'step' | 'recoverable';
  readonly finding: Finding;
  /** For a recoverable property: the path to the stuck state. */
  readonly path: Path;
  /** Recoverable properties only: why nothing discharges the obligation from the stuck state. */
  readonly stuck?: StuckWitness;
}

/**
 * Why a state is stuck for an obligation: every state it can reach (its closure, itself
 * included) was explored and none discharges the obligation. `moves` says, for each enabled
 * action of the stuck state, where it leads: null when the step leaves the state unchanged, else
 * the size of the successor's closure (part of the stuck state's, so stuck too).
 */
export interface StuckWitness {
  readonly key: string;
  readonly closure: number;
  readonly moves: readonly { readonly action: number; readonly closure: number | null }[];
}

/** What the search decided of a recoverable property, over the states where an obligation is pending. */
export interface RecoverabilityVerdict {
  readonly property: string;
  /** States with at least one pending obligation. */
  readonly pending: number;
  /** Of those, states from which every pending obligation can be discharged along explored steps. */
  readonly recoverable: number;
  /** States where some pending obligation can never be discharged (everything they reach was explored). */
  readonly stuck: number;
  /** The rest: an obligation is neither discharged on an explored path nor provably stuck (a bound cut the state's future). */
  readonly undecided: number;
  /** Per key, the same counts (keys never pending are left out). */
  readonly byKey: readonly { readonly key: string; readonly pending: number; readonly recoverable: number; readonly stuck: number; readonly undecided: number }[];
}

export interface Example {
  readonly property: string;
  readonly path: Path;
}

/** What cut a search short: a bound, or an interruption (Ctrl-C). */
export type Bound = 'depth' | 'states' | 'time' | 'interrupt';

export interface Stats {
  /** Distinct states found (initial states included). */
  distinctStates: number;
  /** Transitions generated (every action of every expanded state). */
  transitions: number;
  /** Deepest BFS level reached (initial states are level 0). */
  depth: number;
  /** States found per BFS level. */
  levels: number[];
  seconds: number;
  statesPerSecond: number;
  peakMemoryBytes: number;
  /** States left unexpanded when a bound stopped the search. */
  queued: number;
  /** Upper estimate of the probability that two distinct states shared a 64-bit fingerprint. */
  collisionProbability: number;
  /** Bytes of the visited set, and of the parent links. */
  visitedBytes: number;
  parentBytes: number;
  /** Partial-order reduction (sleep sets) only. */
  por?: {
    /** Transitions not taken because the action was asleep. */
    skipped: number;
    /** States expanded again because they were found with a smaller sleep set. */
    reexpanded: number;
    /** Distinct sleep sets, and the bytes of the per-state sleep-set index. */
    sleepSets: number;
    bytes: number;
  };
  /** Frontier chunks written to disk (with frontierSpill) and their bytes. */
  spilled?: { chunks: number; bytes: number };
  /** Parallel runs only: how often the shared visited set grew between rounds, and rounds run again because a level filled it. */
  parallel?: { tableGrowths: number; roundsRunAgain: number };
  /** Bitstate (supertrace) runs only. */
  bitstate?: { bits: number; hashFactor: number; expectedCoverage: number };
  /**
   * Recoverable properties only: the explored graph kept for them (states fully expanded, edges
   * between distinct states, bytes of the edges and per-state masks) and the seconds of the
   * analysis after the search.
   */
  graph?: { expanded: number; edges: number; bytes: number; analysisSeconds: number };
}

interface ResultBase {
  readonly stats: Stats;
  /** Every reachable state was explored (no bound cut the search). */
  readonly exhausted: boolean;
  readonly cutBy: Bound | null;
  readonly examples: readonly Example[];
  /** Reachable-properties never satisfied within the explored space. */
  readonly unreached: readonly string[];
  /** Recoverable properties: what the search decided (absent when none was checked). */
  readonly recoverability?: readonly RecoverabilityVerdict[];
}

export type CheckResult =
  | (ResultBase & { readonly status: 'ok' })
  | (ResultBase & { readonly status: 'violation'; readonly violations: readonly Violation[] });

export interface Progress {
  readonly depth: number;
  readonly distinctStates: number;
  readonly transitions: number;
  readonly queued: number;
  readonly seconds: number;
  readonly statesPerSecond: number;
  /** Violations found so far, distinct by property and key (a parallel search counts those of finished rounds). */
  readonly violations: number;
  /**
   * Random walks only: walks run so far and asked for (after the first failing walk the runs
   * stop and fast-check shrinks it: `done` stays). Walks keep no visited set and no queue, so
   * `distinctStates`, `queued` and `statesPerSecond` are 0; `transitions` counts the steps taken
   * and `depth` is the longest walk so far.
   */
  readonly walks?: { readonly done: number; readonly requested: number };
}

export interface CheckOptions {
  /** Do not expand states at this depth (the search still visits them). */
  readonly maxDepth?: number;
  /** Stop once this many distinct states have been found. */
  readonly maxStates?: number;
  /** Stop after this many seconds. */
  readonly timeLimitSeconds?: number;
  /** Stop at the first violation (default) or go on and report the first of each property (and key). */
  readonly stopAtFirstViolation?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
  /** Store states by their canonical form (the model must provide canonicalize). */
  readonly symmetry?: boolean;
  /** Bitstate (supertrace) visited set of this many bytes instead of the exact fingerprint set. */
  readonly bitstateBytes?: number;
  /**
   * Partial-order reduction by sleep sets (the model must provide stepWithFootprint and actionId):
   * fewer transitions, the same states, the same shortest traces.
   */
  readonly por?: boolean;
  /**
   * Keep at most this many bytes of each frontier level's encodings in memory; write the rest to
   * a temporary file (models that decode only).
   */
  readonly frontierSpill?: { readonly limitBytes: number; readonly dir?: string };
  /** Save the search every so often (at level boundaries) into a folder. */
  readonly checkpoint?: { readonly dir: string; readonly everySeconds: number; readonly identity: string };
  /** Continue a search from a checkpoint folder (its identity must match). */
  readonly resume?: { readonly dir: string; readonly identity: string };
  /**
   * Stop soon after element 0 becomes non-zero (another thread sets it, e.g. on Ctrl-C): the
   * search ends as if a bound cut it ('interrupt'), with a final checkpoint if it keeps them.
   */
  readonly interrupt?: Int32Array;
}
