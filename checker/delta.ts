/**
 * Steps given as bytes written (Model.stepDelta), for the sequential search and the workers alike:
 * building the successor, and which step properties to run on the step.
 *
 * StepGate: a property that says
 * where it can fail (`relevant`) is run only there, and not on a step that changes nothing when
 * it holds on those (`holdsWhenUnchanged`). The answer depends on the action and the outcome
 * only, so it is kept in the step delta's memo (marked as this search's: a model may serve
 * several) and reused wherever the model returns that delta again.
 */
import type { StepDelta, StepProperty } from './types.ts';

/** The state `bytes` with the delta's writes, in `into` (same length) or a new array. */
export function applyDelta(bytes: Uint8Array, d: StepDelta<unknown>, into: Uint8Array = new Uint8Array(bytes.length)): Uint8Array {
  into.set(bytes);
  const { offsets, values } = d;
  for (let i = 0; i < offsets.length; i++) into[offsets[i]] = values[i];
  return into;
}

export class StepGate<S, A, O> {
  /** Properties run on every step, and properties run where `relevant` says (at most 31, bit j for gated[j]). */
  readonly ungated: readonly number[];
  readonly gated: readonly number[];
  private readonly props: readonly StepProperty<S, A, O>[];
  private readonly changeOnly: number;
  private readonly search = {};
  /** The properties to run for each mask (ungated, then the gated ones set in the mask), built once per mask. */
  private readonly byMask = new Map<number, readonly number[]>();

  constructor(props: readonly StepProperty<S, A, O>[]) {
    this.props = props;
    const gated = props.map((_, i) => i).filter((i) => props[i].relevant).slice(0, 31);
    this.gated = gated;
    this.ungated = props.map((_, i) => i).filter((i) => !gated.includes(i));
    let changeOnly = 0;
    gated.forEach((i, j) => {
      if (props[i].holdsWhenUnchanged) changeOnly |= 1 << j;
    });
    this.changeOnly = changeOnly;
  }

  /** The gated properties to run (bit j: gated[j]), or -1 when the delta holds no answer of this search yet (see decide). */
  known(d: StepDelta<O>, changed: boolean): number {
    const e = d.memo as { search: object; mask: number } | undefined;
    if (e === undefined || e.search !== this.search) return -1;
    return changed ? e.mask : e.mask & ~this.changeOnly;
  }

  /** Indices of the properties to run for a mask of `known`/`decide`: the ungated ones, then the gated ones it sets. */
  selected(mask: number): readonly number[] {
    let list = this.byMask.get(mask);
    if (!list) this.byMask.set(mask, (list = [...this.ungated, ...this.gated.filter((_, j) => (mask >>> j) & 1)]));
    return list;
  }

  /** The gated properties to run on a step that has no delta to keep the answer in (steps by `step`). */
  maskOf(action: A, outcome: O, changed: boolean): number {
    let mask = 0;
    for (let j = 0; j < this.gated.length; j++) if (this.props[this.gated[j]].relevant!(action, outcome)) mask |= 1 << j;
    return changed ? mask : mask & ~this.changeOnly;
  }

  /** Decides for a delta met for the first time in this search, and keeps the answer in its memo. */
  decide(d: StepDelta<O>, changed: boolean, action: A): number {
    const mask = this.maskOf(action, d.outcome, true);
    d.memo = { search: this.search, mask };
    return changed ? mask : mask & ~this.changeOnly;
  }
}
