/**
 * A worker of the parallel search (parallel.ts): it builds the model from the factory, owns one
 * shard of the visited set (the fingerprints with hi % workers = its index) and the frontier
 * states in it, and runs rounds on the coordinator's orders. In a round it
 *
 * 1. takes the ranks of the states it found in the last round (the frontier), decodes each once,
 *    in rank order, checks the state and reachable properties on it, and expands it: checks the
 *    step properties, and routes every successor that is not a self-loop to the owner of its
 *    fingerprint (itself, or a peer, in transferred batches);
 * 2. keeps, for every fingerprint new to its shard in this level, the smallest key (parent rank,
 *    action index) that reaches it, i.e. the transition by which sequential BFS finds it;
 * 3. sorts its new states by key and sends the keys and the findings to the coordinator, which
 *    ranks the states of the whole level.
 *
 * (A state is thus checked one round after it is found, when it is decoded anyway, or earlier
 * by a worker that would otherwise wait: see "Judging ahead".)
 *
 * The thread is synchronous: it reads its ports with receiveMessageOnPort and sleeps in
 * Atomics.wait when it has nothing to read.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { editedFingerprint, fingerprint } from './fingerprint.ts';
import { applyDelta, StepGate } from './delta.ts';
import { FingerprintSet } from './fpset.ts';
import { Arena, ShardTable, sortByKey, U32Vec } from './parallel-shard.ts';
import {
  PROGRESS_STRIDE,
  RECORD_HEADER_WORDS,
  STOP_NONE,
  STOP_STATE,
  STOP_STEP,
  type Batch,
  type Candidate,
  type FactoryResult,
  type FromWorker,
  type ReachCandidate,
  type ToWorker,
  type WorkerData,
} from './parallel-protocol.ts';
import type { Finding, Model, Property, ReachableProperty, StateProperty, StepDelta, StepProperty } from './types.ts';

type S = unknown;
type A = unknown;
type O = unknown;

/** Successors bound for one peer, in a buffer that is transferred when full. */
class Outbox {
  private u32!: Uint32Array;
  private u8!: Uint8Array;
  private pos = 0;
  constructor(
    private readonly port: MessagePort,
    private readonly signals: Int32Array,
    private readonly peer: number,
  ) {
    this.reset(1 << 14);
  }
  private reset(words: number): void {
    const buf = new ArrayBuffer(words * 4);
    this.u32 = new Uint32Array(buf);
    this.u8 = new Uint8Array(buf);
    this.pos = 0;
  }
  append(hi: number, lo: number, p: number, a: number, bytes: Uint8Array): void {
    const len = bytes.length;
    const words = RECORD_HEADER_WORDS + ((len + 3) >>> 2);
    if (this.pos + words > this.u32.length) {
      this.flush(false);
      if (words > this.u32.length) this.reset(words * 4);
    }
    const u = this.u32;
    const at = this.pos;
    u[at] = hi;
    u[at + 1] = lo;
    u[at + 2] = p;
    u[at + 3] = a;
    u[at + 4] = len;
    const u8 = this.u8;
    const o = (at + RECORD_HEADER_WORDS) * 4;
    if (len <= 64) for (let k = 0; k < len; k++) u8[o + k] = bytes[k];
    else u8.set(bytes, o);
    this.pos = at + words;
  }
  flush(last: boolean): void {
    const batch: Batch = { buf: this.u32.buffer as ArrayBuffer, words: this.pos, last };
    this.port.postMessage(batch, [batch.buf]);
    Atomics.add(this.signals, this.peer, 1);
    Atomics.notify(this.signals, this.peer);
    this.reset(1 << 14);
  }
}

const data = workerData as WorkerData;
const me = data.index;
const N = data.workers;
const signals = data.signals;
const stop = data.stop;
const progress = data.progress;
const stopAtFirst = data.stopAtFirst;
const deadline = data.deadline ?? Infinity;

const factoryModule = (await import(data.factory.module)) as Record<string, unknown>;
const make = factoryModule[data.factory.export];
if (typeof make !== 'function') throw new Error(`the model factory ${data.factory.module} has no function export '${data.factory.export}'`);
const built = (await (make as (args: unknown) => FactoryResult | Promise<FactoryResult>)(data.factory.args)) as FactoryResult;
const model = built.model as Model<S, A, O>;
const properties = built.properties as readonly Property<S, A, O>[];
if (typeof model.decode !== 'function') throw new Error('the parallel search needs a model that can decode its encodings (decode)');
if (data.symmetry && !model.canonicalize) throw new Error('symmetry reduction needs a model with a canonical form (canonicalize)');
const decode = model.decode.bind(model);
const canon = data.symmetry ? model.canonicalize!.bind(model) : null;
const keyOf = (s: S): Uint8Array => (canon ? canon(model.encode(s)) : model.encode(s));

