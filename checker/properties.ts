/**
 * What every search shares besides the expansion step (expand.ts): the properties split by kind
 * and judged on a state, the key that tells distinct violations apart, the log of violations a
 * search reports, and the result it returns. Each lives here once.
 */
import { StepGate } from './delta.ts';
import type { Bound, CheckResult, Example, Finding, Path, Property, ReachableProperty, StateProperty, Stats, StepProperty, Violation } from './types.ts';

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
  /** Which step properties to run on a step (see StepGate). */
  readonly gate: StepGate<S, A, O>;

  constructor(properties: readonly Property<S, A, O>[]) {
    this.list = properties;
    const idx = (kind: Property<S, A, O>['kind']) => properties.map((p, i) => (p.kind === kind ? i : -1)).filter((i) => i >= 0);
    this.stateIndex = idx('state');
    this.stepIndex = idx('step');
    this.reachIndex = idx('reachable');
    this.state = this.stateIndex.map((i) => properties[i] as StateProperty<S>);
    this.step = this.stepIndex.map((i) => properties[i] as StepProperty<S, A, O>);
    this.reach = this.reachIndex.map((i) => properties[i] as ReachableProperty<S>);
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
  record(property: string, kind: Violation['kind'], finding: Finding, path: () => Path): boolean {
    const k = violationKey(property, finding);
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    this.list.push({ property, kind, finding, path: path() });
    return true;
  }

  add(v: Violation): boolean {
    return this.record(v.property, v.kind, v.finding, () => v.path);
  }
}

/** The result of a breadth-first search (sequential or parallel) from what it found and why it stopped. */
export function searchResult(stats: Stats, violations: readonly Violation[], examples: readonly Example[], unreached: Iterable<string>, cutBy: Bound | null, stopped: boolean): CheckResult {
  const exhausted = cutBy === null && !stopped;
  const base = { stats, exhausted, cutBy, examples, unreached: [...unreached] };
  return violations.length ? { ...base, status: 'violation', violations } : { ...base, status: 'ok' };
}
