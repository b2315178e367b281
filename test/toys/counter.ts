/**
 * A counter 0..N-1 with one action, `inc`. With wrap (default) `inc` goes from N-1 back to 0
 * (N states, N transitions, depth N-1); without wrap the last state has no action (a line:
 * N states, N-1 transitions, depth N-1).
 */
import type { Model } from '../../checker/index.ts';

export interface CounterOptions {
  readonly wrap?: boolean;
  readonly decode?: boolean;
}

export function counterModel(n: number, opts: CounterOptions = {}): Model<number, 'inc', null> {
  const wrap = opts.wrap ?? true;
  const model: Model<number, 'inc', null> = {
    initialStates: () => [0],
    actions: (s) => (wrap || s < n - 1 ? ['inc'] : []),
    step: (s) => ({ state: (s + 1) % n, outcome: null }),
    encode: (s) => new Uint8Array([s & 0xff, (s >>> 8) & 0xff, (s >>> 16) & 0xff, s >>> 24]),
    describeAction: (a) => a,
  };
  if (opts.decode ?? true) model.decode = (b) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  return model;
}
