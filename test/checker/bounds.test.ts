/** Bounds: maxDepth, maxStates, timeLimitSeconds, and the unbounded run. */
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/index.ts';
import { counterModel } from '../toys/counter.ts';
import { binomial, ownModel, ownProperties } from '../toys/own.ts';
import { twoInitsModel } from '../toys/twoInits.ts';

/** Own: transitions generated when levels 0..D-1 are expanded: sum C(P,k)(2G)^k (k + (P-k)2G). */
function ownTransitionsUpTo(P: number, G: number, D: number): number {
  let t = 0;
  for (let k = 0; k < Math.min(D, P + 1); k++) t += binomial(P, k) * (2 * G) ** k * (k + (P - k) * 2 * G);
  return t;
}

describe('maxDepth', () => {
  // Own P=3, G=2: levels 1, 12, 48, 64
  it.each([
    // maxDepth, states, transitions, depth, queued
    [0, 1, 0, 0, 1],
    [1, 13, 12, 1, 12],
    [2, 61, 120, 2, 48],
    [3, 125, 408, 3, 64],
  ])('Own P=3, G=2, maxDepth %i: %i states, %i transitions, depth %i, %i queued, cut by depth', (maxDepth, states, transitions, depth, queued) => {
    expect(ownTransitionsUpTo(3, 2, maxDepth)).toBe(transitions);
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { maxDepth });
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(states);
    expect(r.stats.transitions).toBe(transitions);
    expect(r.stats.depth).toBe(maxDepth);
    expect(r.stats.depth).toBe(depth);
    expect(r.stats.levels).toEqual([1, 12, 48, 64].slice(0, maxDepth + 1));
    expect(r.stats.queued).toBe(queued);
    expect(r.cutBy).toBe('depth');
    expect(r.exhausted).toBe(false);
  });

  it('Own P=3, G=2, maxDepth 4 (beyond the deepest level 3): exhausted, not cut', () => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { maxDepth: 4 });
    expect(r.stats.distinctStates).toBe(125);
    expect(r.stats.transitions).toBe(600);
    expect(r.stats.depth).toBe(3);
    expect(r.cutBy).toBeNull();
    expect(r.exhausted).toBe(true);
  });

  it('Own P=6, G=3, maxDepth 3: 1 + 36 + 540 + 4320 = 4897 states, depth 3', () => {
    const r = check(ownModel({ pages: 6, guests: 3 }), ownProperties, { maxDepth: 3 });
    expect(r.stats.distinctStates).toBe(4897);
    expect(r.stats.levels).toEqual([1, 36, 540, 4320]);
    expect(r.stats.transitions).toBe(ownTransitionsUpTo(6, 3, 3));
    expect(r.stats.transitions).toBe(36 + 36 * 31 + 540 * 26);
    expect(r.stats.depth).toBe(3);
    expect(r.cutBy).toBe('depth');
  });

  it('counter mod 50, maxDepth 10: 11 states, 10 transitions', () => {
    const r = check(counterModel(50), [], { maxDepth: 10 });
    expect(r.stats.distinctStates).toBe(11);
    expect(r.stats.transitions).toBe(10);
    expect(r.stats.depth).toBe(10);
    expect(r.stats.queued).toBe(1);
    expect(r.cutBy).toBe('depth');
    expect(r.exhausted).toBe(false);
  });
});

describe('maxStates', () => {
  it.each([2, 13, 14, 50, 124, 125])('Own P=3, G=2, maxStates %i: exactly that many states, cut by states', (maxStates) => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { maxStates });
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(maxStates);
    expect(r.stats.levels.reduce((a, b) => a + b, 0)).toBe(maxStates);
    expect(r.cutBy).toBe('states');
    expect(r.exhausted).toBe(false);
  });

  it('Own P=3, G=2, maxStates 50: levels 1, 12, 37, depth 2', () => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { maxStates: 50 });
    expect(r.stats.levels).toEqual([1, 12, 37]);
    expect(r.stats.depth).toBe(2);
    expect(r.stats.queued).toBeGreaterThan(0);
  });

  it('Own P=3, G=2, maxStates 126 (one more than reachable): exhausted, 125 states', () => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { maxStates: 126 });
    expect(r.stats.distinctStates).toBe(125);
    expect(r.cutBy).toBeNull();
    expect(r.exhausted).toBe(true);
  });

  it('counter mod 100, maxStates 10: states 0..9, 9 transitions', () => {
    const r = check(counterModel(100), [], { maxStates: 10 });
    expect(r.stats.distinctStates).toBe(10);
    expect(r.stats.transitions).toBe(9);
    expect(r.stats.depth).toBe(9);
    expect(r.cutBy).toBe('states');
  });

  // maxStates also applies to the initial states (it once did not, and stopped one state late).
  it('counter mod 100, maxStates 1: stops after the initial state (1 state, cut by states)', () => {
    const r = check(counterModel(100), [], { maxStates: 1 });
    expect(r.stats.distinctStates).toBe(1);
    expect(r.cutBy).toBe('states');
  });

  it('twoInits, maxStates 2: stops after its 2 distinct initial states', () => {
    const r = check(twoInitsModel(), [], { maxStates: 2 });
    expect(r.stats.distinctStates).toBe(2);
    expect(r.cutBy).toBe('states');
  });

  it('twoInits, maxStates 3: 3 states (the first above the initial ones)', () => {
    const r = check(twoInitsModel(), [], { maxStates: 3 });
    expect(r.stats.distinctStates).toBe(3);
    expect(r.stats.levels).toEqual([2, 1]);
    expect(r.cutBy).toBe('states');
  });
});

describe('timeLimitSeconds', () => {
  it('0 on Own P=7, G=3 (823,543 states) stops quickly, cut by time', () => {
    const t0 = Date.now();
    const r = check(ownModel({ pages: 7, guests: 3 }), ownProperties, { timeLimitSeconds: 0 });
    const elapsed = (Date.now() - t0) / 1000;
    expect(r.status).toBe('ok');
    expect(r.cutBy).toBe('time');
    expect(r.exhausted).toBe(false);
    expect(r.stats.distinctStates).toBeGreaterThan(0);
    expect(r.stats.distinctStates).toBeLessThan(823_543 / 10);
    expect(r.stats.queued).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(2);
  });

  it('a generous limit does not cut a small model', () => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties, { timeLimitSeconds: 600 });
    expect(r.stats.distinctStates).toBe(125);
    expect(r.cutBy).toBeNull();
    expect(r.exhausted).toBe(true);
  });
});

describe('unbounded', () => {
  it('a finite model is exhausted, cutBy null, nothing queued', () => {
    for (const r of [check(ownModel({ pages: 4, guests: 2 }), ownProperties), check(counterModel(300), []), check(twoInitsModel(), [])]) {
      expect(r.status).toBe('ok');
      expect(r.exhausted).toBe(true);
      expect(r.cutBy).toBeNull();
      expect(r.stats.queued).toBe(0);
    }
  });

  it('progress is reported with consistent figures', () => {
    const seen: { depth: number; distinctStates: number; transitions: number }[] = [];
    const r = check(ownModel({ pages: 5, guests: 2 }), ownProperties, { progressIntervalMs: 0, onProgress: (p) => seen.push(p) });
    expect(r.stats.distinctStates).toBe(3125);
    expect(seen.length).toBeGreaterThan(0);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].distinctStates).toBeGreaterThanOrEqual(seen[i - 1].distinctStates);
      expect(seen[i].transitions).toBeGreaterThan(seen[i - 1].transitions);
    }
    expect(seen.at(-1)!.distinctStates).toBeLessThanOrEqual(3125);
  });
});
