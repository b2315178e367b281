/**
 * stopAtFirstViolation, step properties (including transitions to visited states and self-loops),
 * and reachable properties, on the W x H grid (W=6, H=4: 24 states, 66 transitions).
 */
import { describe, expect, it } from 'vitest';
import { check, replayPath, type Property } from '../../checker/index.ts';
import { counterModel } from '../toys/counter.ts';
import { gridModel, type Cell, type GridAction } from '../toys/grid.ts';

type P = Property<Cell, GridAction, GridAction>;
const W = 6;
const H = 4;

/** Violated where x + y >= 3; one key per column. */
const sumBelow3: P = {
  kind: 'state',
  name: 'sum-below-3',
  description: 'x + y < 3',
  check: (s) => (s.x + s.y >= 3 ? { message: `(${s.x},${s.y})`, key: `x=${s.x}` } : null),
};
/** Violated by every `wrap` transition (it always leads to an already-visited state). */
const noWrap: P = {
  kind: 'step',
  name: 'no-wrap',
  description: 'never wraps',
  check: (before, action, outcome, after) => (action === 'wrap' ? { message: `(${before.x},${before.y}) -> (${after.x},${after.y}) ${outcome}` } : null),
};
/** Violated by the `stay` self-loop on the diagonal; one key per diagonal cell. */
const noStayOnDiagonal: P = {
  kind: 'step',
  name: 'no-stay-on-diagonal',
  description: 'no self-loop where x = y',
  check: (before, action, _o, after) => (action === 'stay' && before.x === before.y ? { message: `stay at ${before.x}`, key: `d=${after.x}` } : null),
};
const reachCorner: P = { kind: 'reachable', name: 'reach-corner', description: '', holds: (s) => s.x === W - 1 && s.y === H - 1 };
const reachOrigin: P = { kind: 'reachable', name: 'reach-origin', description: '', holds: (s) => s.x === 0 && s.y === 0 };
const reachOutside: P = { kind: 'reachable', name: 'reach-outside', description: '', holds: (s) => s.x >= W };
const all: P[] = [sumBelow3, noWrap, noStayOnDiagonal, reachCorner, reachOrigin, reachOutside];

describe('grid 6 x 4 without properties', () => {
  it('24 states, 66 transitions (20 right, 18 up, 4 wrap, 24 stay), depth 8', () => {
    const r = check(gridModel(W, H), []);
    expect(r.stats.distinctStates).toBe(24);
    expect(r.stats.transitions).toBe(66);
    expect(r.stats.depth).toBe(8);
    expect(r.stats.levels).toEqual([1, 2, 3, 4, 4, 4, 3, 2, 1]);
  });
});

