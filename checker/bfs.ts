/**
 * Exhaustive breadth-first search. Levels are explored in order, so the first violation found of
 * any property is one with a shortest trace. Mechanism is split: the visited set (fingerprints,
 * exact or bitstate), the parent links (for traces), the level frontier (encodings when the model
 * can decode), checkpoints, and symmetry (the model's canonical form, when it has one).
 */
import { collisionProbability, editedFingerprint, fingerprint } from './fingerprint.ts';
import { ParentLinks } from './parents.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { Level, type Spill, type SpillStats } from './frontier.ts';
import { applyDelta, StepGate } from './delta.ts';
import { BitstateSet, FingerprintSet, type VisitedSet } from './visited.ts';
import { FingerprintMap } from './fpset.ts';
import { SleepSetReduction, type SleepContext } from './sleep.ts';
import type {
  Bound,
  CheckOptions,
  CheckResult,
  Example,
  Finding,
  Model,
  Property,
  ReachableProperty,
  StateProperty,
  Stats,
  StepDelta,
  StepProperty,
  Violation,
} from './types.ts';

export function check<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], options: CheckOptions = {}): CheckResult {
  const stateProps = properties.filter((p): p is StateProperty<S> => p.kind === 'state');
  const stepProps = properties.filter((p): p is StepProperty<S, A, O> => p.kind === 'step');
  const reachProps = properties.filter((p): p is ReachableProperty<S> => p.kind === 'reachable');
  const stopAtFirst = options.stopAtFirstViolation ?? true;
  const maxDepth = options.maxDepth ?? Infinity;
  const maxStates = options.maxStates ?? Infinity;
  const deadline = options.timeLimitSeconds !== undefined ? Date.now() + options.timeLimitSeconds * 1000 : Infinity;
  const progressEvery = options.progressIntervalMs ?? 2000;
  const keepBytes = typeof model.decode === 'function';
  const canon = options.symmetry && model.canonicalize ? model.canonicalize.bind(model) : null;
  if (options.symmetry && !model.canonicalize) throw new Error('symmetry reduction needs a model with a canonical form (canonicalize)');
  if ((options.checkpoint || options.resume) && !keepBytes) throw new Error('checkpoints need a model that can decode its encodings');
  if (options.por) {
    if (!model.stepWithFootprint || !model.actionId) throw new Error('partial-order reduction needs a model that reports footprints (stepWithFootprint, actionId)');
    if (options.symmetry || options.bitstateBytes !== undefined || options.checkpoint || options.resume)
      throw new Error('partial-order reduction cannot be combined with symmetry, bitstate or checkpoints');
  }
  const por = options.por ? new SleepSetReduction() : null;
  const fpmap = por ? new FingerprintMap() : null;
  /** The highest state id expanded so far: ids are given in expansion order, level by level. */
  let maxExpanded = -1;

  const bitstate = options.bitstateBytes !== undefined ? new BitstateSet(options.bitstateBytes) : null;
  let visited: VisitedSet = bitstate ?? fpmap ?? new FingerprintSet();
  let parents = new ParentLinks();
  const fp = new Uint32Array(2);
  let violations: Violation[] = [];
  const seen = new Set<string>();
  let examples: Example[] = [];
  const pendingReach = new Set(reachProps.map((p) => p.name));
  let levels: number[] = [];
  let transitions = 0;
  let cutBy: Bound | null = null;
  let peakMemory = process.memoryUsage.rss();
  let start = Date.now();
  let lastProgress = start;
  let lastCheckpoint = start;

  /**
   * Records a violation the first time its property and key are seen (its path rebuilt only
   * then: with every violation wanted, the same one is met again in many states): the state
   * `id`, or the transition `action` from it. Returns true when the search must stop.
   */
  const record = (property: string, kind: Violation['kind'], finding: Finding, id: number, action?: number): boolean => {
    const k = `${property}\u0000${finding.key ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    violations.push({ property, kind, finding, path: parents.path(id, action) });
    return stopAtFirst;
  };

  /** Checks a newly found state; returns true when the search must stop. */
  const onNewState = (state: S, id: number): boolean => {
    let stop = false;
    for (const p of stateProps) {
      const f = p.check(state);
      if (f && record(p.name, 'state', f, id)) stop = true;
    }
    if (pendingReach.size)
      for (const p of reachProps)
        if (pendingReach.has(p.name) && p.holds(state)) {
          pendingReach.delete(p.name);
          examples.push({ property: p.name, path: parents.path(id) });
        }
    return stop;
  };

  /** The key a state is stored under: its encoding, canonical under symmetry. */
  const keyOf = (s: S): Uint8Array => {
    const b = model.encode(s);
    return canon ? canon(b) : b;
  };

  const spill: Spill | null = options.frontierSpill && keepBytes ? options.frontierSpill : null;
  const spillStats: SpillStats = { chunks: 0, bytes: 0 };
  const newLevel = () => new Level<S>(keepBytes, spill, spillStats);
  let current = newLevel();
  let stopped = false;
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
    violations = cp.violations;
    for (const v of violations) seen.add(`${v.property}\u0000${v.finding.key ?? ''}`);
    examples = cp.examples;
    for (const e of examples) pendingReach.delete(e.property);
    start = Date.now() - cp.seconds * 1000;
  } else {
    const inits = model.initialStates();
    for (let i = 0; i < inits.length && !stopped; i++) {
      const bytes = keyOf(inits[i]);
      fingerprint(bytes, fp);
      if (fpmap ? fpmap.put(fp[0], fp[1], parents.size) >= 0 : !visited.add(fp[0], fp[1])) continue;
      const id = parents.add(-1, i);
      por?.onNew(id, 0);
      const state = canon ? model.decode!(bytes) : inits[i];
      current.push(id, keepBytes ? bytes : state);
      if (onNewState(state, id)) stopped = true;
      if (visited.size >= maxStates) {
        cutBy = 'states';
        stopped = true;
      }
    }
    levels.push(current.length);
  }

  /** New states of the level being built. */
  let fresh = 0;
  /** Partial-order reduction: states to expand again for the actions that woke up. */
  const again: { id: number; state: S; ctx: SleepContext }[] = [];

  /** Expands a state under sleep sets (or, on a second expansion, takes only the actions that woke up). */
  const expandReduced = (id: number, state: S, ctx: SleepContext, next: Level<S>): void => {
    const actions = model.actions(state);
    for (let ai = 0; ai < actions.length; ai++) {
      const action = actions[ai];
      const aid = model.actionId!(action);
      if (!por!.take(ctx, aid)) continue;
      const { state: succ, outcome, footprint } = model.stepWithFootprint!(state, action);
      transitions++;
      for (const p of stepProps) {
        const f = p.check(state, action, outcome, succ);
        if (f && record(p.name, 'step', f, id, ai)) stopped = true;
      }
      if (succ !== state) {
        const bytes = model.encode(succ);
        fingerprint(bytes, fp);
        const sleep = por!.successorSleep(ctx, footprint);
        const old = fpmap!.put(fp[0], fp[1], parents.size);
        if (old < 0) {
          const nid = parents.add(id, ai);
          fresh++;
          por!.onNew(nid, sleep);
          next.push(nid, keepBytes ? bytes : succ);
          if (onNewState(succ, nid)) stopped = true;
          if (visited.size >= maxStates) {
            cutBy = 'states';
            stopped = true;
          }
        } else {
          const woke = por!.foundAgain(old, sleep, old <= maxExpanded);
          if (woke) again.push({ id: old, state: succ, ctx: woke });
        }
      }
      por!.explore(ctx, aid, footprint);
      if (stopped) return;
    }
  };

  /**
   * Steps as bytes written (models with stepDelta, without symmetry): the successor's
   * fingerprint follows from the parent's and the bytes that changed, and the successor is built
   * (in a reused buffer) only when a property reads it or it is new.
   */
  const stepDelta = model.stepDelta && keepBytes && !canon ? model.stepDelta.bind(model) : null;
  const parentFp = new Uint32Array(2);
  const edited = new Int32Array(2);
  const batch = stepDelta !== null && typeof model.stepDeltas === 'function';
  const deltas: StepDelta<O>[] = [];
  /** Step properties run only where they can fail (see StepGate). */
  const gate = new StepGate(stepProps);

  const expandDelta = (id: number, state: S, next: Level<S>): void => {
    const bytes = state as unknown as Uint8Array;
    // with stepDeltas, the actions themselves are wanted only where a property reads them
    let actions: readonly A[] | null = batch ? null : model.actions(state);
    const count = batch ? model.stepDeltas!(state, deltas) : actions!.length;
    fingerprint(bytes, parentFp);
    const p0 = parentFp[0] | 0;
    const p1 = parentFp[1] | 0;
    for (let ai = 0; ai < count; ai++) {
      const d = batch ? deltas[ai] : stepDelta!(state, actions![ai]);
      transitions++;
      const changed = editedFingerprint(bytes, d.offsets, d.values, p0, p1, edited);
      const h = edited[0];
      const l = edited[1];
      let succ: Uint8Array | null = null;
      let gated = gate.gated.length ? gate.known(d, changed) : 0;
      if (gated < 0) {
        actions ??= model.actions(state);
        gated = gate.decide(d, changed, actions[ai]);
      }
      if (gated !== 0 || gate.ungated.length) {
        actions ??= model.actions(state);
        const action = actions[ai];
        if (changed) succ = applyDelta(bytes, d);
        const after = (succ ?? bytes) as unknown as S;
        for (const i of gate.selected(gated)) {
          const p = stepProps[i];
          const f = p.check(state, action, d.outcome, after);
          if (f && record(p.name, 'step', f, id, ai)) stopped = true;
        }
      }
      if (changed && visited.add(h >>> 0, l >>> 0)) {
        succ ??= applyDelta(bytes, d);
        const nid = parents.add(id, ai);
        fresh++;
        next.push(nid, succ);
        if (onNewState(succ as unknown as S, nid)) stopped = true;
        if (visited.size >= maxStates) {
          cutBy = 'states';
          stopped = true;
        }
      }
      if (stopped) break;
    }
  };

  /** Saves a checkpoint: the current level from its `from`-th state on, and the next level so far (inside a level). */
  const saveAt = (level: Level<S>, from: number, next: Level<S> | null): void => {
    saveCheckpoint(options.checkpoint!.dir, options.checkpoint!.identity, {
      visited,
      parents,
      frontier: level.pack(from),
      ...(next ? { next: next.pack() } : {}),
      depth,
      levels,
      transitions,
      violations,
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
    const next = resumedNext ?? newLevel();
    fresh = next.length;
    resumedNext = null;
    let k = 0;
    for (; k < current.length && !stopped; k++) {
      const id = current.id(k);
      const item = current.item(k);
      const state = keepBytes ? model.decode!(item as Uint8Array) : (item as S);
      if (por) {
        if (id > maxExpanded) maxExpanded = id;
        expandReduced(id, state, por.begin(id), next);
        while (again.length && !stopped) {
          const x = again.pop()!;
          expandReduced(x.id, x.state, x.ctx, next);
        }
      } else if (stepDelta) {
        expandDelta(id, state, next);
      } else {
        const actions = model.actions(state);
        for (let ai = 0; ai < actions.length; ai++) {
          const action = actions[ai];
          const { state: succ, outcome } = model.step(state, action);
          transitions++;
          for (const p of stepProps) {
            const f = p.check(state, action, outcome, succ);
            if (f && record(p.name, 'step', f, id, ai)) stopped = true;
          }
          if (succ !== state) {
            const bytes = keyOf(succ);
            fingerprint(bytes, fp);
            if (visited.add(fp[0], fp[1])) {
              const nid = parents.add(id, ai);
              fresh++;
              const rep = canon ? model.decode!(bytes) : succ;
              next.push(nid, keepBytes ? bytes : rep);
              if (onNewState(rep, nid)) stopped = true;
              if (visited.size >= maxStates) {
                cutBy = 'states';
                stopped = true;
              }
            }
          }
          if (stopped) break;
        }
      }
      // release what is expanded, so a long level does not hold all its states twice
      current.release(k);
      if ((++expanded & 255) === 0) {
        const now = Date.now();
        if (now >= deadline) {
          cutBy = 'time';
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
          });
        }
      }
    }
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
  };
  const exhausted = cutBy === null && !stopped;
  const base = { stats, exhausted, cutBy, examples, unreached: [...pendingReach] };
  return violations.length ? { ...base, status: 'violation', violations } : { ...base, status: 'ok' };
}
