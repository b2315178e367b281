/**
 * Two distinct initial states, A = {x: 0} and B = {x: 10}, listed as [A, A', B] where A' is a
 * separate object equal to A (so it must be counted once). `inc` adds one up to x = 12 (no wrap).
 * Reachable: 0,1,...,12: 13 states; A reaches B's chain at x = 10.
 * Level 0: {0, 10}; level 1: {1, 11}; level 2: {2, 12}; levels 3..9: {3}..{9}.
 * Transitions: 12 (every state but 12 has `inc`).
 */
import type { Model } from '../../checker/index.ts';

export interface XState {
  readonly x: number;
}

export function twoInitsModel(opts: { decode?: boolean } = {}): Model<XState, 'inc', null> {
  const model: Model<XState, 'inc', null> = {
    initialStates: () => [{ x: 0 }, { x: 0 }, { x: 10 }],
    actions: (s) => (s.x < 12 ? ['inc'] : []),
    step: (s) => ({ state: { x: s.x + 1 }, outcome: null }),
    encode: (s) => new Uint8Array([s.x]),
  };
  if (opts.decode ?? true) model.decode = (b) => ({ x: b[0] });
  return model;
}
