/**
 * What the coordinator of the parallel search (parallel.ts) and its workers (parallel-worker.ts)
 * tell each other. Messages go over MessagePorts and are read synchronously
 * (receiveMessageOnPort); a shared Int32Array of signals, one per worker and one for the
 * coordinator, is bumped and notified after every post, so that a thread with nothing to read
 * sleeps in Atomics.wait instead of spinning.
 *
 * Keys: a state found in a level is known by the first transition that reaches it, (rank of the
 * parent in the level being expanded, index of the action); an initial state by (0, its index).
 * Ranks are the order in which sequential BFS finds the states of a level, so comparing keys
 * compares positions in the sequential search.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Finding } from './types.ts';

/** Which module builds the model in each worker: `export` of `module` (a URL), called with `args` (JSON data). */
export interface ModelFactory {
  readonly module: string;
  readonly export: string;
  readonly args?: unknown;
}

/** What a factory returns (or resolves to): the model and the properties to check, in order. */
export interface FactoryResult {
  readonly model: unknown;
  readonly properties: readonly unknown[];
}

export interface WorkerData {
  readonly index: number;
  readonly workers: number;
  readonly factory: ModelFactory;
  /** To and from the coordinator. */
  readonly control: MessagePort;
  /** The visited set's header (SharedVisited.head): the same for the whole search. */
  readonly head: Int32Array;
  /** The visited set, until a round's order brings a larger one. */
  readonly table: SharedTable;
  /** signals[i] for worker i, signals[workers] for the coordinator. */
  readonly signals: Int32Array;
  /**
   * Stop-at-first runs, in the current round: [STEP] the smallest parent rank of a step violation
   * of the expansion, [STATE] the smallest rank of a frontier state that violates a state property
   * (or STOP_NONE).
   */
  readonly stop: Int32Array;
  /** Per worker: PROGRESS_FIELDS numbers (from index * PROGRESS_STRIDE) the coordinator reads for its progress lines. */
  readonly progress: Float64Array;
  readonly symmetry: boolean;
  readonly stopAtFirst: boolean;
  /** Epoch milliseconds, or null. */
  readonly deadline: number | null;
  /** Non-zero element 0: stop as at the deadline (CheckOptions.interrupt). */
  readonly interrupt: Int32Array | null;
}

/** The visited set's slots (SharedVisited.slots) and every worker's smallest keys of the level's new states, all in shared memory. */
export interface SharedTable {
  readonly slots: Int32Array;
  /** firstKeys[w]: pairs (parent rank + 1, action + 1) by the state's number minus the level's first; (0, 0) where the worker met no such state. */
  readonly firstKeys: readonly Uint32Array[];
}

/** A worker's new states of a level, in shared memory: their bytes, [start, length] per state, and their order by key. */
export interface SharedFront {
  readonly bytes: Uint8Array;
  readonly spans: Uint32Array;
  readonly order: Uint32Array;
}

/** The frontier of a round: every worker's new states of the last level, and per rank (those kept) the worker, the position in its order, and the key. */
export interface LevelFront {
  readonly fronts: readonly SharedFront[];
  readonly who: Uint8Array;
  readonly idx: Uint32Array;
  readonly keyP: Uint32Array;
  readonly keyA: Uint32Array;
}

export const STOP_NONE = 0x7fffffff;
export const STOP_STEP = 0;
export const STOP_STATE = 1;
/** Per worker: transitions so far, states found in the current level, states expanded in the current level. */
export const PROGRESS_FIELDS = 3;
/**
 * Numbers between the progress fields of one worker and the next: 128 bytes, so that no two
 * workers write the same cache line (or pair of lines) for every state they expand.
 */
export const PROGRESS_STRIDE = 16;

/** A finding with the transition it belongs to: a step's (parent, action), or the key of a frontier state (index: its rank). */
export interface Candidate {
  readonly prop: number;
  readonly finding: Finding;
  readonly p: number;
  readonly a: number;
  readonly index?: number;
}

export interface ReachCandidate {
  readonly prop: number;
  readonly p: number;
  readonly a: number;
  readonly index: number;
}

export type ToWorker =
  /** Find the initial states this worker owns. */
  | { readonly type: 'init' }
  /**
   * The frontier: `size` states, by rank, claimed in chunks by every worker. Check the state and
   * reachable properties on them, and expand them if `expand`. `seen` and `reached`: violations
   * (property NUL key) and reachable properties the search has recorded since the last message.
   */
  | {
      readonly type: 'round';
      readonly front: LevelFront;
      readonly size: number;
      readonly expand: boolean;
      readonly seen: readonly string[];
      readonly reached: readonly string[];
      /** A larger visited set, from this round on. */
      readonly table?: SharedTable;
      /**
       * With `table`: it is empty, and the workers first move into it the states numbered below
       * `below` of the old table's slots `from`, each a range of them (SharedVisited.reinsert).
       */
      readonly rebuild?: { readonly from: Int32Array; readonly below: number };
      /** The last round went past the visited set's limit: run it again (same frontier, this larger table). */
      readonly again?: boolean;
    }
  | { readonly type: 'stop' };

export type FromWorker =
  | { readonly type: 'ready'; readonly properties: readonly { readonly name: string; readonly kind: 'state' | 'step' | 'reachable' }[] }
  | {
      readonly type: 'done';
      /** The new states of the level this worker inserted, sorted by key, and the states themselves. */
      readonly keyP: Uint32Array;
      readonly keyA: Uint32Array;
      readonly front: SharedFront;
      /** Number of actions of each frontier state this worker expanded, by rank (0 for the others; empty if the round does not expand). */
      readonly actions: Uint32Array;
      readonly expanded: number;
      readonly transitions: number;
      /** Step findings of the expansion. */
      readonly steps: readonly Candidate[];
      /** State findings and reachable properties of the frontier. */
      readonly states: readonly Candidate[];
      readonly reach: readonly ReachCandidate[];
      readonly timedOut: boolean;
    };
