/**
 * What every search shares besides the expansion step (expand.ts): the properties split by kind
 * and judged on a state, the key that tells distinct violations apart, the log of violations a
 * search reports, and the result it returns. Each lives here once.
 */
import { StepGate } from './delta.ts';
import type { Bound, CheckResult, Example, Finding, Path, Property, ReachableProperty, RecoverabilityVerdict, RecoverableProperty, StateProperty, Stats, StepProperty, StuckWitness, Violation } from './types.ts';

/** Two findings are the same violation when their property and key are. */
export function violationKey(property: string, finding: Finding): string {
  return `${property}\u0000${finding.key ?? ''}`;
}

/** The properties of a search, by kind, with their indices in the list the search was given. */
export class PropertySet<S, A, O> {
  readonly list: readonly Property<S, A, O>[];
  readonly state: readonly StateProperty<S>[];
  readonly stateIndex: readonly number[];
  readonly step: readonly StepProperty<S, A, O>[];
  readonly stepIndex: readonly number[];
  readonly reach: readonly ReachableProperty<S>[];
  readonly reachIndex: readonly number[];
  /** Recoverable properties (only the breadth-first search decides them: see recover.ts). */
  readonly recover: readonly RecoverableProperty<S>[];
  /** Which step properties to run on a step (see StepGate). */
  readonly gate: StepGate<S, A, O>;

  /**
   * `search` names the search that judges the properties: one that cannot decide recoverable
   * properties (any but the breadth-first search) refuses them rather than skip them.
   */
  constructor(properties: readonly Property<S, A, O>[], search: { readonly name: string; readonly recoverable?: boolean } = { name: 'this search' }) {
    this.list = properties;
    const idx = (kind: Property<S, A, O>['kind']) => properties.map((p, i) => (p.kind === kind ? i : -1)).filter((i) => i >= 0);
    this.stateIndex = idx('state');
    this.stepIndex = idx('step');
    this.reachIndex = idx('reachable');
    this.state = this.stateIndex.map((i) => properties[i] as StateProperty<S>);
    this.step = this.stepIndex.map((i) => properties[i] as StepProperty<S, A, O>);
    this.reach = this.reachIndex.map((i) => properties[i] as ReachableProperty<S>);
    this.recover = properties.filter((p): p is RecoverableProperty<S> => p.kind === 'recoverable');
    if (this.recover.length && !search.recoverable) throw new Error(`${search.name} cannot decide recoverable properties (${this.recover.map((p) => p.name).join(', ')}): only the sequential breadth-first search keeps the explored graph they need`);
    this.gate = new StepGate(this.step);
  }

  /** The state properties that fail on a state: `found(k, finding)` for the k-th state property. */
  judgeState(state: S, found: (k: number, finding: Finding) => void): void {
    const ps = this.state;
    for (let k = 0; k < ps.length; k++) {
      const f = ps[k].check(state);
      if (f) found(k, f);
    }
  }
}

/**
 * The violations a search reports: the first of each property and key (with every violation
 * wanted, the same one is met again in many states; its path is built only the first time).
 */
export class ViolationLog {
  readonly list: Violation[] = [];
  private readonly seen = new Set<string>();

  constructor(earlier: readonly Violation[] = []) {
    for (const v of earlier) this.add(v);
  }

  /** Records a violation unless one of its property and key is already there; true if it is new. */
  record(property: string, kind: Violation['kind'], finding: Finding, path: () => Path, stuck?: () => StuckWitness): boolean {
    const k = violationKey(property, finding);
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    this.list.push({ property, kind, finding, path: path(), ...(stuck ? { stuck: stuck() } : {}) });
    return true;
  }

  add(v: Violation): boolean {
    return this.record(v.property, v.kind, v.finding, () => v.path, v.stuck ? () => v.stuck! : undefined);
  }
}

/** The result of a breadth-first search (sequential or parallel) from what it found and why it stopped. */
export function searchResult(
  stats: Stats,
  violations: readonly Violation[],
  examples: readonly Example[],
  unreached: Iterable<string>,
  cutBy: Bound | null,
  stopped: boolean,
  recoverability?: readonly RecoverabilityVerdict[],
): CheckResult {
  const exhausted = cutBy === null && !stopped;
  const base = { stats, exhausted, cutBy, examples, unreached: [...unreached], ...(recoverability ? { recoverability } : {}) };
  return violations.length ? { ...base, status: 'violation', violations } : { ...base, status: 'ok' };
}