const indexed = properties.map((p, index) => ({ p, index }));
const stepProps = indexed.filter((x): x is { p: StepProperty<S, A, O>; index: number } => x.p.kind === 'step');
const stateProps = indexed.filter((x): x is { p: StateProperty<S>; index: number } => x.p.kind === 'state');
let pendingReach = indexed.filter((x): x is { p: ReachableProperty<S>; index: number } => x.p.kind === 'reachable');
/** Violations (property NUL key) the search has recorded: not worth reporting again. */
const seen = new Set<string>();

const control = data.control;
const peers = data.peers;
const outboxes = peers.map((port, j) => (port && j !== me ? new Outbox(port, signals, j) : null));

const table = new ShardTable(1 << 18);
/** Every fingerprint this worker has routed to a peer, in any round (see expandState). */
const routed = new FingerprintSet();
/** Fingerprints are computed into fpU and read as signed integers from fpI (no heap numbers). */
const fpU = new Uint32Array(2);
const fpI = new Int32Array(fpU.buffer);
/** The shard of a fingerprint: its high half, unsigned, modulo the number of workers. */
const ownerOf = (hi: number): number => (N === 1 ? 0 : (hi >>> 0) % N);
/** Bits of the routing worker in the table's values (see insert). */
const SHIFT = N <= 1 ? 0 : 32 - Math.clz32(N - 1);
const MASK = (1 << SHIFT) - 1;
const maxLevelStates = 2 ** (31 - SHIFT) - 1;

// the states new in this round: keys [parent rank, action], encodings [start, length]
let newKeys = new U32Vec();
let newSpans = new U32Vec();
let newBytes = new Arena();
let newCount = 0;
/** Their order by key, and their keys in that order, once the round is routed. */
let sortedOrder: Uint32Array = new Uint32Array(0);
let sortedP: Uint32Array = new Uint32Array(0);
let sortedA: Uint32Array = new Uint32Array(0);

// the frontier: the states of the level being expanded that this worker owns, in rank order, with their keys
let frontBytes = new Arena();
let frontSpans: Uint32Array = new Uint32Array(0);
let frontOrder: Uint32Array = new Uint32Array(0);
let frontRanks: Uint32Array = new Uint32Array(0);
let frontP: Uint32Array = new Uint32Array(0);
let frontA: Uint32Array = new Uint32Array(0);

let roundTransitions = 0;
let lastsReceived = 0;
const progressAt = me * PROGRESS_STRIDE;

/**
 * A successor (or initial state) owned by this worker, routed by worker `from` (this one or a
 * peer): new to the shard, it is stored; new in this level already, its key becomes the smaller
 * of the two.
 *
 * The table keeps, for a state new in this level, its index and the worker that routed its
 * current key (in the low SHIFT bits). Each worker routes keys in increasing order, so a key from
 * the same worker as the stored one is never smaller: only keys from another worker are compared.
 */
function insert(hi: number, lo: number, p: number, a: number, from: number, src: Uint8Array, off: number, len: number): void {
  insertAt(table.probe(hi, lo), hi, lo, p, a, from, src, off, len);
}

/** insert, where `at` is what table.probe(hi, lo) returned. */
function insertAt(at: number, hi: number, lo: number, p: number, a: number, from: number, src: Uint8Array, off: number, len: number): void {
  if (at < 0) {
    if (newCount >= maxLevelStates) throw new Error(`parallel search: more than ${maxLevelStates} new states in one level of one shard`);
    table.put(at, hi, lo, (newCount << SHIFT) | from);
    newKeys.push2(p, a);
    newSpans.push2(newBytes.append(src, off, len), len);
    newCount++;
    return;
  }
  if (!table.isNew(at)) return;
  const v = table.value(at);
  if ((v & MASK) === from) return;
  const j = v >>> SHIFT;
  const k = newKeys.data;
  const kp = k[2 * j];
  if (p < kp || (p === kp && a < k[2 * j + 1])) {
    k[2 * j] = p;
    k[2 * j + 1] = a;
    table.setValue(at, (j << SHIFT) | from);
  }
}

