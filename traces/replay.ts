/**
 * Re-executes a trace file on a model (the variant it was found on, or another one) and says,
 * step by step, whether the calls return the same, the states are the same, and whether the
 * recorded violation happens again. Each step is the expansion step every search runs
 * (checker/expand.ts), so a replay judges the properties exactly as the search that found the
 * trace did.
 */
import { Expander, type Sink } from '../checker/expand.ts';
import { PropertySet } from '../checker/properties.ts';
import type { Property, RecoverableProperty } from '../checker/types.ts';
import { check } from '../checker/bfs.ts';
import { rootedAt } from '../checker/recover.ts';
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
  | { readonly status: 'not-reproduced'; readonly steps: readonly ReplayStepReport[]; readonly invariant: string | null; readonly identical: boolean; readonly note?: string }
  | { readonly status: 'diverged'; readonly steps: readonly ReplayStepReport[]; readonly atStep: number; readonly reason: string };

/** A trace step whose call is no action of the model at all (not of this variant, not within these bounds): the trace is bad input. */
export class IllegalStepError extends Error {
  override readonly name = 'IllegalStepError';
}

/**
 * `sameState(n, state)`, when given, says whether the state replayed after n steps (0: the initial
 * state) is the recorded one (an ITF file records the states themselves); otherwise the state's
 * fingerprint is compared with the recorded one.
 */
export function replayTrace(
  model: PkvmModel,
  trace: TraceFile,
  properties: readonly Property<PkvmState, PkvmAction, PkvmOutcome>[],
  sameState?: (step: number, state: PkvmState) => boolean,
): TraceReplay {
  const inits = model.initialStates();
  if (trace.init >= inits.length) return { status: 'diverged', steps: [], atStep: 0, reason: `the model has no initial state ${trace.init}` };
  // a recoverable property is judged at the end, on the future of the state reached
  const props = new PropertySet(properties.filter((p) => p.kind !== 'recoverable'));
  const recover = properties.find((p): p is RecoverableProperty<PkvmState> => p.kind === 'recoverable' && p.name === trace.violation?.invariant);
  const expander = new Expander(model, props);
  const known = new Set(model.allActions().map(actionKey));
  let state = inits[trace.init];
  const wanted = trace.violation?.invariant ?? null;
  const steps: ReplayStepReport[] = [];
  let identical = sameState ? sameState(0, state) : true;
  let violated: { invariant: string; message: string }[] = [];
  const judge = (s: PkvmState) => props.judgeState(s, (k, f) => violated.push({ invariant: props.state[k].name, message: f.message }));
  judge(state);
  const hit0 = violated.find((v) => v.invariant === wanted);
  if (hit0) return { status: 'reproduced', steps, atStep: 0, invariant: hit0.invariant, message: hit0.message, identical };
  let changed = false;
  const sink: Sink = {
    stepFinding(_ai, k, f) {
      violated.push({ invariant: props.step[k].name, message: f.message });
      return false;
    },
    successor() {
      changed = true;
      return false;
    },
  };
  for (const rec of trace.steps) {
    const key = actionKey(rec.action);
    if (!known.has(key)) throw new IllegalStepError(`step ${rec.step}: ${model.describeAction(rec.action)} is not an action of variant '${model.variant.name}' within the trace's bounds`);
    const ai = model.actions(state).findIndex((a) => actionKey(a) === key);
    if (ai < 0)
      return {
        status: 'diverged',
        steps,
        atStep: rec.step,
        reason: state.panic ? `the hypervisor has already stopped (${state.panic.kind} in ${state.panic.where})` : `${rec.call} is not possible in this state`,
      };
    violated = [];
    changed = false;
    expander.stepOne(state, ai, sink);
    const next = changed ? expander.successorState() : state;
    const outcome = expander.outcome();
    judge(next);
    const same = sameState ? sameState(steps.length + 1, next) : stateFingerprint(model, next) === rec.fingerprint;
    const sameRet = outcome.ret === rec.ret;
    identical &&= same && sameRet;
    steps.push({ step: rec.step, call: model.describeAction(expander.action(ai)), recordedRet: rec.retName, ret: retName(outcome.ret), sameRet, sameState: same, violated });
    const hit = violated.find((v) => v.invariant === wanted);
    if (hit) return { status: 'reproduced', steps, atStep: rec.step, invariant: hit.invariant, message: hit.message, identical };
    state = next;
  }
  if (recover) return stuckAtEnd(model, trace, recover, state, steps, identical);
  return { status: 'not-reproduced', steps, invariant: wanted, identical };
}

/** States a replay explores from the end of a host-recoverable trace, at most. */
const FUTURE_STATES = 2_000_000;

/**
 * The end of a recoverable property's trace: is the obligation stuck there? Its future is
 * explored (from the state reached) until a state discharges it, or it is exhausted (stuck), or
 * FUTURE_STATES are found (undecided).
 */
function stuckAtEnd(model: PkvmModel, trace: TraceFile, p: RecoverableProperty<PkvmState>, state: PkvmState, steps: ReplayStepReport[], identical: boolean): TraceReplay {
  const key = trace.violation?.stuck?.key ?? p.keys[0];
  const bit = 1 << Math.max(0, p.keys.indexOf(key));
  const r = check(rootedAt(model, state), [{ kind: 'reachable', name: 'discharged', description: '', holds: (s) => (p.discharged(s) & bit) !== 0 }], { maxStates: FUTURE_STATES });
  const recorded = trace.violation?.stuck ? ` (recorded: ${trace.violation.stuck.closure})` : '';
  const same = identical ? '' : ' (the run differs from the recording)';
  if (r.examples.length) return { status: 'not-reproduced', steps, invariant: p.name, identical, note: `${key} comes back ${r.examples[0].path.actions.length} step(s) after the trace's end${same}` };
  if (!r.exhausted) return { status: 'not-reproduced', steps, invariant: p.name, identical, note: `undecided: ${key} does not come back within the first ${r.stats.distinctStates} states reachable from the trace's end` };
  return {
    status: 'reproduced',
    steps,
    atStep: steps.length,
    invariant: p.name,
    identical,
    message: `${key} is stuck at the trace's end: the ${r.stats.distinctStates} state(s) reachable from it${recorded} were all explored and none gives it back${same}`,
  };
}
