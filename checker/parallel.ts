/**
 * Parallel breadth-first search on worker threads, with the results of the sequential search
 * (bfs.ts): the same distinct states, levels and, for runs that no bound cuts or only the depth
 * bound cuts, the same transitions; the same state ids, parent links, violations and traces,
 * whatever the number of workers.
 *
 * Deterministic by construction: the search is level-synchronous. The visited set is one table in
 * shared memory (SharedVisited); the worker that inserts a state keeps its bytes, and publishes
 * them in shared memory at the end of the round (parallel-worker.ts). Sequential BFS expands a
 * level in rank order and finds a new state by the first (parent rank, action index) that reaches
 * it; the workers claim the level's states in chunks of ranks from a shared counter (so a worker's
 * claims rise, and no worker waits for another while states are left), each notes in shared
 * memory the smallest key by which it meets each state new in the level, and the state's inserter
 * takes the smallest of the workers' keys once the round has ended everywhere. The coordinator (this thread)
 * merges the workers' sorted keys, which ranks the new states in the order sequential BFS finds
 * them, records their parent links in that order, and tells every worker where each rank's state
 * is. A violation is known by its key too (a
 * step: its transition; a state property: the key of the state), so the first violation of a
 * level is the one with the smallest key, as in the sequential search.
 *
 * Workers build the model themselves: the caller names a factory (a module URL, an export, and
 * JSON arguments) that each worker imports and calls. Workers load TypeScript sources through a
 * loader module (tsx's ESM API by default) that they import and register before anything else.
 *
 * This thread blocks while the workers run (Atomics.wait, messages read with
 * receiveMessageOnPort), so checkParallel is synchronous, like check. The workers are started by
 * a small supervisor thread whose event loop stays free to see a worker fail, and which reports
 * it to this thread.
 *
 * Bounds: the depth bound behaves as in bfs.ts. A state bound stops within the level at the same
 * state as the sequential search (same states, violations, traces and transitions), but the
 * workers will have expanded the whole level to find it. A time bound stops each worker after the
 * state it is expanding when time runs out, so the states of the last level come from a part of
 * the level that is not the sequential search's prefix (as with the sequential search, a time-cut
 * run is not reproducible). Bitstate, checkpoints and resuming are left to the sequential search;
 * symmetry reduction is supported.
 *
 * The visited set never moves while workers search: it grows between rounds, ahead of a level
 * (room for the states the level's growth over the last one suggests, and as many keys): this
 * thread makes an empty table, and the workers move the states into it, each a range of the old
 * slots, before they start the round. When a level fills it past its limit anyway, or the room for
 * its keys, the workers stop and the round runs again with twice as much, its states dropped.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HEAD_BASE, HEAD_CLAIM, HEAD_OVERFLOW, OVERFLOW_KEYS, OVERFLOW_TABLE, SharedVisited } from './parallel-shared.ts';
import { collisionProbability } from './fingerprint.ts';
import { ParentLinks } from './parents.ts';
import { PROGRESS_STRIDE, STOP_NONE, STOP_STATE, STOP_STEP, type Candidate, type FromWorker, type ModelFactory, type ReachCandidate, type LevelFront, type SharedTable, type ToWorker, type WorkerData } from './parallel-protocol.ts';
import { searchResult, violationKey, ViolationLog } from './properties.ts';
import type { Bound, CheckOptions, CheckResult, Example, Stats, Violation } from './types.ts';

export type { ModelFactory, FactoryResult } from './parallel-protocol.ts';

export interface ParallelOptions extends CheckOptions {
  /** Worker threads (1 or more). */
  readonly workers: number;
  /** Slots of the visited set to start with (default 2^18): small in tests, so that it grows, and fills within a level. */
  readonly initialTableSlots?: number;
  /**
   * A module the workers import first, calling its `register()` if it exports one: by default
   * tsx's ESM API, so that workers load TypeScript sources; null for none (compiled JavaScript).
   */
  readonly loader?: string | null;
}

type Done = Extract<FromWorker, { type: 'done' }>;
type DoneList = Done[];

