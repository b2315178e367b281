/**
 * A worker of the parallel search (parallel.ts): it builds the model from the factory and runs
 * rounds on the coordinator's orders. The visited set is one table in shared memory for all
 * workers (SharedVisited); a worker keeps the bytes of the states it inserts into it, and
 * publishes them in shared memory at the end of the round. In a round it
 *
 * 1. claims the frontier's states (every worker's new states of the last level) in chunks of
 *    ranks from a shared counter, so its claims rise; decodes each once, checks the state and
 *    reachable properties on it, and expands it: checks the step properties, and visits every
 *    successor that is not a self-loop in the shared table, inserting it if absent;
 * 2. notes, for every state new in this level that it meets, the smallest key (parent rank,
 *    action) by which it meets it, in its own array of keys in shared memory (its claims rise, so
 *    the first is the smallest; the comparison keeps it right whatever the order);
 * 3. after a barrier with the other workers, takes for each state it inserted the smallest of
 *    every worker's keys (the transition by which sequential BFS finds it), sorts its new states
 *    by key, publishes them, and sends the keys and the findings to the coordinator, which ranks
 *    the states of the whole level.
 *
 * (A state is thus checked one round after it is found, when it is decoded anyway, or earlier
 * by a worker that would otherwise wait: see "Judging ahead".)
 *
 * When a level fills the table past its limit, the workers stop expanding, and the coordinator
 * runs the round again on a larger table (the round's states dropped from it).
 *
 * The thread is synchronous: it reads its port with receiveMessageOnPort and sleeps in
 * Atomics.wait when it has nothing to read.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { fingerprint } from './fingerprint.ts';
import { Expander, type Sink } from './expand.ts';
import { PropertySet, violationKey } from './properties.ts';
import { Arena, HEAD_BARRIER, HEAD_BASE, HEAD_CLAIM, HEAD_OVERFLOW, OVERFLOW_KEYS, OVERFLOW_TABLE, SharedVisited, sharedCopy, sortByKey, U32Vec } from './parallel-shared.ts';
import {
  PROGRESS_STRIDE,
  STOP_NONE,
  STOP_STATE,
  STOP_STEP,
  type Candidate,
  type FactoryResult,
  type FromWorker,
  type LevelFront,
  type ReachCandidate,
  type ToWorker,
  type WorkerData,
} from './parallel-protocol.ts';
import type { Finding, Model, Property, ReachableProperty } from './types.ts';

type S = unknown;
type A = unknown;
type O = unknown;

const data = workerData as WorkerData;
const me = data.index;
const N = data.workers;
const signals = data.signals;
const stop = data.stop;
const progress = data.progress;
const stopAtFirst = data.stopAtFirst;
const deadline = data.deadline ?? Infinity;
const interrupt = data.interrupt;

/** State numbers claimed at a time (a shared counter touched once per block, not per state). */
const NUMBER_BLOCK = 64;

const factoryModule = (await import(data.factory.module)) as Record<string, unknown>;
const make = factoryModule[data.factory.export];
if (typeof make !== 'function') throw new Error(`the model factory ${data.factory.module} has no function export '${data.factory.export}'`);
const built = (await (make as (args: unknown) => FactoryResult | Promise<FactoryResult>)(data.factory.args)) as FactoryResult;
const model = built.model as Model<S, A, O>;
const properties = built.properties as readonly Property<S, A, O>[];
if (typeof model.decode !== 'function') throw new Error('the parallel search needs a model that can decode its encodings (decode)');
const decode = model.decode.bind(model);
const props = new PropertySet(properties, { name: 'the parallel search' });
/** The expansion step, as every search runs it (expand.ts). */
const expander = new Expander(model, props, { symmetry: data.symmetry });
/** The reachable properties still wanted: their indices in props.reach, with their indices in `properties`. */
let pendingReach = props.reach.map((p, k) => ({ p, index: props.reachIndex[k] }));
/** Violations (property NUL key) the search has recorded: not worth reporting again. */
const seen = new Set<string>();

const control = data.control;

/** The visited set, and every worker's smallest keys of the level's new states (see visitState); replaced when the coordinator grows them. */
let table = new SharedVisited(data.table.slots, data.head, NUMBER_BLOCK);
let firstKeys: readonly Uint32Array[] = data.table.firstKeys;
let mine = firstKeys[me];
/** The number of the first state of the level being found, and the table's limit for the level. */
let base = 0;
let limit = 0;
const head = data.head;
/** Rounds run, the barrier's count (init included). */
let rounds = 0;
/** First keys written in the last round (from index 0 of this worker's array). */
let dirty = 0;
/** Fingerprints are computed into fpU and read as signed integers from fpI (no heap numbers). */
const fpU = new Uint32Array(2);
const fpI = new Int32Array(fpU.buffer);
const NONE = 0xffffffff;
/** Frontier states claimed at a time. */
const CHUNK = 16;

