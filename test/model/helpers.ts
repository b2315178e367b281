/**
 * Helpers for the model tests: build a state by applying actions, find an enabled action by
 * operation and arguments, call hypervisor pieces directly with the host and hyp locks held, and
 * read the per-page facts the reference tables talk about.
 */
import { ObjectMemory } from '../../model/memory.ts';
import { expect } from 'vitest';
import { freeze } from 'immer';
import {
  PAGE_SIZE,
  PHYS_BASE,
  PKVM_NOPAGE,
  PKVM_PAGE_OWNED,
  retName,
  type PageState,
} from '../../model/constants.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import type { Args, PkvmAction } from '../../model/operations.ts';
import type { FailureKind, HostPte, HypFailure, PkvmState } from '../../model/state.ts';
import { PkvmModel, describeAction, type PkvmOutcome } from '../../model/system.ts';
import { RFC_V1, type Variant } from '../../model/variant.ts';

export function makeModel(overrides: Partial<PkvmConfig> = {}, variant: Variant = RFC_V1): PkvmModel {
  return new PkvmModel({ ...DEFAULT_CONFIG, ...overrides }, variant);
}

export function initial(model: PkvmModel): PkvmState {
  return model.initialStates()[0];
}

function sameArgs(a: Args, b: Args): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/** The enabled action with this operation and exactly these arguments, if any. */
export function findAction(model: PkvmModel, state: PkvmState, op: string, args: Args): PkvmAction | undefined {
  return model.actions(state).find((a) => a.op === op && sameArgs(a.args, args));
}

export interface Applied {
  readonly state: PkvmState;
  readonly outcome: PkvmOutcome;
  readonly ret: number;
}

/** Runs an action that must be enabled in `state` (it is looked up among `model.actions(state)`). */
export function apply(model: PkvmModel, state: PkvmState, op: string, args: Args): Applied {
  const action = findAction(model, state, op, args);
  if (!action) throw new Error(`${describeAction({ op, args })} is not enabled in this state`);
  const { state: next, outcome } = model.step(state, action);
  return { state: next, outcome, ret: outcome.ret };
}

/**
 * Runs an action whether or not the model enables it (model.step does not check enabledness).
 * Used for calls a hostile or buggy caller can make but that the model's action list leaves out
 * (e.g. __pkvm_hyp_donate_host on a page the hypervisor does not own).
 */
export function applyAny(model: PkvmModel, state: PkvmState, op: string, args: Args): Applied {
  const { state: next, outcome } = model.step(state, freeze({ op, args: freeze({ ...args }) }));
  return { state: next, outcome, ret: outcome.ret };
}

export type StepSpec = readonly [op: string, args: Args] | readonly [op: string, args: Args, expectedRet: number];

/** Applies enabled actions in order; each must return `expectedRet` (default 0) with no hypervisor failure. */
export function build(model: PkvmModel, steps: readonly StepSpec[], from: PkvmState = initial(model)): PkvmState {
  let s = from;
  for (const step of steps) {
    const [op, args] = step;
    const want = step.length === 3 ? step[2] : 0;
    const r = apply(model, s, op, args);
    if (r.ret !== want || r.outcome.failures.length)
      throw new Error(
        `setup step ${describeAction({ op, args })} returned ${retName(r.ret)} (wanted ${retName(want)})` +
          (r.outcome.failures.length ? `, failures: ${r.outcome.failures.map((f) => `${f.kind} in ${f.where}`).join('; ')}` : ''),
      );
    s = r.state;
  }
  return s;
}

export interface HypCall {
  readonly ret: number;
  readonly state: PkvmState;
  readonly failures: readonly HypFailure[];
  readonly branches: readonly string[];
}

/**
 * Calls hypervisor pieces directly on a draft of `state`, as PkvmModel.step does, with the host
 * and hyp locks taken first when `locked` (the seed's *_dma_page helpers assert both).
 */
export function callHyp(model: PkvmModel, state: PkvmState, fn: (hyp: Hyp) => number, locked = true): HypCall {
  const mem = new ObjectMemory(state, model.config);
  const h = new model.variant.hyp(mem, model.config);
  if (locked) {
    h.host_lock_component();
    h.hyp_lock_component();
  }
  const ret = fn(h);
  if (locked) {
    h.hyp_unlock_component();
    h.host_unlock_component();
  }
  let next = mem.finish();
  if (h.fatal) next = freeze({ ...(h.fatalSnapshot as PkvmState), panic: h.fatal }, true);
  return { ret, state: next, failures: h.rec.failures, branches: h.rec.branches };
}

/** The byte address of a pfn in the model's physical map. */
export function physOf(pfn: number): number {
  return PHYS_BASE + pfn * PAGE_SIZE;
}

export function refcount(state: PkvmState, pfn: number): number | null {
  const e = state.vmemmap[pfn];
  return e ? e.refcount : null;
}

export function flags(state: PkvmState, pfn: number): number {
  return state.vmemmap[pfn]?.flags ?? 0;
}

/** host_get_page_state as the kernel reads it for a RAM page (zero PTE → OWNED, annotated → NOPAGE). */
export function hostState(state: PkvmState, pfn: number): PageState {
  const pte = state.hostS2[pfn];
  if (pte.kind === 'annot') return PKVM_NOPAGE;
  if (pte.kind === 'zero') return PKVM_PAGE_OWNED;
  return pte.state;
}

export function hypState(state: PkvmState, pfn: number): PageState {
  return state.hypS1[pfn] ?? PKVM_NOPAGE;
}

export function guestState(state: PkvmState, vm: number, ipa: number): PageState {
  return state.vms[vm].s2[ipa]?.state ?? PKVM_NOPAGE;
}

export const ZERO: HostPte = { kind: 'zero' };
export const valid = (st: 0 | 1 | 2): HostPte => ({ kind: 'valid', state: st });
export const annot = (owner: 1 | 2 | 3): HostPte => ({ kind: 'annot', owner });

export function failureKinds(fs: readonly HypFailure[]): FailureKind[] {
  return fs.map((f) => f.kind);
}

export interface WalkResult {
  readonly states: PkvmState[];
  readonly actions: PkvmAction[];
  readonly outcomes: PkvmOutcome[];
}

/** A walk from the initial state: at each step the enabled action at index (choice mod count). */
export function randomWalk(model: PkvmModel, choices: readonly number[]): WalkResult {
  let s = initial(model);
  const states = [s];
  const actions: PkvmAction[] = [];
  const outcomes: PkvmOutcome[] = [];
  for (const c of choices) {
    const enabled = model.actions(s);
    if (enabled.length === 0) break;
    const a = enabled[c % enabled.length];
    const { state, outcome } = model.step(s, a);
    actions.push(a);
    outcomes.push(outcome);
    states.push(state);
    s = state;
  }
  return { states, actions, outcomes };
}

/** Asserts that an errored call changed nothing. */
export function expectUnchanged(before: PkvmState, after: PkvmState): void {
  expect(after).toEqual(before);
}
