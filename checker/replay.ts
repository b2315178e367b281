/**
 * Traces are stored as paths (action indices) and rebuilt by running the model forward.
 * Replay diverges only if the model breaks its determinism contract; the error says so.
 */
import type { Model, Path } from './types.ts';

export interface ReplayedStep<S, A, O> {
  readonly index: number;
  readonly actionIndex: number;
  readonly action: A;
  readonly outcome: O;
  readonly before: S;
  readonly after: S;
}

export interface Replayed<S, A, O> {
  readonly initial: S;
  readonly steps: readonly ReplayedStep<S, A, O>[];
  readonly final: S;
}

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
}

export function replayPath<S, A, O>(model: Model<S, A, O>, path: Path): Replayed<S, A, O> {
  const inits = model.initialStates();
  if (path.init < 0 || path.init >= inits.length)
    throw new ReplayError(`the trace starts from initial state ${path.init}, but the model has ${inits.length}`);
  const initial = inits[path.init];
  let state = initial;
  const steps: ReplayedStep<S, A, O>[] = [];
  path.actions.forEach((ai, index) => {
    const actions = model.actions(state);
    if (ai < 0 || ai >= actions.length)
      throw new ReplayError(
        `step ${index + 1}: action ${ai} does not exist (${actions.length} enabled); the model is not deterministic, or the trace was made with other bounds or another variant`,
      );
    const action = actions[ai];
    const { state: after, outcome } = model.step(state, action);
    steps.push({ index, actionIndex: ai, action, outcome, before: state, after });
    state = after;
  });
  return { initial, steps, final: state };
}

/** Finds the index of an action among the enabled ones by comparing a stable key. */
export function findAction<S, A>(model: Model<S, A, unknown>, state: S, key: (a: A) => string, wanted: string): number {
  const actions = model.actions(state);
  for (let i = 0; i < actions.length; i++) if (key(actions[i]) === wanted) return i;
  return -1;
}
