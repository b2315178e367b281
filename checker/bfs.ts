/**
 * Exhaustive breadth-first search. Levels are explored in order, so the first violation found of
 * any property is one with a shortest trace. Mechanism is split: the expansion of a state
 * (expand.ts, shared with every other search), the visited set (fingerprints, exact or
 * bitstate), the parent links (for traces), the level frontier (encodings when the model can
 * decode), checkpoints, and the reductions (symmetry: the model's canonical form; partial-order:
 * sleep sets).
 */
import { collisionProbability, fingerprint } from './fingerprint.ts';
import { ParentLinks } from './parents.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { Level, type Spill, type SpillStats } from './frontier.ts';
import { Expander, type Sink } from './expand.ts';
import { PropertySet, searchResult, ViolationLog } from './properties.ts';
import { BitstateSet, FingerprintSet, type VisitedSet } from './visited.ts';
import { FingerprintMap } from './fpset.ts';
import { SleepSetReduction, type SleepContext } from './sleep.ts';
import { ExploredGraph, stuckMessage } from './recover.ts';
import { replayPath } from './replay.ts';
import type { Bound, CheckOptions, CheckResult, Example, Finding, Model, Property, RecoverabilityVerdict, Stats, Violation } from './types.ts';

export function check<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], options: CheckOptions = {}): CheckResult {
  const props = new PropertySet(properties, { name: 'the breadth-first search', recoverable: true });
  const stopAtFirst = options.stopAtFirstViolation ?? true;
  const maxDepth = options.maxDepth ?? Infinity;
  const maxStates = options.maxStates ?? Infinity;
  const deadline = options.timeLimitSeconds !== undefined ? Date.now() + options.timeLimitSeconds * 1000 : Infinity;
  const progressEvery = options.progressIntervalMs ?? 2000;
  const interrupt = options.interrupt ?? null;
  const keepBytes = typeof model.decode === 'function';
  if ((options.checkpoint || options.resume) && !keepBytes) throw new Error('checkpoints need a model that can decode its encodings');
  if (options.por && (options.symmetry || options.bitstateBytes !== undefined || options.checkpoint || options.resume))
    throw new Error('partial-order reduction cannot be combined with symmetry, bitstate or checkpoints');
  // recoverable properties: the explored graph, with each successor's id (a map from fingerprints to ids)
  const graph = props.recover.length ? new ExploredGraph<S>(props.recover) : null;
  if (graph && (options.por || options.symmetry || options.bitstateBytes !== undefined || options.checkpoint || options.resume))
    throw new Error('recoverable properties cannot be combined with partial-order reduction, symmetry, bitstate or checkpoints');
  const expander = new Expander(model, props, { symmetry: options.symmetry, footprints: options.por });
  const por = options.por ? new SleepSetReduction() : null;
  const fpmap = por || graph ? new FingerprintMap() : null;
  /** The highest state id expanded so far: ids are given in expansion order, level by level. */
  let maxExpanded = -1;

  const bitstate = options.bitstateBytes !== undefined ? new BitstateSet(options.bitstateBytes) : null;
  let visited: VisitedSet = bitstate ?? fpmap ?? new FingerprintSet();
  let parents = new ParentLinks();
  const fp = new Uint32Array(2);
  let log = new ViolationLog();
  let examples: Example[] = [];
  const pendingReach = new Set(props.reach.map((p) => p.name));
  let levels: number[] = [];
  let transitions = 0;
  let cutBy: Bound | null = null;
  let peakMemory = process.memoryUsage.rss();
  let start = Date.now();
  let lastProgress = start;
  let lastCheckpoint = start;
  let stopped = false;

  /** Records a violation of the state `id`, or of the transition `action` from it; true when the search must stop. */
  const record = (property: string, kind: Violation['kind'], finding: Finding, id: number, action?: number): boolean =>
    log.record(property, kind, finding, () => parents.path(id, action)) && stopAtFirst;

  /** Checks a newly found state; returns true when the search must stop. */
  let judgedId = 0;
  let judgedStop = false;
  const onStateFinding = (k: number, f: Finding) => {
    if (record(props.state[k].name, 'state', f, judgedId)) judgedStop = true;
  };
  const onNewState = (state: S, id: number): boolean => {
    judgedId = id;
    judgedStop = false;
    props.judgeState(state, onStateFinding);
    graph?.found(id, state);
    if (pendingReach.size)
      for (const p of props.reach)
        if (pendingReach.has(p.name) && p.holds(state)) {
          pendingReach.delete(p.name);
          examples.push({ property: p.name, path: parents.path(id) });
        }
    return judgedStop;
  };

  const spill: Spill | null = options.frontierSpill && keepBytes ? options.frontierSpill : null;
  const spillStats: SpillStats = { chunks: 0, bytes: 0 };
  const newLevel = () => new Level<S>(keepBytes, spill, spillStats);
  let current = newLevel();
  let depth = 0;

  /** Resuming inside a level: the next level's states found before the checkpoint. */
  let resumedNext: Level<S> | null = null;
  if (options.resume) {
    const cp = loadCheckpoint(options.resume.dir, options.resume.identity);
    visited = cp.visited;
    parents = cp.parents;
    current.pushPacked(cp.frontier);
    if (cp.next) {
      resumedNext = newLevel();
      resumedNext.pushPacked(cp.next);
    }
    depth = cp.depth;
    levels = cp.levels;
    transitions = cp.transitions;
    log = new ViolationLog(cp.violations);
    examples = cp.examples;
    for (const e of examples) pendingReach.delete(e.property);
    start = Date.now() - cp.seconds * 1000;
  } else {
    const inits = model.initialStates();
    for (let i = 0; i < inits.length && !stopped; i++) {
      const bytes = expander.keyOf(inits[i]);
      fingerprint(bytes, fp);
      if (fpmap ? fpmap.put(fp[0], fp[1], parents.size) >= 0 : !visited.add(fp[0], fp[1])) continue;
      const id = parents.add(-1, i);
      por?.onNew(id, 0);
      const state = expander.stateOf(bytes, inits[i]);
      current.push(id, keepBytes ? bytes : state);
      if (onNewState(state, id)) stopped = true;
      if (visited.size >= maxStates) {
        cutBy = 'states';
        stopped = true;
      }
    }
    levels.push(current.length);
  }

  /** New states of the level being built, the level, and the state being expanded. */
  let fresh = 0;
  let next: Level<S> = current;
  let expandingId = 0;

  /** A new state: its parent link, the next level, its properties, the state bound. */
  const found = (nid: number): void => {
    fresh++;
    next.push(nid, keepBytes ? expander.successorKey() : expander.successorState());
    if (onNewState(expander.successorState(), nid)) stopped = true;
    if (visited.size >= maxStates) {
      cutBy = 'states';
      stopped = true;
    }
  };

  const sink: Sink = {
    stepFinding(ai, k, f) {
      if (record(props.step[k].name, 'step', f, expandingId, ai)) stopped = true;
      return stopped;
    },
    successor(ai, hi, lo) {
      if (visited.add(hi >>> 0, lo >>> 0)) found(parents.add(expandingId, ai));
      return stopped;
    },
  };
  /** With recoverable properties: the same, and every successor an edge of the explored graph. */
  const graphSink: Sink = {
    stepFinding: sink.stepFinding,
    successor(ai, hi, lo) {
      const old = fpmap!.put(hi >>> 0, lo >>> 0, parents.size);
      if (old < 0) {
        const nid = parents.add(expandingId, ai);
        graph!.edge(nid);
        found(nid);
      } else graph!.edge(old);
      return stopped;
    },
  };

  /** Partial-order reduction: the sleep context of the expansion, states to expand again for the actions that woke up. */
  let ctx: SleepContext | null = null;
  /** The id of the action being taken (looked up once, by take, for explored). */
  let aid = 0;
  const again: { id: number; state: S; ctx: SleepContext }[] = [];
  const porSink: Sink = {
    stepFinding: sink.stepFinding,
    take: (ai) => por!.take(ctx!, (aid = model.actionId!(expander.action(ai)))),
    successor(ai, hi, lo) {
      const sleep = por!.successorSleep(ctx!, expander.footprint!);
      const old = fpmap!.put(hi >>> 0, lo >>> 0, parents.size);
      if (old < 0) {
        const nid = parents.add(expandingId, ai);
        por!.onNew(nid, sleep);
        found(nid);
      } else {
        const woke = por!.foundAgain(old, sleep, old <= maxExpanded);
        if (woke) again.push({ id: old, state: expander.successorState(), ctx: woke });
      }
      return stopped;
    },
    explored: () => por!.explore(ctx!, aid, expander.footprint!),
  };

  /** Saves a checkpoint: the current level from its `from`-th state on, and the next level so far (inside a level). */
  const saveAt = (level: Level<S>, from: number, nextLevel: Level<S> | null): void => {
    saveCheckpoint(options.checkpoint!.dir, options.checkpoint!.identity, {
      visited,
      parents,
      frontier: level.pack(from),
      ...(nextLevel ? { next: nextLevel.pack() } : {}),
      depth,
      levels,
      transitions,
      violations: log.list,
      examples,
      seconds: (Date.now() - start) / 1000,
    });
  };

  let expanded = 0;
  let queued = current.length;
  while (!stopped && current.length > 0) {
    if (depth >= maxDepth) {
      cutBy = 'depth';
      break;
    }
    if (options.checkpoint && Date.now() - lastCheckpoint >= options.checkpoint.everySeconds * 1000) {
      saveAt(current, 0, null);
      lastCheckpoint = Date.now();
    }
    next = resumedNext ?? newLevel();
    fresh = next.length;
    resumedNext = null;
    let k = 0;
    for (; k < current.length && !stopped; k++) {
      const id = current.id(k);
      const item = current.item(k);
      const state = keepBytes ? model.decode!(item as Uint8Array) : (item as S);
      expandingId = id;
      if (por) {
        if (id > maxExpanded) maxExpanded = id;
        ctx = por.begin(id);
        transitions += expander.expand(state, porSink);
        while (again.length && !stopped) {
          const x = again.pop()!;
          expandingId = x.id;
          ctx = x.ctx;
          transitions += expander.expand(x.state, porSink);
        }
      } else if (graph) {
        graph.begin(id);
        transitions += expander.expand(state, graphSink);
        graph.end(!stopped);
      } else transitions += expander.expand(state, sink);
      // release what is expanded, so a long level does not hold all its states twice
      current.release(k);
      if ((++expanded & 255) === 0) {
        const now = Date.now();
        if (now >= deadline) {
          cutBy = 'time';
          stopped = true;
        } else if (interrupt && Atomics.load(interrupt, 0) !== 0) {
          cutBy = 'interrupt';
          stopped = true;
        }
        if (options.checkpoint && !stopped && k + 1 < current.length && now - lastCheckpoint >= options.checkpoint.everySeconds * 1000) {
          saveAt(current, k + 1, next);
          lastCheckpoint = Date.now();
        }
        if (now - lastProgress >= progressEvery) {
          lastProgress = now;
          peakMemory = Math.max(peakMemory, process.memoryUsage.rss());
          const seconds = (now - start) / 1000;
          options.onProgress?.({
            depth: depth + 1,
            distinctStates: visited.size,
            transitions,
            queued: current.length - k - 1 + next.length,
            seconds,
            statesPerSecond: visited.size / Math.max(seconds, 1e-9),
            violations: log.list.length,
          });
        }
      }
    }
    // cut by time or interrupted inside the level: a last checkpoint, from where it stopped
    if (options.checkpoint && (cutBy === 'time' || cutBy === 'interrupt')) saveAt(current, k, next);
    if (next.length > 0) {
      depth++;
      levels.push(fresh);
    }
    queued = current.length - k + next.length;
    current.dispose();
    current = next;
    if (stopped) break;
    queued = current.length;
  }
  if (!stopped && cutBy === null) queued = 0;
  current.dispose();

  // recoverable properties, decided on the explored graph (stuck states first found first: shortest paths)
  let recoverability: RecoverabilityVerdict[] | undefined;
  let analysisSeconds = 0;
  if (graph) {
    const t0 = Date.now();
    const { verdicts, stuck } = graph.analyse();
    recoverability = verdicts;
    const wanted = stopAtFirst ? (log.list.length ? [] : stuck.slice(0, 1)) : stuck;
    for (const x of wanted) {
      const p = props.recover[x.property];
      const key = p.keys[x.key];
      const path = parents.path(x.id);
      const w = graph.witness(key, x.id, movesOf(replayPath(model, path).final));
      log.record(p.name, 'recoverable', { message: stuckMessage(w), key }, () => path, () => w);
    }
    analysisSeconds = (Date.now() - t0) / 1000;
  }

  peakMemory = Math.max(peakMemory, process.memoryUsage.rss());
  const seconds = (Date.now() - start) / 1000;
  const stats: Stats = {
    distinctStates: visited.size,
    transitions,
    depth,
    levels,
    seconds,
    statesPerSecond: visited.size / Math.max(seconds, 1e-9),
    peakMemoryBytes: peakMemory,
    queued,
    collisionProbability: bitstate ? 0 : collisionProbability(visited.size, transitions),
    visitedBytes: visited.bytes,
    parentBytes: parents.bytes,
    ...(por ? { por: { skipped: por.skipped, reexpanded: por.reexpanded, sleepSets: por.sets.count, bytes: por.bytes } } : {}),
    ...(spill ? { spilled: { ...spillStats } } : {}),
    ...(bitstate ? { bitstate: { bits: bitstate.bytes * 8, hashFactor: bitstate.hashFactor, expectedCoverage: bitstate.expectedCoverage } } : {}),
    ...(graph ? { graph: { expanded: graph.expanded, edges: graph.edges, bytes: graph.bytes, analysisSeconds } } : {}),
  };
  return searchResult(stats, log.list, examples, pendingReach, cutBy, stopped, recoverability);

  /** Where each action of a (stuck, expanded) state leads, by the same expansion step: a state id, or null when unchanged. */
  function movesOf(state: S): (number | null)[] {
    const moves: (number | null)[] = [];
    const at: Sink = {
      stepFinding: () => false,
      successor(ai, hi, lo) {
        moves[ai] = fpmap!.get(hi >>> 0, lo >>> 0);
        return false;
      },
    };
    const n = expander.expand(state, at);
    for (let ai = 0; ai < n; ai++) moves[ai] ??= null;
    return moves;
  }
}