// the states this worker inserted in this round: their numbers, keys [parent rank, action] (at the round's end), encodings [start, length]
let newNums = new U32Vec();
let newSpans = new U32Vec();
let newBytes = new Arena();
let newCount = 0;

// the frontier: the states of the level being expanded, every worker's, by rank (claimed in chunks)
let front: LevelFront = { fronts: [], who: new Uint8Array(0), idx: new Uint32Array(0), keyP: new Uint32Array(0), keyA: new Uint32Array(0) };

let roundTransitions = 0;
const progressAt = me * PROGRESS_STRIDE;

/**
 * A successor (or initial state) met by key (p, a), its bytes `src[off, off + len)`: inserted into
 * the table if absent (and its bytes kept); new in this level, this worker's smallest key for it
 * kept. Returns false when the level has filled the table past its limit (the round is to be run
 * again).
 */
function visitState(hi: number, lo: number, p: number, a: number, src: Uint8Array, off: number, len: number): boolean {
  const v = table.visit(hi, lo);
  if (v >= 0) {
    met(v, p, a);
    return true;
  }
  return keep(-v - 1, p, a, src, off, len);
}

/** A state already in the table, number n, met by key (p, a): this worker's smallest key for it, if new in this level. */
function met(n: number, p: number, a: number): void {
  const j = n - base;
  // (past the room for keys: its inserter stops the round)
  if (j < 0 || 2 * j >= mine.length) return;
  // keys are stored plus one, so that 0 (fresh shared memory) is no key
  const p1 = p + 1;
  const q = mine[2 * j];
  if (q === 0 || p1 < q || (p1 === q && a + 1 < mine[2 * j + 1])) {
    mine[2 * j] = p1;
    mine[2 * j + 1] = a + 1;
  }
}

/** A state this worker inserted, number n, found by key (p, a), its bytes src[off, off + len); false if the level went past the table's limit. */
function keep(n: number, p: number, a: number, src: Uint8Array, off: number, len: number): boolean {
  const j = n - base;
  if (n >= limit || 2 * j >= mine.length) {
    Atomics.or(head, HEAD_OVERFLOW, n >= limit ? OVERFLOW_TABLE : OVERFLOW_KEYS);
    return false;
  }
  mine[2 * j] = p + 1;
  mine[2 * j + 1] = a + 1;
  newNums.push(n);
  newSpans.push2(newBytes.append(src, off, len), len);
  newCount++;
  return true;
}

/** The coordinator's next order; while none has come, judges this round's new states ahead. */
function receiveControl(): ToWorker {
  for (;;) {
    const v = Atomics.load(signals, me);
    const m = receiveMessageOnPort(control);
    if (m) return m.message as ToWorker;
    if (!judgeAhead(32)) Atomics.wait(signals, me, v);
  }
}

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  control.postMessage(msg, transfer);
  Atomics.add(signals, N, 1);
  Atomics.notify(signals, N);
}

function lower(slot: number, rank: number): void {
  for (;;) {
    const cur = Atomics.load(stop, slot);
    if (rank >= cur || Atomics.compareExchange(stop, slot, cur, rank) === cur) return;
  }
}

function startRound(): void {
  newNums = new U32Vec();
  newSpans = new U32Vec();
  newBytes = new Arena();
  newCount = 0;
  aheadCount = 0;
  ahead = new Map();
  roundTransitions = 0;
  base = Atomics.load(head, HEAD_BASE);
  table.newBlock();
  limit = Math.floor(table.cap * 0.85);
  // this worker's keys of the last round are cleared
  mine.fill(0, 0, Math.min(mine.length, 2 * dirty));
  dirty = 0;
  progress[progressAt] = 0;
  progress[progressAt + 1] = 0;
  progress[progressAt + 2] = 0;
}

/** The last round's new states, every worker's, become the frontier (in rank order: those the coordinator kept). */
function commit(level: LevelFront): void {
  frontAhead = ahead;
  frontAheadCount = aheadCount;
  front = level;
}

