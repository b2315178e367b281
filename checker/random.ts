/**
 * Random walks for spaces too large to exhaust, driven by fast-check: a walk is a list of
 * choices (one natural number per step, taken modulo the number of enabled actions), so a run is
 * reproducible from its seed and a failing walk shrinks to a simpler one. Every walk has `depth`
 * choices: it goes on until it has taken that many steps, a violation or no enabled action stops
 * it. Steps are the expansion step every search runs (expand.ts), so a walk judges the
 * properties exactly as breadth-first search does.
 *
 * A time limit stops the runs between walks: the walks counted are the ones that ran to their
 * end, and the result says it was interrupted.
 */
import fc from 'fast-check';
import { Expander, type Sink } from './expand.ts';
import { PropertySet, violationKey } from './properties.ts';
import type { Finding, Model, Progress, Property, Violation } from './types.ts';

export interface RandomOptions {
  readonly seed: number;
  /** Number of walks. */
  readonly runs: number;
  /** Steps per walk at most. */
  readonly depth: number;
  readonly timeLimitSeconds?: number;
  /** Called between walks, at most every `progressIntervalMs` (default 2 s). */
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
}

interface RandomBase {
  readonly seed: number;
  /** Walks that ran to their end. */
  readonly runs: number;
  /** Walks asked for. */
  readonly requestedRuns: number;
  /** Steps taken over every walk (replays of shrinking included). */
  readonly steps: number;
  /** The most steps one walk took. */
  readonly longestWalk: number;
  /** The time limit stopped the runs before `requestedRuns` walks. */
  readonly interrupted: boolean;
  readonly seconds: number;
}

export type RandomResult =
  | (RandomBase & { readonly status: 'ok' })
  | (RandomBase & {
      readonly status: 'violation';
      readonly violation: Violation;
      /** fast-check's replay path (with the seed, reproduces the failing run). */
      readonly replayPath: string;
    });

interface Walker<S, A, O> {
  readonly model: Model<S, A, O>;
  readonly props: PropertySet<S, A, O>;
  readonly expander: Expander<S, A, O>;
}

/**
 * A run from initial state `init`: at each of `turns` turns, `pick` chooses an action among the
 * enabled ones (-1: none this turn; null: the run ends), until a violation of `wanted` (of any
 * property when null). Returns the violation, if any, and the turns that took an action.
 */
function run<S, A, O>(
  w: Walker<S, A, O>,
  init: number,
  turns: number,
  pick: (turn: number, actions: readonly A[]) => number | null,
  wanted: string | null,
): { violation: Violation | null; used: number[] } {
  const { model, props, expander } = w;
  let state = model.initialStates()[init];
  const taken: number[] = [];
  const used: number[] = [];
  let failure: { property: string; kind: 'state' | 'step'; finding: Finding } | null = null;
  const onState = (k: number, finding: Finding) => {
    if (!failure && (wanted === null || props.state[k].name === wanted)) failure = { property: props.state[k].name, kind: 'state', finding };
  };
  let changed = false;
  const sink: Sink = {
    stepFinding(_ai, k, finding) {
      if (!failure && (wanted === null || props.step[k].name === wanted)) failure = { property: props.step[k].name, kind: 'step', finding };
      return false;
    },
    successor() {
      changed = true;
      return false;
    },
  };
  const result = () => ({ violation: failure ? { ...failure, path: { init, actions: [...taken] } } : null, used });
  props.judgeState(state, onState);
  for (let t = 0; t < turns && !failure; t++) {
    const ai = pick(t, model.actions(state));
    if (ai === null) break;
    if (ai < 0) continue;
    changed = false;
    expander.stepOne(state, ai, sink);
    taken.push(ai);
    used.push(t);
    if (failure) break;
    if (!changed) continue;
    state = expander.successorState();
    props.judgeState(state, onState);
  }
  return result();
}

/** One walk: its first choice picks the initial state, each next one an action (modulo the enabled ones). */
function walk<S, A, O>(w: Walker<S, A, O>, choices: readonly number[]): { violation: Violation | null; steps: number } {
  const init = choices.length ? choices[0] % w.model.initialStates().length : 0;
  const r = run(w, init, choices.length - 1, (t, acts) => (acts.length ? choices[t + 1] % acts.length : null), null);
  return { violation: r.violation, steps: r.used.length };
}

