/** Helpers shared by the checker tests (not a model). */
import type { CheckResult, Model } from '../../checker/index.ts';

/** The same model without `decode` (the checker then keeps states, not encodings, in its frontier). */
export function withoutDecode<S, A, O>(model: Model<S, A, O>): Model<S, A, O> {
  const { decode: _ignored, ...rest } = model;
  return rest;
}

/** The same model, counting calls to `decode`. */
export function countingDecode<S, A, O>(model: Model<S, A, O>): { model: Model<S, A, O>; calls: () => number } {
  let n = 0;
  const decode = model.decode!.bind(model);
  return {
    model: {
      ...model,
      decode: (b) => {
        n++;
        return decode(b);
      },
    },
    calls: () => n,
  };
}

/** A result without its timing and memory figures, for comparing runs. */
export function comparable(r: CheckResult): unknown {
  const { seconds: _s, statesPerSecond: _p, peakMemoryBytes: _m, ...stats } = r.stats;
  return { ...r, stats };
}