function initRound(): void {
  const inits = model.initialStates();
  for (let i = 0; i < inits.length; i++) {
    const b = expander.keyOf(inits[i]);
    fingerprint(b, fpU);
    visitState(fpI[0], fpI[1], 0, i, b, 0, b.length);
  }
}

interface RoundResult {
  readonly actions: Uint32Array;
  readonly expanded: number;
  readonly steps: Candidate[];
  readonly states: Candidate[];
  readonly reach: ReachCandidate[];
  readonly timedOut: boolean;
}

/**
 * Checks the state and reachable properties on the frontier and, if `expand`, expands it. In
 * stop-at-first runs, a state is not checked past the first frontier state found violating, and
 * not expanded past the first step violation, nor at all once a frontier state violates (the
 * search then stops in the frontier's level).
 */
function frontierRound(expand: boolean): RoundResult {
  const n = front.who.length;
  const r = new RoundState(expand ? n : 0, pendingReach);
  // states are claimed in chunks of ranks from a shared counter, so no worker waits for another
  // with states left; a worker's claims rise. The loop stays small and each state is a call: the
  // hot code is optimized once, as a function, instead of being recompiled (on-stack replacement
  // of one large loop) every round
  claims: for (;;) {
    const s0 = Atomics.add(head, HEAD_CLAIM, CHUNK);
    if (s0 >= n) break;
    const s1 = Math.min(n, s0 + CHUNK);
    for (let rank = s0; rank < s1; rank++) if (!visit(r, rank, expand)) break claims;
  }
  return { actions: r.actionCounts, expanded: r.expanded, steps: r.steps, states: r.states, reach: r.reach, timedOut: r.timedOut };
}

/** What a round gathers while it runs over the frontier. */
class RoundState {
  readonly steps: Candidate[] = [];
  readonly states: Candidate[] = [];
  readonly reach: ReachCandidate[] = [];
  readonly stepSeen = new Set<string>();
  readonly stateSeen = new Set<string>();
  readonly actionCounts: Uint32Array;
  firstP = -1;
  firstA = -1;
  timedOut = false;
  expanded = 0;
  constructor(
    n: number,
    public wantReach: { p: ReachableProperty<S>; index: number }[],
  ) {
    this.actionCounts = new Uint32Array(n);
  }
}

/** Checks and expands the frontier state of a rank; false when no later state needs either. */
function visit(r: RoundState, rank: number, expand: boolean): boolean {
  if (Atomics.load(head, HEAD_OVERFLOW) !== 0) return false;
  const judge = (props.state.length > 0 || r.wantReach.length > 0) && !(stopAtFirst && rank > Atomics.load(stop, STOP_STATE));
  const grow = expand && !r.timedOut && !(stopAtFirst && (rank > Atomics.load(stop, STOP_STEP) || Atomics.load(stop, STOP_STATE) !== STOP_NONE));
  // what a state does not need, no later state needs (ranks grow, the stop ranks only fall)
  if (!judge && !grow) return false;
  const w = front.who[rank];
  const f = front.fronts[w];
  const j = f.order[front.idx[rank]];
  const start = f.spans[2 * j];
  const state = decode(f.bytes.subarray(start, start + f.spans[2 * j + 1]));
  if (judge) judgeState(r, rank, state, w === me && j < frontAheadCount ? (frontAhead.get(j) ?? null) : undefined);
  if (!grow || (stopAtFirst && Atomics.load(stop, STOP_STATE) !== STOP_NONE)) return true;
  if (!expandState(r, rank, state)) return false;
  const expanded = ++r.expanded;
  progress[progressAt] = roundTransitions;
  progress[progressAt + 1] = newCount;
  progress[progressAt + 2] = expanded;
  if ((expanded & 255) === 0 && (Date.now() >= deadline || (interrupt !== null && Atomics.load(interrupt, 0) !== 0))) r.timedOut = true;
  return true;
}

/**
 * What the state and reachable properties say of one state, before the rules of the round (its
 * rank, the stop ranks, the findings already reported) apply: the findings, and the reachable
 * properties it satisfies (of those still pending). null: nothing.
 */
interface Judged {
  readonly states: { prop: number; finding: Finding }[];
  readonly reach: number[];
}

/** What judgeRaw is gathering (the callback below is made once, not per state). */
let judging: Judged | null = null;
const onStateFinding = (k: number, finding: Finding) => (judging ??= { states: [], reach: [] }).states.push({ prop: props.stateIndex[k], finding });

