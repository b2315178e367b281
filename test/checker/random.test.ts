/** randomWalks: reproducible from its seed, finds and shrinks the buggy Own counterexample, ok on a correct model. */
import { describe, expect, it } from 'vitest';
import { check, randomWalks, replayPath, type Property, type RandomResult } from '../../checker/index.ts';
import { counterModel } from '../toys/counter.ts';
import { gridModel, type Cell, type GridAction } from '../toys/grid.ts';
import { countMatches, describeOwnAction, ownedNotShared, ownModel, ownProperties } from '../toys/own.ts';

const withoutTime = (r: RandomResult) => ({ ...r, seconds: 0 });
const buggy = (P: number, G: number) => ownModel({ pages: P, guests: G, variant: 'share-skips-owner-check' });

describe('randomWalks', () => {
  it('same seed, same result (buggy and correct Own, several seeds)', () => {
    for (const seed of [0, 1, 42, 20230201]) {
      for (const model of [buggy(4, 2), ownModel({ pages: 4, guests: 2 })]) {
        const a = randomWalks(model, ownProperties, { seed, runs: 200, depth: 20 });
        const b = randomWalks(model, ownProperties, { seed, runs: 200, depth: 20 });
        expect(withoutTime(b)).toEqual(withoutTime(a));
        expect(a.seed).toBe(seed);
      }
    }
  });

  it.each([
    [3, 2, 0],
    [4, 2, 1],
    [7, 3, 42],
    [7, 3, 20230201],
  ])('buggy Own P=%i, G=%i, seed %i: finds the violation; the shrunk path replays to a violating state', (P, G, seed) => {
    const model = buggy(P, G);
    const r = randomWalks(model, ownProperties, { seed, runs: 200, depth: 20 });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.property).toBe('owned-not-shared');
    expect(r.violation.kind).toBe('state');
    expect(r.replayPath).not.toBe('');
    // BFS's shortest counterexample has 2 steps; shrinking gets to 2 or, rarely, 3 (about 3% of seeds)
    expect(r.violation.path.actions.length).toBeGreaterThanOrEqual(2);
    expect(r.violation.path.actions.length).toBeLessThanOrEqual(3);
    const replayed = replayPath(model, r.violation.path);
    expect(ownedNotShared.check(replayed.final)).toEqual(r.violation.finding);
    expect(countMatches.check(replayed.final)).toBeNull();
    // no earlier state on the path violates it (the walk stops at the first violation)
    expect([replayed.initial, ...replayed.steps.slice(0, -1).map((s) => s.after)].every((s) => ownedNotShared.check(s) === null)).toBe(true);
    const names = replayed.steps.map((s) => describeOwnAction(s.action));
    expect(names.at(-1)).toMatch(/^share\(/);
  });

  it('buggy Own P=3, G=2, seed 0: shrinks to exactly donate(0,0); share(0,0), the BFS counterexample', () => {
    const model = buggy(3, 2);
    const r = randomWalks(model, ownProperties, { seed: 0, runs: 200, depth: 20 });
    const bfs = check(model, ownProperties);
    expect(r.status).toBe('violation');
    expect(bfs.status).toBe('violation');
    if (r.status !== 'violation' || bfs.status !== 'violation') return;
    expect(r.violation.path).toEqual(bfs.violations[0].path);
    expect(replayPath(model, r.violation.path).steps.map((s) => describeOwnAction(s.action))).toEqual(['donate(0,0)', 'share(0,0)']);
  });

  it('correct Own P=7, G=3: ok after all runs', () => {
    const r = randomWalks(ownModel({ pages: 7, guests: 3 }), ownProperties, { seed: 7, runs: 300, depth: 40 });
    expect(r.status).toBe('ok');
    expect(r.runs).toBe(300);
    expect(r.steps).toBeGreaterThan(0);
    expect(r.steps).toBeLessThanOrEqual(300 * 40);
  });

  it('a step violation is reported with its last step, and replays', () => {
    const noWrap: Property<Cell, GridAction, GridAction> = {
      kind: 'step',
      name: 'no-wrap',
      description: '',
      check: (_b, a) => (a === 'wrap' ? { message: 'wrap' } : null),
    };
    const model = gridModel(3, 2);
    const r = randomWalks(model, [noWrap], { seed: 3, runs: 500, depth: 30 });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.kind).toBe('step');
    expect(r.violation.path.actions.length).toBeGreaterThanOrEqual(3); // right, right, wrap at least
    expect(replayPath(model, r.violation.path).steps.at(-1)!.action).toBe('wrap');
  });

  it('a violating initial state is found with an empty path', () => {
    const bad: Property<number, 'inc', null> = { kind: 'state', name: 'nonzero', description: '', check: (s) => (s === 0 ? { message: 'zero' } : null) };
    const r = randomWalks(counterModel(5), [bad], { seed: 1, runs: 10, depth: 5 });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violation.path).toEqual({ init: 0, actions: [] });
  });
});