/** The worker bootstrap (evaluated as a script, workerData.boot = { loaders, entry }): register the loaders, then import the worker module. */
export const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { loaders, entry } = workerData.boot;
  for (const loader of loaders) {
    const m = await import(loader);
    if (typeof m.register === 'function') m.register();
  }
  await import(entry);
})();
`;

/** The supervisor (evaluated as a script): starts the workers and reports their failures and exits. */
const SUPERVISOR = `
const { workerData, Worker } = require('node:worker_threads');
const { boot, workers, report, signals, slot } = workerData;
const tell = (m) => {
  report.postMessage(m);
  Atomics.add(signals, slot, 1);
  Atomics.notify(signals, slot);
};
workers.forEach((w, i) => {
  const t = new Worker(boot, { eval: true, workerData: w.data, transferList: w.transfer });
  t.on('error', (e) => tell({ type: 'error', worker: i, message: e && e.message ? e.message : String(e), stack: e && e.stack ? String(e.stack) : '' }));
  t.on('exit', (code) => tell({ type: 'exit', worker: i, code }));
});
`;

type SupervisorReport = { type: 'error'; worker: number; message: string; stack: string } | { type: 'exit'; worker: number; code: number };

/**
 * The loaders workers register before anything else, as the command line does: tsx's ESM and
 * CommonJS APIs (TypeScript sources, a variant module in a folder without a package.json
 * included) and the resolution of 'pkvm-check' for variant modules, or none where tsx is not installed.
 */
export function defaultLoaders(): string[] {
  try {
    return [import.meta.resolve('tsx/esm/api'), import.meta.resolve('tsx/cjs/api'), new URL('../bin/self-resolve.js', import.meta.url).href];
  } catch {
    return [];
  }
}

/** Keys (parent rank, action index) in the order of the sequential search. */
function before(p1: number, a1: number, p2: number, a2: number): boolean {
  return p1 < p2 || (p1 === p2 && a1 < a2);
}

export function checkParallel(factory: ModelFactory, options: ParallelOptions): CheckResult {
  const N = options.workers;
  if (!Number.isInteger(N) || N < 1) throw new Error(`the number of workers must be a positive integer (got ${N})`);
  if (options.bitstateBytes !== undefined) throw new Error('the parallel search has no bitstate mode (use the sequential search)');
  if (options.checkpoint || options.resume) throw new Error('the parallel search has no checkpoints (use the sequential search)');
  const stopAtFirst = options.stopAtFirstViolation ?? true;
  const maxDepth = options.maxDepth ?? Infinity;
  const maxStates = options.maxStates ?? Infinity;
  const progressEvery = options.progressIntervalMs ?? 2000;
  const called = Date.now();
  const deadline = options.timeLimitSeconds !== undefined ? called + options.timeLimitSeconds * 1000 : null;
  /**
   * The clock of the statistics: from the workers' models built (as the sequential search's, which
   * starts from a model built) to the verdict; the time limit counts from the call.
   */
  let start = called;

  // shared memory: signals (one per worker, one for this thread), the stop rank, progress counters
  const signals = new Int32Array(new SharedArrayBuffer(4 * (N + 1)));
  // (words read for every state, and the workers' progress written for every state: each in the
  // middle of a buffer of its own, so that no line holds both, nor anything else)
  const stop = new Int32Array(new SharedArrayBuffer(192), 64, 2);
  stop.fill(STOP_NONE);
  const progress = new Float64Array(new SharedArrayBuffer(8 * PROGRESS_STRIDE * (N + 2)), 8 * PROGRESS_STRIDE, PROGRESS_STRIDE * N);

  // the visited set, and the workers' keys of a level's new states (room for `room` of them)
  let visited = SharedVisited.create(options.initialTableSlots ?? 1 << 18);
  let room = Math.min(visited.cap, 1 << 12);
  // (zeros, no key: memory the workers never write is never touched)
  const keysFor = (n: number) => Array.from({ length: N }, () => new Uint32Array(new SharedArrayBuffer(8 * n)));
  let table: SharedTable = { slots: visited.slots, firstKeys: keysFor(room) };

  // channels: this thread <-> each worker, supervisor -> this thread
  const controls: MessagePort[] = [];
  const workerPorts: { control: MessagePort }[] = [];
  for (let i = 0; i < N; i++) {
    const { port1, port2 } = new MessageChannel();
    controls.push(port1);
    workerPorts.push({ control: port2 });
  }
  const reportChannel = new MessageChannel();
  const report = reportChannel.port1;

  const boot = { loaders: options.loader === undefined ? defaultLoaders() : options.loader === null ? [] : [options.loader], entry: new URL('./parallel-worker.ts', import.meta.url).href };
  const workers = workerPorts.map((ports, index) => {
    const data: WorkerData & { boot: typeof boot } = {
      index,
      workers: N,
      factory,
      control: ports.control,
      head: visited.head,
      table,
      signals,
      stop,
      progress,
      symmetry: !!options.symmetry,
      stopAtFirst,
      deadline,
      interrupt: options.interrupt ?? null,
      boot,
    };
    return { data, transfer: [ports.control] };
  });
  const supervisor = new Worker(SUPERVISOR, {
    eval: true,
    workerData: { boot: BOOT, workers, report: reportChannel.port2, signals, slot: N },
    transferList: [reportChannel.port2, ...workers.flatMap((w) => w.transfer)],
  });
  supervisor.unref();

  // search state
  const parents = new ParentLinks();
  const log = new ViolationLog();
  const examples: Example[] = [];
  let propertyInfo: readonly { name: string; kind: 'state' | 'step' | 'reachable' }[] = [];
  let pendingReach = new Set<string>();
  const levels: number[] = [];
  let transitions = 0;
  let cutBy: Bound | null = null;
  let stopped = false;
  let queued = 0;
  let peakMemory = process.memoryUsage.rss();
  let lastProgress = start;
  let visitedBytes = 0;
  /** States of the round being run, and whether it expands them (for progress lines). */
  let frontSize = 0;
  let frontExpands = false;
  let newlySeen: string[] = [];
  let newlyReached: string[] = [];

  let tableGrowths = 0;
  let roundsRunAgain = 0;
  /**
   * Makes the visited set at least `atLeast` slots and room for `need` states at three quarters
   * full, keeping the states numbered below `below`, and the keys room for `levelRoom` states.
   * Returns what the next round's order tells the workers: the new table, and the old slots the
   * workers move the kept states from (see ToWorker); nothing if both were big enough.
   */
  const ensure = (need: number, below: number, atLeast: number, levelRoom: number): Pick<Extract<ToWorker, { type: 'round' }>, 'table' | 'rebuild'> => {
    let cap = Math.max(visited.cap, atLeast);
    while (need > cap * 0.75) cap *= 2;
    const rebuild = cap !== visited.cap || below < visited.count;
    const rekey = levelRoom > room;
    if (!rebuild && !rekey) return {};
    const from = visited.slots;
    if (rebuild) {
      visited = visited.emptied(cap, below);
      tableGrowths++;
    }
    if (rekey) room = Math.max(levelRoom, 2 * room);
    table = { slots: visited.slots, firstKeys: rekey ? keysFor(room) : table.firstKeys };
    return rebuild ? { table, rebuild: { from, below } } : { table };
  };

  const post = (i: number, msg: ToWorker, transfer: ArrayBuffer[] = []) => {
    controls[i].postMessage(msg, transfer);
    Atomics.add(signals, i, 1);
    Atomics.notify(signals, i);
  };

  const checkSupervisor = () => {
    for (let m = receiveMessageOnPort(report); m; m = receiveMessageOnPort(report)) {
      const r = m.message as SupervisorReport;
      if (r.type === 'error') {
        const e = new Error(`parallel search: worker ${r.worker} failed: ${r.message}`);
        if (r.stack) e.stack = `${e.message}\n-- in the worker: ${r.stack}`;
        throw e;
      }
      throw new Error(`parallel search: worker ${r.worker} exited (code ${r.code}) before the search ended`);
    }
  };

  const reportProgress = (now: number) => {
    lastProgress = now;
    peakMemory = Math.max(peakMemory, process.memoryUsage.rss());
    // nothing to say while the workers check the initial states (no level is known yet)
    if (!options.onProgress || (levels.length === 0 && !frontExpands)) return;
    let roundTransitions = 0;
    let found = 0;
    let expanded = 0;
    for (let i = 0; i < N; i++) {
      roundTransitions += progress[i * PROGRESS_STRIDE];
      found += progress[i * PROGRESS_STRIDE + 1];
      expanded += progress[i * PROGRESS_STRIDE + 2];
    }
    const seconds = (now - start) / 1000;
    const distinct = parents.size + found;
    options.onProgress({
      // the level being found while a round expands, else the level being checked
      depth: frontExpands ? levels.length : levels.length - 1,
      distinctStates: distinct,
      transitions: transitions + roundTransitions,
      queued: Math.max(0, frontSize - expanded) + found,
      seconds,
      statesPerSecond: distinct / Math.max(seconds, 1e-9),
      violations: log.list.length,
    });
  };

  /** One message from every worker, of the given type. */
  const gather = <T extends FromWorker['type']>(type: T): Extract<FromWorker, { type: T }>[] => {
    const got: (FromWorker | undefined)[] = new Array(N).fill(undefined);
    let missing = N;
    for (;;) {
      const v = Atomics.load(signals, N);
      checkSupervisor();
      for (let i = 0; i < N; i++) {
        if (got[i]) continue;
        const m = receiveMessageOnPort(controls[i]);
        if (!m) continue;
        const msg = m.message as FromWorker;
        if (msg.type !== type) throw new Error(`parallel search: worker ${i} sent '${msg.type}', expected '${type}'`);
        got[i] = msg;
        missing--;
      }
      if (missing === 0) return got as Extract<FromWorker, { type: T }>[];
      const now = Date.now();
      if (now - lastProgress >= progressEvery) reportProgress(now);
      Atomics.wait(signals, N, v, Math.max(1, progressEvery - (Date.now() - lastProgress)));
    }
  };

  const record = (v: Violation): void => {
    if (!log.add(v)) return;
    newlySeen.push(violationKey(v.property, v.finding));
    if (stopAtFirst) stopped = true;
  };

  /**
   * A level whose states are ranked (and have parent links) but not checked yet: a state is
   * checked when it is expanded, one round after it is found, so the level's violations (and
   * where the search stops in it) are settled then.
   */
  interface Level {
    readonly initial: boolean;
    /** Id of its first state. */
    readonly base: number;
    /** States kept, and their keys in rank order. */
    readonly kept: number;
    readonly keyP: Uint32Array;
    readonly keyA: Uint32Array;
    /** The next round's frontier: the kept states, wherever they are (released once that round has run). */
    front: LevelFront | null;
    /** Whether it was counted in `levels` (a level of no states is not, but the initial one is). */
    readonly counted: boolean;
    /** Step findings of the transitions that found it. */
    readonly steps: { c: Candidate; w: number }[];
    /** Where the search stops in it, if it is known to: the state bound's state or the first step violation. */
    readonly cutP: number;
    readonly cutA: number;
    readonly cutByStates: boolean;
    /**
     * The expansion that found it: its frontier, the action counts, how many it expanded, the
     * transitions before it. (Only one level back is read: a level's parent is released once the
     * level is the parent of the next, so that the levels of the whole search are not all held.)
     */
    parent: Level | null;
    readonly actions: Uint32Array[];
    readonly expanded: number;
    readonly transitionsBefore: number;
    readonly timedOut: boolean;
  }

  /** Ranks a round's new states (the merge of the workers' sorted keys), up to where the sequential search would stop for the state bound or the first step violation, and records their parent links. */
  const rankLevel = (dones: DoneList, parent: Level | null): Level => {
    const base = parents.size;
    const prevBase = parent ? parent.base : 0;
    let vp = Infinity;
    let va = Infinity;
    if (stopAtFirst)
      for (const d of dones)
        for (const c of d.steps)
          if (before(c.p, c.a, vp, va)) {
            vp = c.p;
            va = c.a;
          }
    const total = dones.reduce((s, d) => s + d.keyP.length, 0);
    const limit = base + total >= maxStates ? Math.max(1, maxStates - base) : Infinity;
    // in shared memory: every worker reads the frontier as it is, none gets a copy
    const n = Math.min(total, limit);
    const who = new Uint8Array(new SharedArrayBuffer(n));
    const idx = new Uint32Array(new SharedArrayBuffer(4 * n));
    const keyP = new Uint32Array(new SharedArrayBuffer(4 * n));
    const keyA = new Uint32Array(new SharedArrayBuffer(4 * n));
    const heads = new Array<number>(N).fill(0);
    let kept = 0;
    while (kept < limit) {
      let w = -1;
      for (let i = 0; i < N; i++) {
        const h = heads[i];
        if (h < dones[i].keyP.length && (w < 0 || before(dones[i].keyP[h], dones[i].keyA[h], dones[w].keyP[heads[w]], dones[w].keyA[heads[w]]))) w = i;
      }
      if (w < 0) break;
      const p = dones[w].keyP[heads[w]];
      const a = dones[w].keyA[heads[w]];
      if (before(vp, va, p, a)) break;
      who[kept] = w;
      idx[kept] = heads[w]++;
      keyP[kept] = p;
      keyA[kept] = a;
      kept++;
      parents.add(parent ? prevBase + p : -1, a);
    }
    let cutP = Infinity;
    let cutA = Infinity;
    const cutByStates = kept === limit;
    if (cutByStates) {
      cutP = keyP[kept - 1];
      cutA = keyA[kept - 1];
    } else if (vp !== Infinity) {
      cutP = vp;
      cutA = va;
    }
    const steps: { c: Candidate; w: number }[] = [];
    dones.forEach((d, w) => {
      for (const c of d.steps) if (!before(cutP, cutA, c.p, c.a)) steps.push({ c, w });
    });
    const counted = !parent || kept > 0;
    if (counted) levels.push(kept);
    const transitionsBefore = transitions;
    transitions += dones.reduce((s, d) => s + d.transitions, 0);
    return {
      initial: !parent,
      base,
      kept,
      keyP: keyP.subarray(0, kept),
      keyA: keyA.subarray(0, kept),
      front: { fronts: dones.map((d) => d.front), who: who.subarray(0, kept), idx: idx.subarray(0, kept), keyP: keyP.subarray(0, kept), keyA: keyA.subarray(0, kept) },
      counted,
      steps,
      cutP,
      cutA,
      cutByStates,
      parent,
      actions: dones.map((d) => d.actions),
      expanded: dones.reduce((s, d) => s + d.expanded, 0),
      transitionsBefore,
      timedOut: dones.some((d) => d.timedOut),
    };
  };

  /**
   * Settles a level once its states are checked (`dones` of the round that checked them, or null
   * for a level of no states): records its violations and examples in the order the sequential
   * search finds them, and, where that search stops in the level, cuts it there.
   */
  const settleLevel = (level: Level, dones: DoneList | null): void => {
    const found: { c: Candidate; w: number; kind: 'step' | 'state' }[] = level.steps.map((x) => ({ ...x, kind: 'step' as const }));
    if (dones) dones.forEach((d, w) => d.states.forEach((c) => found.push({ c, w, kind: 'state' })));
    let cutP = level.cutP;
    let cutA = level.cutA;
    let cutByStates = level.cutByStates;
    if (stopAtFirst)
      for (const { c } of found)
        if (before(c.p, c.a, cutP, cutA)) {
          cutP = c.p;
          cutA = c.a;
          cutByStates = false;
        }
    const within = (p: number, a: number) => !before(cutP, cutA, p, a);
    const idOf = (rank: number) => level.base + rank;
    // violations: by key, steps before states, then in property order
    found.sort((x, y) => x.c.p - y.c.p || x.c.a - y.c.a || (x.kind === y.kind ? 0 : x.kind === 'step' ? -1 : 1) || x.c.prop - y.c.prop);
    for (const { c, w, kind } of found)
      if (within(c.p, c.a))
        record({
          property: propertyInfo[c.prop].name,
          kind,
          finding: c.finding,
          path: kind === 'step' ? parents.path(level.parent!.base + c.p, c.a) : parents.path(idOf(c.index!)),
        });
    // reachable properties: the first state of the level that satisfies each
    const firstReach = new Map<number, { r: ReachCandidate; w: number }>();
    for (const [w, d] of (dones ?? []).entries())
      for (const r of d.reach) {
        if (!within(r.p, r.a) || !pendingReach.has(propertyInfo[r.prop].name)) continue;
        const cur = firstReach.get(r.prop);
        if (!cur || before(r.p, r.a, cur.r.p, cur.r.a)) firstReach.set(r.prop, { r, w });
      }
    for (const { r, w } of [...firstReach.values()].sort((x, y) => x.r.p - y.r.p || x.r.a - y.r.a || x.r.prop - y.r.prop)) {
      const name = propertyInfo[r.prop].name;
      pendingReach.delete(name);
      newlyReached.push(name);
      examples.push({ property: name, path: parents.path(idOf(r.index)) });
    }
    if (cutP !== Infinity) {
      // the sequential search stops at the transition cutP/cutA: keep the states it found up to there
      let kept = 0;
      while (kept < level.kept && !before(cutP, cutA, level.keyP[kept], level.keyA[kept])) kept++;
      parents.truncate(level.base + kept);
      if (level.counted) {
        if (kept > 0 || level.initial) levels[levels.length - 1] = kept;
        else levels.pop();
      }
      if (level.parent && !level.timedOut) {
        let t = cutA + 1;
        // each rank was expanded by one worker, which counted its actions
        for (const counts of level.actions) for (let r = 0; r < Math.min(cutP, counts.length); r++) t += counts[r];
        transitions = level.transitionsBefore + t;
      }
      stopped = true;
      if (cutByStates) cutBy = 'states';
      queued = level.parent ? level.parent.kept - (cutP + 1) + kept : kept;
    }
    if (level.timedOut) {
      stopped = true;
      cutBy ??= options.interrupt && Atomics.load(options.interrupt, 0) !== 0 ? 'interrupt' : 'time';
      if (cutP === Infinity) queued = level.parent!.kept - level.expanded + level.kept;
    }
  };

  try {
    propertyInfo = gather('ready')[0].properties;
    start = lastProgress = Date.now();
    pendingReach = new Set(propertyInfo.filter((p) => p.kind === 'reachable').map((p) => p.name));
    for (let i = 0; i < N; i++) post(i, { type: 'init' });
    const initDones = gather('done');
    if (Atomics.load(visited.head, HEAD_OVERFLOW) !== 0) throw new Error(`parallel search: the initial states fill the visited set of ${visited.cap} slots`);
    let level = rankLevel(initDones, null);
    for (;;) {
      const depth = levels.length - 1;
      const expand = level.cutP === Infinity && !level.timedOut && level.kept > 0 && depth < maxDepth;
      let dones: DoneList | null = null;
      if (level.kept > 0) {
        const held = visited.count;
        // room for the level to come beyond the states held, guessed from this level's growth over
        // the last (levels grow fast early on)
        const growth = level.parent ? level.kept / Math.max(1, level.parent.kept) : 8;
        const ahead = expand ? Math.ceil(level.kept * Math.max(2, 1.5 * growth)) : 0;
        let grown = ensure(held + ahead, held, 0, ahead);
        let again = false;
        for (;;) {
          stop[STOP_STEP] = STOP_NONE;
          stop[STOP_STATE] = STOP_NONE;
          progress.fill(0);
          frontSize = expand ? level.kept : 0;
          frontExpands = expand;
          visited.head[HEAD_CLAIM] = 0;
          visited.head[HEAD_BASE] = visited.count;
          for (let i = 0; i < N; i++) post(i, { type: 'round', front: level.front!, size: level.kept, expand, seen: newlySeen, reached: newlyReached, ...grown, again });
          newlySeen = [];
          newlyReached = [];
          dones = gather('done');
          const overflow = Atomics.load(visited.head, HEAD_OVERFLOW);
          if (overflow === 0) break;
          // the level filled the table past its limit, or the room for its keys: again, with twice as much, without the round's states
          visited.head[HEAD_OVERFLOW] = 0;
          grown = ensure(held, held, overflow & OVERFLOW_TABLE ? 2 * visited.cap : 0, overflow & OVERFLOW_KEYS ? 2 * room : 0);
          again = true;
          roundsRunAgain++;
        }
        visitedBytes = visited.bytes + table.firstKeys.reduce((n, f) => n + f.byteLength, 0);
      }
      settleLevel(level, dones);
      if (stopped) break;
      if (!expand) {
        if (level.kept > 0 && depth >= maxDepth) {
          cutBy = 'depth';
          queued = level.kept;
        }
        break;
      }
      const next = rankLevel(dones!, level);
      level.parent = null;
      level.front = null;
      level = next;
    }
    for (let i = 0; i < N; i++) post(i, { type: 'stop' });
  } finally {
    for (const c of controls) c.close();
    report.close();
    void supervisor.terminate();
  }

  peakMemory = Math.max(peakMemory, process.memoryUsage.rss());
  const seconds = (Date.now() - start) / 1000;
  const distinct = parents.size;
  const stats: Stats = {
    distinctStates: distinct,
    transitions,
    depth: levels.length - 1,
    levels,
    seconds,
    statesPerSecond: distinct / Math.max(seconds, 1e-9),
    peakMemoryBytes: peakMemory,
    queued,
    collisionProbability: collisionProbability(distinct, transitions),
    visitedBytes,
    parentBytes: parents.bytes,
    parallel: { tableGrowths, roundsRunAgain },
  };
  return searchResult(stats, log.list, examples, pendingReach, cutBy, stopped);
}