function judgeRaw(state: S, reach: readonly { p: ReachableProperty<S>; index: number }[]): Judged | null {
  judging = null;
  props.judgeState(state, onStateFinding);
  for (let k = 0; k < reach.length; k++) if (reach[k].p.holds(state)) (judging ??= { states: [], reach: [] }).reach.push(reach[k].index);
  return judging;
}

/** The state and reachable properties on a frontier state (`judged`: what judgeRaw said of it, if it ran ahead). */
function judgeState(r: RoundState, rank: number, state: S, judged: Judged | null | undefined): void {
  const got = judged !== undefined ? judged : judgeRaw(state, r.wantReach);
  if (got === null) return;
  let violated = false;
  for (const { prop, finding } of got.states) {
    const p = properties[prop];
    if (!stopAtFirst) {
      const k = violationKey(p.name, finding);
      if (seen.has(k) || r.stateSeen.has(k)) continue;
      r.stateSeen.add(k);
    }
    r.states.push({ prop, finding: { ...finding }, p: front.keyP[rank], a: front.keyA[rank], index: rank });
    violated = true;
  }
  if (violated && stopAtFirst) lower(STOP_STATE, rank);
  if (r.wantReach.length > 0 && got.reach.length > 0) {
    let hit = false;
    for (const x of r.wantReach)
      if (got.reach.includes(x.index)) {
        r.reach.push({ prop: x.index, p: front.keyP[rank], a: front.keyA[rank], index: rank });
        hit = true;
      }
    if (hit) r.wantReach = r.wantReach.filter((x) => !r.reach.some((y) => y.prop === x.index));
  }
}

/*
 * Judging ahead. A worker that waits (for the other workers to end the round, or for the ranks of
 * the level) runs the state and reachable properties on the states new in this round, which it
 * would otherwise do when it expands them in the next round: the checks are the same, only done
 * earlier, and what they found is applied then, in rank order, by the same rules. A worker that
 * finished its part of a level first thus takes on work of the next one instead of idling.
 */
/** New states of this round judged ahead (the first `aheadCount`, in the order they were stored), and what was found. */
let aheadCount = 0;
let ahead = new Map<number, Judged>();
/** The same for the frontier (the last round's new states). */
let frontAhead = new Map<number, Judged>();
let frontAheadCount = 0;

/** Judges up to `budget` more of this round's new states; false when every one is judged. */
function judgeAhead(budget: number): boolean {
  if (props.state.length === 0 && pendingReach.length === 0) return false;
  const end = Math.min(newCount, aheadCount + budget);
  const spans = newSpans.data;
  for (; aheadCount < end; aheadCount++) {
    const start = spans[2 * aheadCount];
    const got = judgeRaw(decode(newBytes.bytes.subarray(start, start + spans[2 * aheadCount + 1])), pendingReach);
    if (got !== null) ahead.set(aheadCount, got);
  }
  return aheadCount < newCount;
}

/*
 * The expansion: the step every search runs (expand.ts), with a sink that visits each successor
 * in the shared table, keeps the bytes of those it inserts, and notes its smallest key for each
 * state new in this level.
 */
let cur: RoundState | null = null;
let curRank = 0;
let overflowed = false;
/** The successor's bytes when they are built only to be copied into this worker's arena. */
let scratch = new Uint8Array(0);
const sink: Sink = {
  stepFinding(ai, k, f) {
    stepFinding(cur!, curRank, ai, props.stepIndex[k], f);
    return false;
  },
  successor(ai, hi, lo) {
    const v = table.visit(hi, lo);
    if (v >= 0) {
      // a state of an earlier level, the common case, costs the probe and a subtraction
      if (v >= base) met(v, curRank, ai);
      return false;
    }
    const b = expander.successorKey(expander.byDelta ? scratch : undefined);
    if (keep(-v - 1, curRank, ai, b, 0, b.length)) return false;
    overflowed = true;
    return true;
  },
};

/** Every transition of a frontier state: the step properties, and the successor visited; false if the level went past the table's limit. */
function expandState(r: RoundState, rank: number, state: S): boolean {
  cur = r;
  curRank = rank;
  overflowed = false;
  if (expander.byDelta && scratch.length !== (state as Uint8Array).length) scratch = new Uint8Array((state as Uint8Array).length);
  const n = expander.expand(state, sink);
  r.actionCounts[rank] = n;
  roundTransitions += n;
  return !overflowed;
}

