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
import { PropertySet } from './properties.ts';
import type { Finding, Model, Property, Violation } from './types.ts';

export interface RandomOptions {
  readonly seed: number;
  /** Number of walks. */
  readonly runs: number;
  /** Steps per walk at most. */
  readonly depth: number;
  readonly timeLimitSeconds?: number;
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

/** One walk: the first violation on it, and the steps it took. */
function walk<S, A, O>(w: Walker<S, A, O>, choices: readonly number[]): { violation: Violation | null; steps: number } {
  const { model, props, expander } = w;
  const inits = model.initialStates();
  const init = choices.length ? choices[0] % inits.length : 0;
  let state = inits[init];
  const taken: number[] = [];
  let failure: { property: string; kind: 'state' | 'step'; finding: Finding } | null = null;
  const found = (): Violation => ({ ...failure!, path: { init, actions: [...taken] } });
  props.judgeState(state, (k, finding) => (failure ??= { property: props.state[k].name, kind: 'state', finding }));
  if (failure) return { violation: found(), steps: 0 };
  let changed = false;
  const sink: Sink = {
    stepFinding(_ai, k, finding) {
      failure ??= { property: props.step[k].name, kind: 'step', finding };
      return true;
    },
    successor() {
      changed = true;
      return false;
    },
  };
  for (let i = 1; i < choices.length; i++) {
    const n = model.actions(state).length;
    if (n === 0) break;
    const ai = choices[i] % n;
    changed = false;
    expander.stepOne(state, ai, sink);
    taken.push(ai);
    if (failure) return { violation: found(), steps: taken.length };
    if (!changed) continue;
    state = expander.successorState();
    props.judgeState(state, (k, finding) => (failure ??= { property: props.state[k].name, kind: 'state', finding }));
    if (failure) return { violation: found(), steps: taken.length };
  }
  return { violation: null, steps: taken.length };
}

export function randomWalks<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], options: RandomOptions): RandomResult {
  const start = Date.now();
  if (!Number.isInteger(options.depth) || options.depth < 0) throw new Error(`the walk length must be a non-negative integer (got ${options.depth})`);
  const props = new PropertySet(properties);
  const w: Walker<S, A, O> = { model, props, expander: new Expander(model, props) };
  let steps = 0;
  let longestWalk = 0;
  let last: Violation | null = null;
  // every walk has its full length: a shorter one would only repeat a prefix of a longer one
  const length = options.depth + 1;
  const arb = fc.array(fc.nat({ max: 0x7fffffff }), { minLength: length, maxLength: length });
  const details = fc.check(
    fc.property(arb, (choices) => {
      const r = walk(w, choices);
      steps += r.steps;
      longestWalk = Math.max(longestWalk, r.steps);
      if (r.violation) last = r.violation;
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
  const run = (keys: readonly string[]): { violation: Violation; keys: string[] } | null => {
    let state = model.initialStates()[v.path.init];
    const taken: number[] = [];
    const used: string[] = [];
    let hit: Violation | null = null;
    const props = w.props;
    const check = (s: S) =>
      props.judgeState(s, (k, finding) => {
        if (!hit && props.state[k].name === v.property) hit = { property: v.property, kind: 'state', finding, path: { init: v.path.init, actions: [...taken] } };
      });
    check(state);
    let changed = false;
    const sink: Sink = {
      stepFinding(_ai, k, finding) {
        if (!hit && props.step[k].name === v.property) hit = { property: v.property, kind: 'step', finding, path: { init: v.path.init, actions: [...taken] } };
        return false;
      },
      successor() {
        changed = true;
        return false;
      },
    };
    for (const k of keys) {
      if (hit) break;
      const ai = model.actions(state).findIndex((a) => key(a) === k);
      if (ai < 0) continue;
      taken.push(ai);
      used.push(k);
      changed = false;
      w.expander.stepOne(state, ai, sink);
      if (hit) break;
      if (changed) state = w.expander.successorState();
      check(state);
    }
    return hit ? { violation: hit, keys: used } : null;
  };
  // the failing walk's actions, by key
  let state = model.initialStates()[v.path.init];
  let keys: string[] = [];
  for (const ai of v.path.actions) {
    const a = model.actions(state)[ai];
    keys.push(key(a));
    state = model.step(state, a).state;
  }
  let best = run(keys);
  if (!best) return v;
  keys = best.keys;
  for (let i = 0; i < keys.length; ) {
    const tried = run([...keys.slice(0, i), ...keys.slice(i + 1)]);
    if (tried && tried.keys.length < keys.length) {
      best = tried;
      keys = tried.keys;
    } else i++;
  }
  return best.violation;
}