describe('stopAtFirstViolation: false', () => {
  const model = gridModel(W, H);
  const r = check(model, all, { stopAtFirstViolation: false });
  const byKey = r.status === 'violation' ? new Map(r.violations.map((v) => [`${v.property}/${v.finding.key ?? ''}`, v])) : new Map();

  it('explores everything and reports 11 violations: 6 keys of sum-below-3, 1 of no-wrap, 4 keys of no-stay-on-diagonal', () => {
    expect(r.status).toBe('violation');
    expect(r.exhausted).toBe(true);
    expect(r.cutBy).toBeNull();
    expect(r.stats.distinctStates).toBe(24);
    expect(r.stats.transitions).toBe(66);
    expect([...byKey.keys()].sort()).toEqual(
      [
        ...['x=0', 'x=1', 'x=2', 'x=3', 'x=4', 'x=5'].map((k) => `sum-below-3/${k}`),
        'no-wrap/',
        ...['d=0', 'd=1', 'd=2', 'd=3'].map((k) => `no-stay-on-diagonal/${k}`),
      ].sort(),
    );
    expect(byKey.size).toBe(11);
    if (r.status === 'violation') expect(r.violations).toHaveLength(11);
  });

  it('state property: the first violation of each key, shortest (x=0..3: 3 steps, x=4: 4, x=5: 5)', () => {
    for (let x = 0; x < W; x++) {
      const v = byKey.get(`sum-below-3/x=${x}`)!;
      expect(v.kind).toBe('state');
      expect(v.path.actions.length).toBe(Math.max(3, x));
      const final = replayPath(model, v.path).final;
      expect(final.x).toBe(x);
      expect(final.x + final.y).toBe(Math.max(3, x));
    }
  });

  it('step property on a transition to an already-visited state: wrap from (5,0) to (0,0), 6 steps', () => {
    const v = byKey.get('no-wrap/')!;
    expect(v.kind).toBe('step');
    expect(v.finding.message).toBe('(5,0) -> (0,0) wrap');
    expect(v.path.actions.length).toBe(W);
    const replayed = replayPath(model, v.path);
    expect(replayed.steps.at(-1)!.action).toBe('wrap');
    expect(replayed.steps.at(-1)!.before).toEqual({ x: 5, y: 0 });
    expect(replayed.final).toEqual({ x: 0, y: 0 });
  });

  it('step property on self-loops: stay at (d,d) after 2d steps, path of 2d+1', () => {
    for (let d = 0; d < 4; d++) {
      const v = byKey.get(`no-stay-on-diagonal/d=${d}`)!;
      expect(v.kind).toBe('step');
      expect(v.path.actions.length).toBe(2 * d + 1);
      const replayed = replayPath(model, v.path);
      expect(replayed.steps.at(-1)!.action).toBe('stay');
      expect(replayed.final).toEqual({ x: d, y: d });
    }
  });

  it('reachable properties: shortest examples (corner 8 steps, origin 0) and the unreached one listed', () => {
    expect(r.examples.map((e) => [e.property, e.path.actions.length])).toEqual([
      ['reach-origin', 0],
      ['reach-corner', 8],
    ]);
    expect(replayPath(model, r.examples[1].path).final).toEqual({ x: W - 1, y: H - 1 });
    expect(r.unreached).toEqual(['reach-outside']);
  });
});

describe('stopAtFirstViolation: true (default)', () => {
  it('stops at the first violation: the self-loop at (0,0), 1 step', () => {
    const r = check(gridModel(W, H), all);
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0].property).toBe('no-stay-on-diagonal');
    expect(r.violations[0].path).toEqual({ init: 0, actions: [2] }); // right, up, stay
    expect(r.exhausted).toBe(false);
    expect(r.cutBy).toBeNull();
    expect(r.stats.transitions).toBe(3);
    expect(r.stats.distinctStates).toBe(3);
  });

  it('without the self-loop property, the first state violation is at distance 3', () => {
    const r = check(gridModel(W, H), [sumBelow3, noWrap, reachCorner, reachOutside]);
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0].property).toBe('sum-below-3');
    expect(r.violations[0].path.actions).toHaveLength(3);
    expect(r.stats.depth).toBe(3);
    // the search stopped before the corner: both reachable properties are unreached so far
    expect(r.examples).toEqual([]);
    expect(r.unreached).toEqual(['reach-corner', 'reach-outside']);
  });

  it('a violating initial state is reported with an empty path', () => {
    const bad: Property<number, 'inc', null> = { kind: 'state', name: 'nonzero', description: '', check: (s) => (s === 0 ? { message: 'zero' } : null) };
    const r = check(counterModel(5), [bad]);
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations[0].path).toEqual({ init: 0, actions: [] });
    expect(r.stats.transitions).toBe(0);
    expect(r.stats.distinctStates).toBe(1);
  });
});

describe('step properties see every transition, self-loops included', () => {
  it('counter mod 7: a step property counting calls sees 7 transitions, the last one back to the visited 0', () => {
    const calls: [number, number][] = [];
    const spy: Property<number, 'inc', null> = {
      kind: 'step',
      name: 'spy',
      description: '',
      check: (before, _a, _o, after) => {
        calls.push([before, after]);
        return null;
      },
    };
    const r = check(counterModel(7), [spy]);
    expect(r.stats.transitions).toBe(7);
    expect(calls).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
      [5, 6],
      [6, 0],
    ]);
  });

  it('grid: the step property is called once per transition (66)', () => {
    let n = 0;
    const spy: P = {
      kind: 'step',
      name: 'spy',
      description: '',
      check: () => {
        n++;
        return null;
      },
    };
    check(gridModel(W, H), [spy]);
    expect(n).toBe(66);
  });
});
