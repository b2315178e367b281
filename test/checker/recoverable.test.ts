/** Recoverable properties (AG(pending k -> EF discharged k)) on toy graphs, with exact counts. */
import { describe, expect, it } from 'vitest';
import { check, randomWalks, type RecoverableProperty } from '../../checker/index.ts';
import { graphModel, type Graph } from '../toys/graph.ts';
import { counterModel } from '../toys/counter.ts';
import { withoutDecode } from '../toys/util.ts';

/** One obligation, 'home': pending wherever `goal` does not hold, discharged where it does. */
function home<S>(goal: (s: S) => boolean): RecoverableProperty<S> {
  return { kind: 'recoverable', name: 'home', description: 'can always get home', keys: ['home'], pending: (s) => (goal(s) ? 0 : 1), discharged: (s) => (goal(s) ? 1 : 0) };
}

const verdict = (r: ReturnType<typeof check>) => {
  const { byKey: _k, ...v } = r.recoverability![0];
  return v;
};

describe('a graph with a sink', () => {
  // 0 -> 1 -> 0 (back home), 0 -> 2 -> 3, and 3 only loops on itself: 2 and 3 are stuck
  const g: Graph = { adj: [[1, 2], [0], [3], [3]], initial: [0] };

  it('finds the stuck state nearest the start, with its closure and what each action does there', () => {
    const r = check(graphModel(g), [home((n: number) => n === 0)]);
    expect(r.exhausted).toBe(true);
    expect(verdict(r)).toEqual({ property: 'home', pending: 3, recoverable: 1, stuck: 2, undecided: 0 });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations).toHaveLength(1);
    const v = r.violations[0];
    expect(v.kind).toBe('recoverable');
    expect(v.path).toEqual({ init: 0, actions: [1] }); // 0 -> 2
    expect(v.finding.key).toBe('home');
    // from 2: {2, 3}; its one action leads to 3, whose closure is {3}
    expect(v.stuck).toEqual({ key: 'home', closure: 2, moves: [{ action: 0, closure: 1 }] });
    expect(v.finding.message).toContain('the 2 state(s) reachable');
    expect(r.stats.graph).toMatchObject({ expanded: 4, edges: 4 });
  });

  it('the sink itself: its self-loop changes nothing', () => {
    const r = check(graphModel({ adj: [[1], [1]], initial: [0] }), [home((n: number) => n === 0)]);
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations[0].path).toEqual({ init: 0, actions: [0] });
    expect(r.violations[0].stuck).toEqual({ key: 'home', closure: 1, moves: [{ action: 0, closure: null }] });
  });

  it('the same on a model that does not decode, and with every violation wanted', () => {
    const r = check(withoutDecode(graphModel(g)), [home((n: number) => n === 0)], { stopAtFirstViolation: false });
    expect(verdict(r)).toEqual({ property: 'home', pending: 3, recoverable: 1, stuck: 2, undecided: 0 });
    expect(r.status === 'violation' && r.violations.map((v) => v.path.actions)).toEqual([[1]]);
  });
});

