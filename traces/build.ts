/** Turns a checker path into a trace file, by replaying it on the model. */
import { fingerprint } from '../checker/fingerprint.ts';
import { replayPath } from '../checker/replay.ts';
import type { Path, Violation } from '../checker/types.ts';
import { retName } from '../model/constants.ts';
import type { PkvmState } from '../model/state.ts';
import type { PkvmModel } from '../model/system.ts';
import { diffStates } from './describe.ts';
import { TRACE_FORMAT, TRACE_VERSION, type TraceFile } from './format.ts';

export const GENERATOR = 'pkvm-check 0.1.0';

export function stateFingerprint(model: PkvmModel, s: PkvmState): string {
  const fp = new Uint32Array(2);
  fingerprint(model.encode(s), fp);
  return fp[0].toString(16).padStart(8, '0') + fp[1].toString(16).padStart(8, '0');
}

export function buildTrace(model: PkvmModel, path: Path, violation: (Violation & { description: string }) | null): TraceFile {
  const rep = replayPath(model, path);
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    generator: GENERATOR,
    variant: model.variant.name,
    config: model.config,
    violation: violation
      ? { invariant: violation.property, kind: violation.kind, message: violation.finding.message, description: violation.description }
      : null,
    init: path.init,
    initialState: rep.initial,
    steps: rep.steps.map((st) => ({
      step: st.index + 1,
      actor: model.operation(st.action.op)?.actor ?? 'host',
      actionIndex: st.actionIndex,
      action: st.action,
      call: model.describeAction(st.action),
      ret: st.outcome.ret,
      retName: retName(st.outcome.ret),
      failures: st.outcome.failures,
      subcalls: st.outcome.subcalls,
      accesses: st.outcome.accesses,
      changes: diffStates(st.before, st.after, model.config, model.variant),
      fingerprint: stateFingerprint(model, st.after),
      cpu: st.outcome.cpu,
      acquired: st.outcome.acquisitions.map((a) => a.lock),
    })),
    finalState: rep.final,
  };
}