export function randomWalks<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], options: RandomOptions): RandomResult {
  const start = Date.now();
  if (!Number.isInteger(options.depth) || options.depth < 0) throw new Error(`the walk length must be a non-negative integer (got ${options.depth})`);
  const props = new PropertySet(properties, { name: 'random walks' });
  const w: Walker<S, A, O> = { model, props, expander: new Expander(model, props) };
  let steps = 0;
  let longestWalk = 0;
  let last: Violation | null = null;
  // progress: the walks of the run (fast-check shrinks after the first failing one) and the distinct violations met
  let walks = 0;
  const violated = new Set<string>();
  const progressEvery = options.progressIntervalMs ?? 2000;
  let lastProgress = start;
  // every walk has its full length: a shorter one would only repeat a prefix of a longer one
  const length = options.depth + 1;
  const arb = fc.array(fc.nat({ max: 0x7fffffff }), { minLength: length, maxLength: length });
  const details = fc.check(
    fc.property(arb, (choices) => {
      const r = walk(w, choices);
      steps += r.steps;
      longestWalk = Math.max(longestWalk, r.steps);
      if (r.violation) last = r.violation;
      if (violated.size === 0) walks++;
      if (r.violation) violated.add(violationKey(r.violation.property, r.violation.finding));
      if (options.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= progressEvery) {
          lastProgress = now;
          const seconds = (now - start) / 1000;
          options.onProgress({ depth: longestWalk, distinctStates: 0, transitions: steps, queued: 0, seconds, statesPerSecond: 0, violations: violated.size, walks: { done: walks, requested: options.runs } });
        }
      }
      return r.violation === null;
    }),
    {
      seed: options.seed,
      numRuns: options.runs,
      ...(options.timeLimitSeconds !== undefined ? { interruptAfterTimeLimit: Math.max(1, Math.round(options.timeLimitSeconds * 1000)), markInterruptAsFailure: false } : {}),
    },
  );
  const base = {
    seed: options.seed,
    runs: details.numRuns,
    requestedRuns: options.runs,
    steps,
    longestWalk,
    interrupted: details.interrupted,
    seconds: (Date.now() - start) / 1000,
  };
  if (!details.failed || !details.counterexample) return { ...base, status: 'ok' };
  const failure = walk(w, details.counterexample[0]).violation ?? last;
  if (!failure) return { ...base, status: 'ok' };
  return { ...base, status: 'violation', violation: shorten(w, failure), replayPath: details.counterexamplePath ?? '' };
}

/**
 * A walk's failure with the steps it does not need taken out: each step in turn is dropped while
 * the rest, taken by the same actions (a step whose action is not enabled any more is skipped),
 * still violates the same property. Greedy, so the result is short, not always shortest (the
 * breadth-first search gives shortest traces).
 */
function shorten<S, A, O>(w: Walker<S, A, O>, v: Violation): Violation {
  const { model } = w;
  const key = (a: A) => (model.describeAction ? model.describeAction(a) : JSON.stringify(a));
  /** The actions `keys` name, in order (skipping one not enabled): the violation of v's property, and the keys it took. */
  const runKeys = (keys: readonly string[]) => {
    const r = run(w, v.path.init, keys.length, (t, acts) => acts.findIndex((a) => key(a) === keys[t]), v.property);
    return r.violation ? { violation: r.violation, keys: r.used.map((t) => keys[t]) } : null;
  };
  // the failing walk's actions, by key
  let state = model.initialStates()[v.path.init];
  let keys: string[] = [];
  for (const ai of v.path.actions) {
    const a = model.actions(state)[ai];
    keys.push(key(a));
    state = model.step(state, a).state;
  }
  let best = runKeys(keys);
  if (!best) return v;
  keys = best.keys;
  for (let i = 0; i < keys.length; ) {
    const tried = runKeys([...keys.slice(0, i), ...keys.slice(i + 1)]);
    if (tried && tried.keys.length < keys.length) {
      best = tried;
      keys = tried.keys;
    } else i++;
  }
  return best.violation;
}
