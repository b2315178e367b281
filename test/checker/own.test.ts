/**
 * The "Own" cross-check model: exact counts, checked against closed forms and the TLC/SPIN
 * figures of the team's reference notes.
 */
import { describe, expect, it } from 'vitest';
import { check, replayPath } from '../../checker/index.ts';
import { countMatches, describeOwnAction, ownCounts, ownedNotShared, ownModel, ownProperties } from '../toys/own.ts';

describe('Own model (correct)', () => {
  it('P=1, G=1 by hand: 3 states, 4 transitions, depth 1', () => {
    // host-exclusive (donate, share), owned by g0 (reclaim), shared with g0 (unshare)
    const r = check(ownModel({ pages: 1, guests: 1 }), ownProperties);
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(3);
    expect(r.stats.transitions).toBe(4);
    expect(r.stats.depth).toBe(1);
    expect(r.stats.levels).toEqual([1, 2]);
    expect(r.exhausted).toBe(true);
    expect(r.cutBy).toBeNull();
    expect(r.stats.queued).toBe(0);
  });

  it('P=3, G=2: 125 states, 600 transitions, depth 3, levels 1/12/48/64', () => {
    const r = check(ownModel({ pages: 3, guests: 2 }), ownProperties);
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(125);
    expect(r.stats.transitions).toBe(600);
    expect(r.stats.depth).toBe(3);
    expect(r.stats.levels).toEqual([1, 12, 48, 64]);
    expect(r.exhausted).toBe(true);
    expect(r.cutBy).toBeNull();
  });

  it.each([
    [1, 1, 3, 4, 1],
    [2, 1, 9, 24, 2],
    [1, 3, 7, 12, 1],
    [3, 2, 125, 600, 3],
    [4, 3, 2401, 16464, 4],
    [5, 2, 3125, 25000, 5],
    [6, 1, 729, 5832, 6],
  ])('P=%i, G=%i: %i states, %i transitions, depth %i (closed forms)', (P, G, states, transitions, depth) => {
    const expected = ownCounts(P, G);
    expect(expected.states).toBe(states);
    expect(expected.transitions).toBe(transitions);
    const r = check(ownModel({ pages: P, guests: G }), ownProperties);
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(states);
    expect(r.stats.transitions).toBe(transitions);
    expect(r.stats.depth).toBe(depth);
    expect(r.stats.levels).toEqual(expected.levels);
    expect(r.exhausted).toBe(true);
  });

  // TLC/SPIN, P=7, G=3: 823,543 distinct states, 9,882,517 states generated (initial state
  // included), 8 BFS levels (level 0 included). Measured here: about 4-6 s.
  //
  // P=8, G=3 (TLC: 5,764,801 states, 79,060,129 generated, 9 levels) is left out: it runs in
  // 49 s and 2 GB RSS on this 2-core machine (measured: 5,764,801 states, 79,060,128
  // transitions, depth 8, levels 1/48/1008/12096/90720/435456/1306368/2239488/1679616).
  it('P=7, G=3 matches TLC and SPIN: 823,543 states, 9,882,516 transitions, depth 7', () => {
    const tlc = { distinct: 823_543, generated: 9_882_517, levels: 8 };
    const r = check(ownModel({ pages: 7, guests: 3 }), ownProperties);
    expect(r.status).toBe('ok');
    expect(r.stats.distinctStates).toBe(tlc.distinct);
    expect(r.stats.transitions).toBe(tlc.generated - 1);
    expect(r.stats.transitions).toBe(9_882_516);
    expect(r.stats.depth).toBe(tlc.levels - 1);
    expect(r.stats.levels.length).toBe(tlc.levels);
    expect(r.stats.levels).toEqual([1, 42, 756, 7560, 45360, 163296, 326592, 279936]);
    expect(r.exhausted).toBe(true);
    expect(r.cutBy).toBeNull();
    expect(r.stats.queued).toBe(0);
    expect(r.unreached).toEqual([]);
    expect(r.examples).toEqual([]);
  });
});

describe("Own model, buggy variant (share skips the owner check)", () => {
  const replayedNames = (P: number, G: number, actions: readonly number[]) => {
    const m = ownModel({ pages: P, guests: G, variant: 'share-skips-owner-check' });
    return replayPath(m, { init: 0, actions }).steps.map((s) => describeOwnAction(s.action));
  };

  it.each([
    [3, 2],
    [7, 3],
  ])('P=%i, G=%i: shortest counterexample is donate(p,g); share(p,g), 2 steps, and it replays', (P, G) => {
    const model = ownModel({ pages: P, guests: G, variant: 'share-skips-owner-check' });
    const r = check(model, ownProperties);
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    expect(r.violations).toHaveLength(1);
    const v = r.violations[0];
    expect(v.property).toBe('owned-not-shared');
    expect(v.kind).toBe('state');
    expect(v.path.init).toBe(0);
    expect(v.path.actions).toHaveLength(2);
    expect(r.exhausted).toBe(false);
    expect(r.cutBy).toBeNull();
    expect(r.stats.depth).toBe(2);

    const replayed = replayPath(model, v.path);
    const [first, second] = replayed.steps.map((s) => s.action);
    expect(first.kind).toBe('donate');
    expect(second.kind).toBe('share');
    if (first.kind !== 'donate' || second.kind !== 'share') return;
    expect(second.page).toBe(first.page);
    expect(second.guest).toBe(first.guest);
    // with this model's action order the very first one found is on page 0, guest 0
    expect(replayed.steps.map((s) => describeOwnAction(s.action))).toEqual(['donate(0,0)', 'share(0,0)']);
    expect(ownedNotShared.check(replayed.final)).toMatchObject({ key: 'page 0' });
    expect(countMatches.check(replayed.final)).toBeNull();
    expect(replayed.final.owner[0]).toBe(0);
    expect(replayed.final.shared[0]).toBe(0);
  });

  it('P=3, G=2, all violations: one per page, each donate(p,0); share(p,0); whole space (1+G)^(2P) = 729 states', () => {
    const model = ownModel({ pages: 3, guests: 2, variant: 'share-skips-owner-check' });
    const r = check(model, ownProperties, { stopAtFirstViolation: false });
    expect(r.status).toBe('violation');
    if (r.status !== 'violation') return;
    // each page: host-exclusive, owned by g, shared with g, owned by g and shared with g': 1+2G+G^2
    expect(r.stats.distinctStates).toBe(729);
    // per page value: 2G + G(1+G) + G + 2G^2 actions = 20; P * 20 * 9^(P-1)
    expect(r.stats.transitions).toBe(4860);
    expect(r.stats.depth).toBe(6);
    expect(r.exhausted).toBe(true);
    expect(r.violations.map((v) => [v.property, v.finding.key, v.path.actions.length])).toEqual([
      ['owned-not-shared', 'page 0', 2],
      ['owned-not-shared', 'page 1', 2],
      ['owned-not-shared', 'page 2', 2],
    ]);
    for (const v of r.violations) {
      const p = Number(v.finding.key!.slice('page '.length));
      expect(replayedNames(3, 2, v.path.actions)).toEqual([`donate(${p},0)`, `share(${p},0)`]);
      const final = replayPath(model, v.path).final;
      expect(ownedNotShared.check(final)).not.toBeNull();
    }
  });
});
