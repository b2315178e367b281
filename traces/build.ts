/** Turns a checker path into a trace file, by replaying it on the model. */
import { replayPath } from '../checker/replay.ts';
import type { Path, Violation } from '../checker/types.ts';
import { retName } from '../model/constants.ts';
import type { PkvmState } from '../model/state.ts';
import type { PkvmModel } from '../model/system.ts';
import { diffStates } from './describe.ts';
import { TRACE_FORMAT, TRACE_VERSION, type TraceFile } from './format.ts';

export const GENERATOR = 'pkvm-check 0.1.0';

/**
 * A trace's fingerprint of a state: 64 bits of its encoding, by a fixed function of the trace
 * format (not the search's fingerprint, which may change), so that traces written by any version
 * tell whether a replay reaches the same states.
 */
export function stateFingerprint(model: PkvmModel, s: PkvmState): string {
  return traceDigest(model.encode(s));
}

/** The 16 hex digits a trace records for an encoding. */
export function traceDigest(b: Uint8Array): string {
  const hi = mix32(b, 0x9747b28c);
  const lo = mix32(b, 0x5bd1e995);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** MurmurHash3's 32-bit mix of a byte string. */
function mix32(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[i + 2] << 16;
    // fallthrough
    case 2:
      k ^= bytes[i + 1] << 8;
    // fallthrough
    case 1:
      k ^= bytes[i];
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}


export function buildTrace(model: PkvmModel, path: Path, violation: (Violation & { description: string }) | null): TraceFile {
  // a trace's CPU steps say which kernel function they stop in
  model.describeCalls();
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