function receiveBatch(batch: Batch, from: number): void {
  const u32 = new Uint32Array(batch.buf);
  const i32 = new Int32Array(batch.buf);
  const u8 = new Uint8Array(batch.buf);
  const end = batch.words;
  let i = 0;
  while (i < end) {
    const len = u32[i + 4];
    insert(i32[i], i32[i + 1], u32[i + 2], u32[i + 3], from, u8, (i + RECORD_HEADER_WORDS) * 4, len);
    i += RECORD_HEADER_WORDS + ((len + 3) >>> 2);
  }
  if (batch.last) lastsReceived++;
}

function drainPeers(): void {
  for (let j = 0; j < N; j++) {
    const port = peers[j];
    if (!port || j === me) continue;
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) receiveBatch(m.message as Batch, j);
  }
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
  newKeys = new U32Vec();
  newSpans = new U32Vec();
  newBytes = new Arena();
  newCount = 0;
  aheadCount = 0;
  ahead = new Map();
  roundTransitions = 0;
  lastsReceived = 0;
  progress[progressAt] = 0;
  progress[progressAt + 1] = 0;
  progress[progressAt + 2] = 0;
}

/** The last round's new states become the frontier: the first ranks.length of them in key order (the others were cut). */
function commit(ranks: Uint32Array): void {
  table.endLevel();
  frontAhead = ahead;
  frontAheadCount = aheadCount;
  frontBytes = newBytes;
  frontSpans = newSpans.data;
  frontOrder = sortedOrder.subarray(0, ranks.length);
  frontRanks = ranks;
  frontP = sortedP;
  frontA = sortedA;
}