describe('a graph cut by a bound', () => {
  // 0 <-> 1, 0 -> 2 -> 3 -> 4 -> 0 (back home the long way), 0 -> 5, 5 loops on itself
  const g: Graph = { adj: [[1, 2, 5], [0], [3], [4], [0], [5]], initial: [0] };
  const prop = home((n: number) => n === 0);

  it('depth 2: 3 is not expanded, so 2 and 3 are undecided; 1 is recoverable and 5 is stuck all the same', () => {
    const r = check(graphModel(g), [prop], { maxDepth: 2, stopAtFirstViolation: false });
    expect(r.cutBy).toBe('depth');
    expect(r.stats.distinctStates).toBe(5); // 0; 1, 2, 5; 3
    expect(verdict(r)).toEqual({ property: 'home', pending: 4, recoverable: 1, stuck: 1, undecided: 2 });
    expect(r.stats.graph).toMatchObject({ expanded: 4, edges: 5 });
    expect(r.status === 'violation' && r.violations.map((v) => v.path.actions)).toEqual([[2]]);
  });

  it('without the sink, depth 2 decides nothing is stuck and leaves 2 and 3 undecided (no violation, not exhausted)', () => {
    const r = check(graphModel({ adj: [[1, 2], [0], [3], [4], [0]], initial: [0] }), [prop], { maxDepth: 2 });
    expect(r.status).toBe('ok');
    expect(r.exhausted).toBe(false);
    expect(verdict(r)).toEqual({ property: 'home', pending: 3, recoverable: 1, stuck: 0, undecided: 2 });
  });

  it('depth 4 explores everything: all recoverable but 5', () => {
    const r = check(graphModel(g), [prop], { maxDepth: 4 });
    expect(verdict(r)).toEqual({ property: 'home', pending: 5, recoverable: 4, stuck: 1, undecided: 0 });
  });

  it('a state bound stops the search inside an expansion: that state is not expanded, its edges are dropped', () => {
    // 0 -> 1, 2, 3 and each back to 0: the bound of 3 states stops the expansion of 0 at its second action
    const r = check(graphModel({ adj: [[1, 2, 3], [0], [0], [0]], initial: [0] }), [prop], { maxStates: 3 });
    expect(r.cutBy).toBe('states');
    expect(r.stats.graph).toMatchObject({ expanded: 0, edges: 0 });
    expect(verdict(r)).toEqual({ property: 'home', pending: 2, recoverable: 0, stuck: 0, undecided: 2 });
  });
});

describe('a cycle that can always return', () => {
  it('counter mod 10, home at 0: every state recoverable, exhausted', () => {
    const r = check(counterModel(10), [home((n: number) => n === 0)]);
    expect(r.status).toBe('ok');
    expect(r.exhausted).toBe(true);
    expect(verdict(r)).toEqual({ property: 'home', pending: 9, recoverable: 9, stuck: 0, undecided: 0 });
    expect(r.stats.graph).toMatchObject({ expanded: 10, edges: 10 });
  });

  it('counter without wrap: the last state is stuck, reached in 9 steps', () => {
    const r = check(counterModel(10, { wrap: false }), [home((n: number) => n === 0)]);
    expect(verdict(r)).toEqual({ property: 'home', pending: 9, recoverable: 0, stuck: 9, undecided: 0 });
    expect(r.status === 'violation' && r.violations[0].path.actions.length).toBe(1);
  });
});

describe('several obligations', () => {
  // keys a (bit 0) and b (bit 1): a is pending in 1 and discharged in 2; b is pending in 1 and 2 and discharged nowhere
  const g: Graph = { adj: [[1], [2], [1]], initial: [0] };
  const prop: RecoverableProperty<number> = {
    kind: 'recoverable',
    name: 'two',
    description: '',
    keys: ['a', 'b'],
    pending: (n) => [0, 3, 2][n],
    discharged: (n) => [0, 0, 1][n],
  };

  it('decides each key on its own; a state is stuck when one of its keys is', () => {
    const r = check(graphModel(g), [prop], { stopAtFirstViolation: false });
    expect(r.recoverability![0]).toEqual({
      property: 'two',
      pending: 2,
      recoverable: 0,
      stuck: 2,
      undecided: 0,
      byKey: [
        { key: 'a', pending: 1, recoverable: 1, stuck: 0, undecided: 0 },
        { key: 'b', pending: 2, recoverable: 0, stuck: 2, undecided: 0 },
      ],
    });
    expect(r.status === 'violation' && r.violations.map((v) => [v.finding.key, v.path.actions.length, v.stuck!.closure])).toEqual([['b', 1, 2]]);
  });
});

describe('what cannot decide them refuses them', () => {
  const prop = home((n: number) => n === 0);
  it('random walks', () => {
    expect(() => randomWalks(counterModel(3), [prop], { seed: 1, runs: 1, depth: 3 })).toThrow(/random walks cannot decide recoverable properties/);
  });
  it('bitstate and symmetry in the breadth-first search', () => {
    expect(() => check(counterModel(3), [prop], { bitstateBytes: 1024 })).toThrow(/cannot be combined/);
  });
  it('an ordinary run keeps no graph', () => {
    const r = check(counterModel(3), []);
    expect(r.stats.graph).toBeUndefined();
    expect(r.recoverability).toBeUndefined();
  });
});
