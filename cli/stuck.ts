/**
 * The witness of a host-recoverable violation, in words: how the page stands in the stuck state,
 * and what each operation enabled there does (its return value, and whether it changes nothing
 * or leads to a state that is stuck too), grouped by operation and return value.
 */
import type { StuckWitness } from '../checker/types.ts';
import { retName } from '../model/constants.ts';
import { ObjectReader } from '../model/memory.ts';
import type { PkvmState } from '../model/state.ts';
import type { PkvmModel } from '../model/system.ts';
import { dmaMappings, pageViews } from '../model/views.ts';
import { describePage, pageKey } from '../invariants/recoverable.ts';
import type { TraceFile } from '../traces/format.ts';

/** The violation's message: the page, and why no undo exists. */
export function stuckMessage(w: StuckWitness): string {
  return `${w.key} can never again be the host's, PKVM_PAGE_OWNED with refcount 0: the ${w.closure} state(s) reachable from here (this one included) were all explored and none gives it back`;
}

/** A trace of a stuck state with its witness: the message, and the lines that say why (on the trace's final state). */
export function withStuckWitness(model: PkvmModel, trace: TraceFile, w: StuckWitness): TraceFile {
  if (!trace.violation) return trace;
  return { ...trace, violation: { ...trace.violation, message: stuckMessage(w), stuck: { key: w.key, closure: w.closure, why: explainStuck(model, trace.finalState, w) } } };
}

/** The lines of the witness (see the module's comment). */
export function explainStuck(model: PkvmModel, state: PkvmState, w: StuckWitness): string[] {
  const r = new ObjectReader(state, model.config);
  const out: string[] = [];
  let pfn = -1;
  for (let p = 0; p < model.config.ramPages && pfn < 0; p++) if (pageKey(p) === w.key) pfn = p;
  if (pfn >= 0) out.push(`${w.key} now: ${describePage(r, pageViews(r, model.variant.views), dmaMappings(r, model.variant.views), pfn)}`);
  const actions = model.actions(state);
  const groups = new Map<string, { op: string; ret: string; count: number; example: string; closures: number[] }>();
  for (const m of w.moves) {
    const a = actions[m.action];
    const ret = retName(model.step(state, a).outcome.ret);
    const g = `${a.op}\u0000${ret}\u0000${m.closure === null}`;
    let e = groups.get(g);
    if (!e) groups.set(g, (e = { op: a.op, ret, count: 0, example: model.describeAction(a), closures: [] }));
    e.count++;
    if (m.closure !== null) e.closures.push(m.closure);
  }
  out.push(`the ${w.moves.length} operation(s) enabled here, and what each does:`);
  for (const e of groups.values()) {
    const what = e.count === 1 ? e.example : `${e.op} x ${e.count} (e.g. ${e.example})`;
    const lo = Math.min(...e.closures);
    const hi = Math.max(...e.closures);
    const effect = e.closures.length === 0 ? 'changes nothing' : `leads to a state that is stuck too (${lo === hi ? lo : `${lo} to ${hi}`} state(s) reachable from it, none giving the page back)`;
    out.push(`  ${what} = ${e.ret}: ${effect}`);
  }
  return out;
}
