/**
 * Shrinking a pKVM trace: the checker's shrinker (checker/shrink.ts) over the model's smaller
 * configurations (model/shrink.ts). A candidate is run on the readable model of its
 * configuration: each action is matched by its operation and arguments against the enabled
 * actions (as replay matches them; one that is not enabled is left out), and every step is the
 * expansion step of the searches, judged by the one invariant being shrunk. A candidate counts
 * only when that invariant fails with the same key (e.g. the same kernel function) as in the
 * input. The result is an ordinary trace file of the smaller configuration.
 */
import { Expander, type Sink } from '../checker/expand.ts';
import { PropertySet } from '../checker/properties.ts';
import { shrink } from '../checker/shrink.ts';
import type { Finding, Path, Property } from '../checker/types.ts';
import { validateConfig, type PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import { configMeasure, configReductions, configSize, type ConfigSize } from '../model/shrink.ts';
import type { PkvmState } from '../model/state.ts';
import { actionKey, PkvmModel, type PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { buildTrace } from './build.ts';
import type { TraceFile } from './format.ts';

/** The violation a shrunk trace must keep: the invariant and, when it gives one, the key of its finding. */
type PkvmProperty = Property<PkvmState, PkvmAction, PkvmOutcome>;

/**
 * The property of a given name on a configuration of the variant (the caller's selection:
 * invariants/ is not a dependency of traces/); it may throw where the name means nothing.
 */
export type SelectProperty = (config: PkvmConfig, name: string, variant: Variant) => PkvmProperty | undefined;

export interface ShrinkTarget {
  readonly invariant: string;
  /** null: the finding has no key; undefined: any finding of the invariant. */
  readonly key: string | null | undefined;
}

export interface TraceSize extends ConfigSize {
  readonly steps: number;
}

export interface ShrinkResult {
  readonly trace: TraceFile;
  readonly before: TraceSize;
  readonly after: TraceSize;
  /** The entities taken away, in the order they went. */
  readonly removed: readonly string[];
  /** Candidates run. */
  readonly tests: number;
}

interface Run {
  readonly actions: readonly PkvmAction[];
  readonly path: Path;
  readonly finding: Finding;
}

/** The model of each configuration a shrink tries, with the one property. */
class Runner {
  private readonly setups = new Map<string, { model: PkvmModel; props: PropertySet<PkvmState, PkvmAction, PkvmOutcome>; kind: PkvmProperty['kind'] } | null>();

  constructor(
    readonly variant: Variant,
    readonly target: ShrinkTarget,
    private readonly select: SelectProperty,
  ) {}

  private setup(config: PkvmConfig) {
    const id = JSON.stringify(config);
    if (!this.setups.has(id)) {
      let prop: PkvmProperty | undefined;
      try {
        prop = this.select(config, this.target.invariant, this.variant);
      } catch {
        prop = undefined;
      }
      this.setups.set(id, prop ? { model: new PkvmModel(config, this.variant), props: new PropertySet([prop]), kind: prop.kind } : null);
    }
    return this.setups.get(id)!;
  }

  kind(config: PkvmConfig): PkvmProperty['kind'] | null {
    return this.setup(config)?.kind ?? null;
  }

  /**
   * Runs the actions from the initial state: the actions that ran, up to the first step where the
   * target fails (with `toEnd`, the finding of the last step that ran instead), or null.
   */
  run(config: PkvmConfig, actions: readonly PkvmAction[], toEnd = false): Run | null {
    const s = this.setup(config);
    if (!s) return null;
    const { model, props } = s;
    const wanted = (f: Finding) => this.target.key === undefined || (f.key ?? null) === this.target.key;
    let found: Finding | null = null;
    const judge = (st: PkvmState) => props.judgeState(st, (_k, f) => {
      if (wanted(f)) found ??= f;
    });
    let state = model.initialStates()[0];
    judge(state);
    if (found && !toEnd) return { actions: [], path: { init: 0, actions: [] }, finding: found };
    const expander = new Expander(model, props);
    let changed = false;
    const sink: Sink = {
      stepFinding(_ai, _k, f) {
        if (wanted(f)) found ??= f;
        return false;
      },
      successor() {
        changed = true;
        return false;
      },
    };
    const ran: PkvmAction[] = [];
    const indices: number[] = [];
    for (const a of actions) {
      const key = actionKey(a);
      const ai = model.actions(state).findIndex((x) => actionKey(x) === key);
      if (ai < 0) continue;
      found = null;
      changed = false;
      expander.stepOne(state, ai, sink);
      ran.push(expander.action(ai));
      indices.push(ai);
      state = changed ? expander.successorState() : state;
      judge(state);
      if (found && !toEnd) return { actions: ran, path: { init: 0, actions: indices }, finding: found };
    }
    return toEnd && found && ran.length === actions.length ? { actions: ran, path: { init: 0, actions: indices }, finding: found } : null;
  }
}

function sizeOf(config: PkvmConfig, steps: number): TraceSize {
  return { steps, ...configSize(config) };
}

/**
 * Shrinks the run `actions` of `config`, which violates `target`, and builds the trace of the
 * result. Null when the actions do not violate it on their own configuration.
 */
export function shrinkRun(variant: Variant, config: PkvmConfig, actions: readonly PkvmAction[], target: ShrinkTarget, description: string, select: SelectProperty): ShrinkResult | null {
  const runner = new Runner(variant, target, select);
  const result = shrink<PkvmConfig, PkvmAction>(
    {
      reductions: configReductions,
      size: configMeasure,
      test: (c, xs) => runner.run(c, xs)?.actions ?? null,
    },
    config,
    actions,
  );
  if (!result) return null;
  const last = runner.run(result.config, result.items)!;
  const trace = buildTrace(new PkvmModel(result.config, variant), last.path, {
    property: target.invariant,
    kind: runner.kind(result.config) === 'step' ? 'step' : 'state',
    finding: last.finding,
    path: last.path,
    description,
  });
  return { trace, before: sizeOf(config, actions.length), after: sizeOf(result.config, trace.steps.length), removed: result.removed, tests: result.tests };
}

export class ShrinkError extends Error {
  override readonly name = 'ShrinkError';
}

/**
 * The finding of a trace's invariant at its last step (where its violation was recorded), every
 * step run on the variant; null when the trace does not run to such a violation.
 */
export function traceFinding(trace: TraceFile, variant: Variant, select: SelectProperty): Finding | null {
  if (!trace.violation) return null;
  const run = new Runner(variant, { invariant: trace.violation.invariant, key: undefined }, select).run(validateConfig(trace.config), trace.steps.map((s) => s.action), true);
  return run?.finding ?? null;
}

/** Shrinks a trace file's violation, keeping the key its finding has at the trace's last step. */
export function shrinkTrace(trace: TraceFile, variant: Variant, select: SelectProperty): ShrinkResult {
  const v = trace.violation;
  if (!v) throw new ShrinkError('the trace records no violation: there is nothing to keep while shrinking it');
  if (v.kind === 'recoverable') throw new ShrinkError(`${v.invariant} is decided on the explored graph, not along the trace: shrink keeps path violations only`);
  const end = traceFinding(trace, variant, select);
  if (!end) throw new ShrinkError(`the trace does not replay to a violation of ${v.invariant} at its last step on variant '${variant.name}' (pkvm-check replay shows where it departs)`);
  const result = shrinkRun(variant, validateConfig(trace.config), trace.steps.map((s) => s.action), { invariant: v.invariant, key: end.key ?? null }, v.description, select);
  if (!result) throw new ShrinkError(`the trace does not violate ${v.invariant} on variant '${variant.name}'`);
  return result;
}