function initRound(): void {
  const inits = model.initialStates();
  for (let i = 0; i < inits.length; i++) {
    const b = keyOf(inits[i]);
    fingerprint(b, fpU);
    if (ownerOf(fpI[0]) === me) insert(fpI[0], fpI[1], 0, i, me, b, 0, b.length);
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
  const n = frontOrder.length;
  const r = new RoundState(expand ? n : 0, pendingReach);
  // the loop stays small and each state is a call: the hot code is optimized once, as a
  // function, instead of being recompiled (on-stack replacement of one large loop) every round
  for (let i = 0; i < n; i++) if (!visit(r, i, expand)) break;
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

/** Checks and expands the i-th state of the frontier; false when no later state needs either. */
function visit(r: RoundState, i: number, expand: boolean): boolean {
  const rank = frontRanks[i];
  const judge = (stateProps.length > 0 || r.wantReach.length > 0) && !(stopAtFirst && rank > Atomics.load(stop, STOP_STATE));
  const grow = expand && !r.timedOut && !(stopAtFirst && (rank > Atomics.load(stop, STOP_STEP) || Atomics.load(stop, STOP_STATE) !== STOP_NONE));
  // what a state does not need, no later state needs (ranks grow, the stop ranks only fall)
  if (!judge && !grow) return false;
  const j = frontOrder[i];
  const start = frontSpans[2 * j];
  const state = decode(frontBytes.bytes.subarray(start, start + frontSpans[2 * j + 1]));
  if (judge) judgeState(r, i, rank, state, j < frontAheadCount ? (frontAhead.get(j) ?? null) : undefined);
  if (!grow || (stopAtFirst && Atomics.load(stop, STOP_STATE) !== STOP_NONE)) return true;
  expandState(r, i, rank, state);
  const expanded = ++r.expanded;
  progress[progressAt] = roundTransitions;
  progress[progressAt + 1] = newCount;
  progress[progressAt + 2] = expanded;
  if ((expanded & 63) === 0) drainPeers();
  if ((expanded & 255) === 0 && Date.now() >= deadline) r.timedOut = true;
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

function judgeRaw(state: S, reach: readonly { p: ReachableProperty<S>; index: number }[]): Judged | null {
  let out: Judged | null = null;
  for (let k = 0; k < stateProps.length; k++) {
    const { p, index } = stateProps[k];
    const f = p.check(state);
    if (f) (out ??= { states: [], reach: [] }).states.push({ prop: index, finding: f });
  }
  for (let k = 0; k < reach.length; k++) if (reach[k].p.holds(state)) (out ??= { states: [], reach: [] }).reach.push(reach[k].index);
  return out;
}

/** The state and reachable properties on a frontier state (`judged`: what judgeRaw said of it, if it ran ahead). */
function judgeState(r: RoundState, i: number, rank: number, state: S, judged: Judged | null | undefined): void {
  const got = judged !== undefined ? judged : judgeRaw(state, r.wantReach);
  if (got === null) return;
  let violated = false;
  for (const { prop, finding } of got.states) {
    const p = properties[prop];
    if (!stopAtFirst) {
      const k = `${p.name}\u0000${finding.key ?? ''}`;
      if (seen.has(k) || r.stateSeen.has(k)) continue;
      r.stateSeen.add(k);
    }
    r.states.push({ prop, finding: { ...finding }, p: frontP[i], a: frontA[i], index: i });
    violated = true;
  }
  if (violated && stopAtFirst) lower(STOP_STATE, rank);
  if (r.wantReach.length > 0 && got.reach.length > 0) {
    let hit = false;
    for (const x of r.wantReach)
      if (got.reach.includes(x.index)) {
        r.reach.push({ prop: x.index, p: frontP[i], a: frontA[i], index: i });
        hit = true;
      }
    if (hit) r.wantReach = r.wantReach.filter((x) => !r.reach.some((y) => y.prop === x.index));
  }
}

/*
 * Judging ahead. A worker that waits (for the last successors of its peers, or for the ranks of
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
  if (stateProps.length === 0 && pendingReach.length === 0) return false;
  const end = Math.min(newCount, aheadCount + budget);
  const spans = newSpans.data;
  for (; aheadCount < end; aheadCount++) {
    const start = spans[2 * aheadCount];
    const got = judgeRaw(decode(newBytes.bytes.subarray(start, start + spans[2 * aheadCount + 1])), pendingReach);
    if (got !== null) ahead.set(aheadCount, got);
  }
  return aheadCount < newCount;
}

/**
 * Every transition of a frontier state: the step properties, and the successor to its owner. A
 * successor owned by a peer goes to it once: routed in an earlier round, it is in the peer's
 * visited set already; in this round, it was routed with a smaller key (states are expanded in
 * rank order). So what crosses between workers is in the order of the distinct states, not of the
 * transitions.
 */
function expandState(r: RoundState, i: number, rank: number, state: S): void {
  if (deltaSteps) return expandDelta(r, i, rank, state);
  const actions = model.actions(state);
  r.actionCounts[i] = actions.length;
  for (let ai = 0; ai < actions.length; ai++) {
    const action = actions[ai];
    const { state: succ, outcome } = model.step(state, action);
    roundTransitions++;
    if (stepProps.length > 0) checkStep(r, rank, ai, state, action, outcome, succ);
    if (succ !== state) {
      const b = keyOf(succ);
      fingerprint(b, fpU);
      const hi = fpI[0];
      const lo = fpI[1];
      const owner = ownerOf(hi);
      if (owner === me) insert(hi, lo, rank, ai, me, b, 0, b.length);
      else if (routed.add(fpU[0], fpU[1])) outboxes[owner]!.append(hi, lo, rank, ai, b);
    }
  }
}

/** The step properties on a transition: all of them, or those at the given indices of stepProps. */
function checkStep(r: RoundState, rank: number, ai: number, state: S, action: A, outcome: O, succ: S, which?: readonly number[]): void {
  const n = which ? which.length : stepProps.length;
  for (let k = 0; k < n; k++) {
    const { p, index } = stepProps[which ? which[k] : k];
    const f: Finding | null = p.check(state, action, outcome, succ);
    if (!f) continue;
    if (stopAtFirst) {
      if (r.firstP >= 0 && (r.firstP !== rank || r.firstA !== ai)) continue;
      r.firstP = rank;
      r.firstA = ai;
      lower(STOP_STEP, rank);
    } else {
      const k = `${p.name}\u0000${f.key ?? ''}`;
      if (seen.has(k) || r.stepSeen.has(k)) continue;
      r.stepSeen.add(k);
    }
    r.steps.push({ prop: index, finding: { ...f }, p: rank, a: ai });
  }
}

/*
 * Steps as bytes written (models with stepDelta and stepDeltas, without symmetry), as in the
 * sequential search: successors fingerprinted from the bytes that changed, built (in a reused
 * buffer) only when new here, routed to a peer, or read by a step property.
 */
const deltaSteps = !canon && typeof model.stepDelta === 'function' && typeof model.stepDeltas === 'function';
const deltas: StepDelta<O>[] = [];
const parentFp = new Uint32Array(2);
const edited = new Int32Array(2);
let scratch = new Uint8Array(0);
/** Step properties run only where they can fail (see StepGate). */
const gate = new StepGate(stepProps.map((x) => x.p));

function expandDelta(r: RoundState, i: number, rank: number, state: S): void {
  const bytes = state as unknown as Uint8Array;
  const len = bytes.length;
  const count = model.stepDeltas!(state, deltas);
  r.actionCounts[i] = count;
  let actions: readonly A[] | null = null;
  fingerprint(bytes, parentFp);
  const p0 = parentFp[0] | 0;
  const p1 = parentFp[1] | 0;
  if (scratch.length !== len) scratch = new Uint8Array(len);
  roundTransitions += count;
  const tab = table;
  const buf = scratch;
  for (let ai = 0; ai < count; ai++) {
    const d = deltas[ai];
    const changed = editedFingerprint(bytes, d.offsets, d.values, p0, p1, edited);
    const hi = edited[0];
    const lo = edited[1];
    let gated = gate.gated.length ? gate.known(d, changed) : 0;
    if (gated < 0) {
      actions ??= model.actions(state);
      gated = gate.decide(d, changed, actions[ai]);
    }
    if (gated !== 0 || gate.ungated.length) {
      actions ??= model.actions(state);
      // the properties may keep what they are given: a copy, not the reused buffer
      const after = changed ? applyDelta(bytes, d) : bytes;
      checkStep(r, rank, ai, state, actions[ai], d.outcome, after as unknown as S, gate.selected(gated));
    }
    if (!changed) continue;
    const owner = ownerOf(hi);
    let at = 0;
    if (owner === me) {
      at = tab.probe(hi, lo);
      if (at >= 0) {
        // a state of an earlier level, the common case, costs the probe and a bit (no call)
        if (tab.isNew(at)) insertAt(at, hi, lo, rank, ai, me, bytes, 0, 0);
        continue;
      }
    } else if (!routed.add(hi >>> 0, lo >>> 0)) continue;
    applyDelta(bytes, d, buf);
    if (owner === me) insertAt(at, hi, lo, rank, ai, me, buf, 0, len);
    else outboxes[owner]!.append(hi, lo, rank, ai, buf);
  }
}

/** Tells the peers this worker has routed everything, then takes in theirs until each has said so. */
function finishRouting(): void {
  for (const o of outboxes) o?.flush(true);
  for (;;) {
    const v = Atomics.load(signals, me);
    drainPeers();
    if (lastsReceived >= N - 1) return;
    if (!judgeAhead(32)) Atomics.wait(signals, me, v);
  }
}

/** Sorts the round's new states by key and reports to the coordinator. */
function finishRound(size: number, r: RoundResult): void {
  const n = newCount;
  const keys = newKeys.data;
  sortedOrder = sortByKey(keys, n, size);
  sortedP = new Uint32Array(n);
  sortedA = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    sortedP[i] = keys[2 * sortedOrder[i]];
    sortedA[i] = keys[2 * sortedOrder[i] + 1];
  }
  const keyP = sortedP.slice();
  const keyA = sortedA.slice();
  send(
    {
      type: 'done',
      keyP,
      keyA,
      actions: r.actions,
      expanded: r.expanded,
      transitions: roundTransitions,
      steps: r.steps,
      states: r.states,
      reach: r.reach,
      timedOut: r.timedOut,
      visitedBytes: table.bytes,
      visited: table.size,
    },
    [keyP.buffer, keyA.buffer, r.actions.buffer as ArrayBuffer],
  );
}

send({ type: 'ready', properties: properties.map((p) => ({ name: p.name, kind: p.kind })) });

const NO_ROUND: RoundResult = { actions: new Uint32Array(0), expanded: 0, steps: [], states: [], reach: [], timedOut: false };
for (;;) {
  const msg = receiveControl();
  if (msg.type === 'stop') break;
  if (msg.type === 'init') {
    startRound();
    initRound();
    finishRouting();
    finishRound(1, NO_ROUND);
  } else {
    for (const k of msg.seen) seen.add(k);
    if (msg.reached.length) pendingReach = pendingReach.filter((r) => !msg.reached.includes(r.p.name));
    commit(msg.ranks);
    startRound();
    const r = frontierRound(msg.expand);
    finishRouting();
    finishRound(msg.size, r);
  }
}
control.close();
for (const p of peers) p?.close();
