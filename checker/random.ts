/**
 * Random walks for spaces too large to exhaust, driven by fast-check: a walk is a list of
 * choices (one natural number per step, taken modulo the number of enabled actions), so a run is
 * reproducible from its seed and a failing walk shrinks to a short one.
 */
import fc from 'fast-check';
import type { Model, Path, Property, StateProperty, StepProperty, Violation } from './types.ts';

export interface RandomOptions {
  readonly seed: number;
  /** Number of walks. */
  readonly runs: number;
  /** Steps per walk at most. */
  readonly depth: number;
  readonly timeLimitSeconds?: number;
}

export type RandomResult =
  | { readonly status: 'ok'; readonly seed: number; readonly runs: number; readonly steps: number; readonly seconds: number }
  | {
      readonly status: 'violation';
      readonly seed: number;
      readonly runs: number;
      readonly steps: number;
      readonly seconds: number;
      readonly violation: Violation;
      /** fast-check's replay path (with the seed, reproduces the failing run). */
      readonly replayPath: string;
    };

interface WalkFailure {
  violation: Violation;
}

function walk<S, A, O>(model: Model<S, A, O>, props: readonly Property<S, A, O>[], choices: readonly number[], counter: { steps: number }): WalkFailure | null {
  const stateProps = props.filter((p): p is StateProperty<S> => p.kind === 'state');
  const stepProps = props.filter((p): p is StepProperty<S, A, O> => p.kind === 'step');
  const inits = model.initialStates();
  const init = choices.length ? choices[0] % inits.length : 0;
  let state = inits[init];
  const taken: number[] = [];
  const path = (): Path => ({ init, actions: [...taken] });
  for (const p of stateProps) {
    const f = p.check(state);
    if (f) return { violation: { property: p.name, kind: 'state', finding: f, path: path() } };
  }
  for (let i = 1; i < choices.length; i++) {
    const actions = model.actions(state);
    if (actions.length === 0) break;
    const ai = choices[i] % actions.length;
    const { state: next, outcome } = model.step(state, actions[ai]);
    counter.steps++;
    taken.push(ai);
    for (const p of stepProps) {
      const f = p.check(state, actions[ai], outcome, next);
      if (f) return { violation: { property: p.name, kind: 'step', finding: f, path: path() } };
    }
    state = next;
    for (const p of stateProps) {
      const f = p.check(state);
      if (f) return { violation: { property: p.name, kind: 'state', finding: f, path: path() } };
    }
  }
  return null;
}

export function randomWalks<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], options: RandomOptions): RandomResult {
  const start = Date.now();
  const counter = { steps: 0 };
  const deadline = options.timeLimitSeconds !== undefined ? start + options.timeLimitSeconds * 1000 : Infinity;
  const arb = fc.array(fc.nat({ max: 0x7fffffff }), { minLength: 1, maxLength: options.depth + 1 });
  let last: WalkFailure | null = null;
  const details = fc.check(
    fc.property(arb, (choices) => {
      if (Date.now() > deadline) return true;
      const failure = walk(model, properties, choices, counter);
      if (failure) last = failure;
      return failure === null;
    }),
    { seed: options.seed, numRuns: options.runs },
  );
  const seconds = (Date.now() - start) / 1000;
  if (!details.failed || !details.counterexample) return { status: 'ok', seed: options.seed, runs: details.numRuns, steps: counter.steps, seconds };
  const failure = walk(model, properties, details.counterexample[0], { steps: 0 }) ?? last;
  if (!failure) return { status: 'ok', seed: options.seed, runs: details.numRuns, steps: counter.steps, seconds };
  return {
    status: 'violation',
    seed: options.seed,
    runs: details.numRuns,
    steps: counter.steps,
    seconds,
    violation: failure.violation,
    replayPath: details.counterexamplePath ?? '',
  };
}