/** A step property's finding on transition `ai` of the frontier state of a rank (`prop`: its index in `properties`). */
function stepFinding(r: RoundState, rank: number, ai: number, prop: number, f: Finding): void {
  const p = properties[prop];
  if (stopAtFirst) {
    if (r.firstP >= 0 && (r.firstP !== rank || r.firstA !== ai)) return;
    r.firstP = rank;
    r.firstA = ai;
    lower(STOP_STEP, rank);
  } else {
    const k = violationKey(p.name, f);
    if (seen.has(k) || r.stepSeen.has(k)) return;
    r.stepSeen.add(k);
  }
  r.steps.push({ prop, finding: { ...f }, p: rank, a: ai });
}

/** Waits until every worker has ended the round (judging ahead meanwhile). */
function barrier(): void {
  rounds++;
  const target = N * rounds;
  if (Atomics.add(head, HEAD_BARRIER, 1) + 1 === target) {
    Atomics.notify(head, HEAD_BARRIER);
    return;
  }
  for (;;) {
    const v = Atomics.load(head, HEAD_BARRIER);
    if (v >= target) return;
    if (!judgeAhead(32)) Atomics.wait(head, HEAD_BARRIER, v);
  }
}

/** Sorts the round's new states by key and reports to the coordinator. */
function finishRound(size: number, r: RoundResult): void {
  // a round that went past the table's limit is run again: its states are not reported
  const n = Atomics.load(head, HEAD_OVERFLOW) !== 0 ? 0 : newCount;
  dirty = table.count - base;
  // each state's key: the smallest of every worker's keys (the others' are final after the barrier)
  const keys = new Uint32Array(2 * n);
  const nums = newNums.data;
  for (let k = 0; k < n; k++) {
    const j = nums[k] - base;
    let bp = NONE;
    let ba = NONE;
    for (let w = 0; w < N; w++) {
      const f = firstKeys[w];
      const p = f[2 * j];
      const a = f[2 * j + 1];
      if (p !== 0 && (p < bp || (p === bp && a < ba))) {
        bp = p;
        ba = a;
      }
    }
    keys[2 * k] = bp - 1;
    keys[2 * k + 1] = ba - 1;
  }
  // their order by key, and the keys in that order (for the coordinator)
  const order = sortByKey(keys, n, size);
  const keyP = new Uint32Array(n);
  const keyA = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    keyP[i] = keys[2 * order[i]];
    keyA[i] = keys[2 * order[i] + 1];
  }
  // this worker's new states, in shared memory (as stored) for whichever worker expands them
  const bytes = newBytes.bytes.subarray(0, newBytes.used);
  send(
    {
      type: 'done',
      keyP,
      keyA,
      front: { bytes, spans: sharedCopy(newSpans.data, 2 * n), order: sharedCopy(order, n) },
      actions: r.actions,
      expanded: r.expanded,
      transitions: roundTransitions,
      steps: r.steps,
      states: r.states,
      reach: r.reach,
      timedOut: r.timedOut,
    },
    [keyP.buffer, keyA.buffer, r.actions.buffer as ArrayBuffer],
  );
}

// (PropertySet refused recoverable properties)
send({ type: 'ready', properties: properties.map((p) => ({ name: p.name, kind: p.kind as 'state' | 'step' | 'reachable' })) });

const NO_ROUND: RoundResult = { actions: new Uint32Array(0), expanded: 0, steps: [], states: [], reach: [], timedOut: false };
for (;;) {
  const msg = receiveControl();
  if (msg.type === 'stop') break;
  if (msg.type === 'init') {
    startRound();
    initRound();
    barrier();
    finishRound(1, NO_ROUND);
  } else {
    if (msg.table) {
      table = new SharedVisited(msg.table.slots, head, NUMBER_BLOCK);
      // (the same arrays of keys, or new ones: cleared at the round's start either way)
      firstKeys = msg.table.firstKeys;
      mine = firstKeys[me];
    }
    if (msg.rebuild) {
      // the states of the old table move into the new one, each worker a range of the old
      // slots, all before any worker looks one up
      const { from, below } = msg.rebuild;
      const cap = from.length / 3;
      table.reinsert(from, Math.floor((cap * me) / N), Math.floor((cap * (me + 1)) / N), below);
      barrier();
    }
    for (const k of msg.seen) seen.add(k);
    if (msg.reached.length) pendingReach = pendingReach.filter((r) => !msg.reached.includes(r.p.name));
    // a round run again expands the same frontier
    if (!msg.again) commit(msg.front);
    startRound();
    const r = frontierRound(msg.expand);
    barrier();
    finishRound(msg.size, r);
  }
}
control.close();
