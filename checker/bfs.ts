/**
 * Exhaustive breadth-first search. Levels are explored in order, so the first violation found of
 * any property is one with a shortest trace. Mechanism is split: the visited set (fingerprints),
 * the parent links (for traces), and the level frontier are separate pieces.
 */
import { collisionProbability, fingerprint } from './fingerprint.ts';
import { FingerprintSet } from './fpset.ts';
import { ParentLinks } from './parents.ts';
import type {
  Bound,
  CheckOptions,
  CheckResult,
  Example,
  Model,
  Property,
  ReachableProperty,
  StateProperty,
  Stats,
  StepProperty,
  Violation,
} from './types.ts';

/** One level of the frontier: state ids and states (or their encodings when the model can decode). */
class Level<S> {
  readonly ids: number[] = [];
  readonly items: (S | Uint8Array)[] = [];
  push(id: number, item: S | Uint8Array): void {
    this.ids.push(id);
    this.items.push(item);
  }
  get length(): number {
    return this.ids.length;
  }
}

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

  const visited = new FingerprintSet();
  const parents = new ParentLinks();
  const fp = new Uint32Array(2);
  const violations: Violation[] = [];
  const seen = new Set<string>();
  const examples: Example[] = [];
  const pendingReach = new Set(reachProps.map((p) => p.name));
  const levels: number[] = [];
  let transitions = 0;
  let cutBy: Bound | null = null;
  let peakMemory = process.memoryUsage.rss();
  const start = Date.now();
  let lastProgress = start;

  const record = (v: Violation): boolean => {
    const k = `${v.property}\u0000${v.finding.key ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    violations.push(v);
    return stopAtFirst;
  };

  /** Checks a newly found state; returns true when the search must stop. */
  const onNewState = (state: S, id: number): boolean => {
    let stop = false;
    for (const p of stateProps) {
      const f = p.check(state);
      if (f && record({ property: p.name, kind: 'state', finding: f, path: parents.path(id) })) stop = true;
    }
    if (pendingReach.size)
      for (const p of reachProps)
        if (pendingReach.has(p.name) && p.holds(state)) {
          pendingReach.delete(p.name);
          examples.push({ property: p.name, path: parents.path(id) });
        }
    return stop;
  };

  let current = new Level<S>();
  let stopped = false;
  const inits = model.initialStates();
  for (let i = 0; i < inits.length && !stopped; i++) {
    const bytes = model.encode(inits[i]);
    fingerprint(bytes, fp);
    if (!visited.add(fp[0], fp[1])) continue;
    const id = parents.add(-1, i);
    current.push(id, keepBytes ? bytes : inits[i]);
    if (onNewState(inits[i], id)) stopped = true;
    if (visited.size >= maxStates) {
      cutBy = 'states';
      stopped = true;
    }
  }
  levels.push(current.length);

  let depth = 0;
  let expanded = 0;
  let queued = current.length;
  while (!stopped && current.length > 0) {
    if (depth >= maxDepth) {
      cutBy = 'depth';
      break;
    }
    const next = new Level<S>();
    let k = 0;
    for (; k < current.length && !stopped; k++) {
      const id = current.ids[k];
      const item = current.items[k];
      const state = keepBytes ? model.decode!(item as Uint8Array) : (item as S);
      const actions = model.actions(state);
      for (let ai = 0; ai < actions.length; ai++) {
        const action = actions[ai];
        const { state: succ, outcome } = model.step(state, action);
        transitions++;
        for (const p of stepProps) {
          const f = p.check(state, action, outcome, succ);
          if (f && record({ property: p.name, kind: 'step', finding: f, path: parents.path(id, ai) })) stopped = true;
        }
        if (succ !== state) {
          const bytes = model.encode(succ);
          fingerprint(bytes, fp);
          if (visited.add(fp[0], fp[1])) {
            const nid = parents.add(id, ai);
            next.push(nid, keepBytes ? bytes : succ);
            if (onNewState(succ, nid)) stopped = true;
            if (visited.size >= maxStates) {
              cutBy = 'states';
              stopped = true;
            }
          }
        }
        if (stopped) break;
      }
      // release what is expanded, so a long level does not hold all its states twice
      current.items[k] = undefined as unknown as S;
      if ((++expanded & 255) === 0) {
        const now = Date.now();
        if (now >= deadline) {
          cutBy = 'time';
          stopped = true;
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
      levels.push(next.length);
    }
    queued = current.length - k + next.length;
    current = next;
    if (stopped) break;
    queued = current.length;
  }
  if (!stopped && cutBy === null) queued = 0;

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
    collisionProbability: collisionProbability(visited.size, transitions),
  };
  const exhausted = cutBy === null && !stopped;
  const base = { stats, exhausted, cutBy, examples, unreached: [...pendingReach] };
  return violations.length ? { ...base, status: 'violation', violations } : { ...base, status: 'ok' };
}
