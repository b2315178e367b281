/**
 * Re-executes a trace file on a model (the variant it was found on, or another one) and says,
 * step by step, whether the calls return the same, the states are the same, and whether the
 * recorded violation happens again.
 */
import type { Property } from '../checker/types.ts';
import { retName } from '../model/constants.ts';
import type { PkvmAction } from '../model/operations.ts';
import type { PkvmState } from '../model/state.ts';
import { actionKey, type PkvmModel, type PkvmOutcome } from '../model/system.ts';
import { stateFingerprint } from './build.ts';
import type { TraceFile } from './format.ts';

export interface ReplayStepReport {
  readonly step: number;
  readonly call: string;
  readonly recordedRet: string;
  readonly ret: string;
  readonly sameRet: boolean;
  readonly sameState: boolean;
  /** Invariants that fail at this step (state invariants on the state after, step invariants on the step). */
  readonly violated: readonly { invariant: string; message: string }[];
}

export type TraceReplay =
  | { readonly status: 'reproduced'; readonly steps: readonly ReplayStepReport[]; readonly atStep: number; readonly invariant: string; readonly message: string; readonly identical: boolean }
  | { readonly status: 'not-reproduced'; readonly steps: readonly ReplayStepReport[]; readonly invariant: string | null; readonly identical: boolean }
  | { readonly status: 'diverged'; readonly steps: readonly ReplayStepReport[]; readonly atStep: number; readonly reason: string };

export function replayTrace(model: PkvmModel, trace: TraceFile, properties: readonly Property<PkvmState, PkvmAction, PkvmOutcome>[]): TraceReplay {
  const inits = model.initialStates();
  if (trace.init >= inits.length) return { status: 'diverged', steps: [], atStep: 0, reason: `the model has no initial state ${trace.init}` };
  let state = inits[trace.init];
  const wanted = trace.violation?.invariant ?? null;
  const steps: ReplayStepReport[] = [];
  let identical = true;
  const checkState = (s: PkvmState) =>
    properties.flatMap((p) => {
      if (p.kind !== 'state') return [];
      const f = p.check(s);
      return f ? [{ invariant: p.name, message: f.message }] : [];
    });
  const initViolations = checkState(state);
  const hit0 = initViolations.find((v) => v.invariant === wanted);
  if (hit0) return { status: 'reproduced', steps, atStep: 0, invariant: hit0.invariant, message: hit0.message, identical };
  for (const rec of trace.steps) {
    const actions = model.actions(state);
    const key = actionKey(rec.action);
    const action = actions.find((a) => actionKey(a) === key);
    if (!action)
      return {
        status: 'diverged',
        steps,
        atStep: rec.step,
        reason: state.panic ? `the hypervisor has already stopped (${state.panic.kind} in ${state.panic.where})` : `${rec.call} is not possible in this state`,
      };
    const { state: next, outcome } = model.step(state, action);
    const violated = [
      ...properties.flatMap((p) => {
        if (p.kind !== 'step') return [];
        const f = p.check(state, action, outcome, next);
        return f ? [{ invariant: p.name, message: f.message }] : [];
      }),
      ...checkState(next),
    ];
    const sameState = stateFingerprint(model, next) === rec.fingerprint;
    const sameRet = outcome.ret === rec.ret;
    identical &&= sameState && sameRet;
    steps.push({ step: rec.step, call: model.describeAction(action), recordedRet: rec.retName, ret: retName(outcome.ret), sameRet, sameState, violated });
    const hit = violated.find((v) => v.invariant === wanted);
    if (hit) return { status: 'reproduced', steps, atStep: rec.step, invariant: hit.invariant, message: hit.message, identical };
    state = next;
  }
  return { status: 'not-reproduced', steps, invariant: wanted, identical };
}
