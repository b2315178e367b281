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

/**
 * Under symmetry the search expands representatives, so a path's action indices refer to
 * canonical states. This finds, step by step, an action of the concrete state that leads to the
 * same class, so that the trace is an ordinary run of the model (the last step must also show
 * the violation when `last` is given).
 */
export function concretePath<S, A, O>(
  model: Model<S, A, O>,
  path: Path,
  last?: (before: S, action: A, outcome: O, after: S) => boolean,
): Path {
  if (!model.canonicalize || !model.decode) return path;
  const canon = (s: S) => model.canonicalize!(model.encode(s));
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  let rep = model.decode(canon(model.initialStates()[path.init]));
  let cur = model.initialStates()[path.init];
  const out: number[] = [];
  path.actions.forEach((ai, idx) => {
    const target = canon(model.step(rep, model.actions(rep)[ai]).state);
    const actions = model.actions(cur);
    const isLast = idx === path.actions.length - 1;
    let chosen = -1;
    for (let j = 0; j < actions.length && chosen < 0; j++) {
      const r = model.step(cur, actions[j]);
      if (!same(canon(r.state), target)) continue;
      if (isLast && last && !last(cur, actions[j], r.outcome, r.state)) continue;
      chosen = j;
    }
    if (chosen < 0) throw new ReplayError(`step ${idx + 1}: no action of the concrete state reaches the recorded class; the model's canonical form is not a symmetry`);
    out.push(chosen);
    cur = model.step(cur, actions[chosen]).state;
    rep = model.decode!(target);
  });
  return { init: path.init, actions: out };
}
