/**
 * Small helpers for the design-variant tests: run a short sequence of enabled actions, read a
 * state through the model's StateReader, and summarise a checker run as the shortest trace length
 * of every violated invariant.
 */
import { check, type CheckResult } from '../../checker/index.ts';
import { pkvmProperties, selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { ObjectReader, type StateReader } from '../../model/memory.ts';
import type { Args } from '../../model/operations.ts';
import type { PkvmState } from '../../model/state.ts';
import { PkvmModel, describeAction, type PkvmOutcome } from '../../model/system.ts';
import type { Variant } from '../../model/variant.ts';

export function makeModel(variant: Variant, overrides: Partial<PkvmConfig> = {}): PkvmModel {
  return new PkvmModel({ ...DEFAULT_CONFIG, ...overrides }, variant);
}

export function reader(model: PkvmModel, s: PkvmState): StateReader {
  return new ObjectReader(s, model.config);
}

function sameArgs(a: Args, b: Args): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export interface Ran {
  readonly state: PkvmState;
  readonly outcome: PkvmOutcome;
  readonly ret: number;
}

/** Runs one action, which must be enabled in `s`. */
export function step(model: PkvmModel, s: PkvmState, op: string, args: Args = {}): Ran {
  const action = model.actions(s).find((a) => a.op === op && sameArgs(a.args, args));
  if (!action) throw new Error(`${describeAction({ op, args })} is not enabled in this state`);
  const r = model.step(s, action);
  return { state: r.state, outcome: r.outcome, ret: r.outcome.ret };
}

/** Runs actions in order from `from` (default: the initial state); returns every intermediate result. */
export function run(model: PkvmModel, steps: readonly (readonly [string, Args?])[], from?: PkvmState): Ran[] {
  let s = from ?? model.initialStates()[0];
  const out: Ran[] = [];
  for (const [op, args] of steps) {
    const r = step(model, s, op, args ?? {});
    out.push(r);
    s = r.state;
  }
  return out;
}

export function last(rs: readonly Ran[]): Ran {
  return rs[rs.length - 1];
}

/** The shortest violation of each invariant (BFS: the first one found is a shortest one). */
export function shortest(r: CheckResult): Record<string, number> {
  const out: Record<string, number> = {};
  if (r.status !== 'violation') return out;
  for (const v of r.violations) out[v.property] = Math.min(out[v.property] ?? Infinity, v.path.actions.length);
  return out;
}

/** Checks a variant against every default invariant (or the named ones), going on after a violation. */
export function verdict(variant: Variant, overrides: Partial<PkvmConfig>, maxDepth: number, names?: readonly string[]): CheckResult {
  const config = { ...DEFAULT_CONFIG, ...overrides };
  const props = names ? selectProperties(config, names, variant) : pkvmProperties(config, variant);
  return check(makeModel(variant, overrides), props, { stopAtFirstViolation: false, maxDepth });
}

/** The message of the shortest violation of one invariant. */
export function messageOf(r: CheckResult, property: string): string | undefined {
  if (r.status !== 'violation') return undefined;
  return r.violations.find((v) => v.property === property)?.finding.message;
}

/** The actions of the shortest violation of one invariant, as readable calls. */
export function traceOf(model: PkvmModel, r: CheckResult, property: string): string[] {
  if (r.status !== 'violation') return [];
  const v = r.violations.find((x) => x.property === property);
  if (!v) return [];
  let s = model.initialStates()[v.path.init];
  const out: string[] = [];
  for (const i of v.path.actions) {
    const a = model.actions(s)[i];
    out.push(describeAction(a, model.operation(a.op)));
    s = model.step(s, a).state;
  }
  return out;
}
