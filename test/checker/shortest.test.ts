/**
 * BFS gives shortest counterexamples: on random small graphs the checker's path to a bad node has
 * exactly the BFS distance computed independently here, and it replays to that node.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, replayPath, type Property } from '../../checker/index.ts';
import { bfsDistances, graphModel, type Graph } from '../toys/graph.ts';
import { withoutDecode } from '../toys/util.ts';

const graphArb: fc.Arbitrary<{ g: Graph; bad: number }> = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    g: fc.record({
      adj: fc.array(fc.array(fc.nat({ max: n - 1 }), { maxLength: 4 }), { minLength: n, maxLength: n }),
      initial: fc.array(fc.nat({ max: n - 1 }), { minLength: 1, maxLength: 3 }),
    }),
    bad: fc.nat({ max: n - 1 }),
  }),
);

const notBad = (bad: number): Property<number, number, null> => ({
  kind: 'state',
  name: 'not-bad',
  description: `node ${bad} is never reached`,
  check: (n) => (n === bad ? { message: `reached ${bad}` } : null),
});

const noEdgeIntoBad = (bad: number): Property<number, number, null> => ({
  kind: 'step',
  name: 'no-edge-into-bad',
  description: `no edge into node ${bad} is taken`,
  check: (_from, _to, _o, after) => (after === bad ? { message: `edge into ${bad}` } : null),
});

const reachBad = (bad: number): Property<number, number, null> => ({
  kind: 'reachable',
  name: 'reach-bad',
  description: `node ${bad} can be reached`,
  holds: (n) => n === bad,
});

describe('BFS finds shortest counterexamples on random graphs', () => {
  it('state property: path length = BFS distance, replays to the bad node; otherwise the reachable part is counted exactly', () => {
    fc.assert(
      fc.property(graphArb, fc.boolean(), ({ g, bad }, decode) => {
        const base = graphModel(g);
        const model = decode ? base : withoutDecode(base);
        const dist = bfsDistances(g);
        const r = check(model, [notBad(bad)]);
        if (dist[bad] >= 0) {
          expect(r.status).toBe('violation');
          if (r.status !== 'violation') return;
          expect(r.violations).toHaveLength(1);
          const path = r.violations[0].path;
          expect(path.actions.length).toBe(dist[bad]);
          const replayed = replayPath(model, path);
          expect(replayed.initial).toBe(g.initial[path.init]);
          expect(replayed.final).toBe(bad);
          expect(r.exhausted).toBe(false);
        } else {
          expect(r.status).toBe('ok');
          const reachable = dist.flatMap((d, n) => (d >= 0 ? [n] : []));
          const maxDist = Math.max(...dist);
          expect(r.exhausted).toBe(true);
          expect(r.stats.distinctStates).toBe(reachable.length);
          expect(r.stats.transitions).toBe(reachable.reduce((t, n) => t + g.adj[n].length, 0));
          expect(r.stats.depth).toBe(maxDist);
          expect(r.stats.levels).toEqual(Array.from({ length: maxDist + 1 }, (_, k) => dist.filter((d) => d === k).length));
        }
      }),
    );
  });

  it('step property: path length = shortest walk ending with an edge into the bad node (it may be already visited)', () => {
    fc.assert(
      fc.property(graphArb, ({ g, bad }) => {
        const model = graphModel(g);
        const dist = bfsDistances(g);
        // independent: min over reachable u with an edge u -> bad of dist[u] + 1
        let best = -1;
        g.adj.forEach((out, u) => {
          if (dist[u] >= 0 && out.includes(bad) && (best < 0 || dist[u] + 1 < best)) best = dist[u] + 1;
        });
        const r = check(model, [noEdgeIntoBad(bad)]);
        if (best < 0) {
          expect(r.status).toBe('ok');
          return;
        }
        expect(r.status).toBe('violation');
        if (r.status !== 'violation') return;
        expect(r.violations[0].kind).toBe('step');
        expect(r.violations[0].path.actions.length).toBe(best);
        const replayed = replayPath(model, r.violations[0].path);
        expect(replayed.final).toBe(bad);
        expect(replayed.steps.slice(0, -1).every((s) => s.after !== bad)).toBe(true);
      }),
    );
  });

  it('reachable property: shortest example, or listed as unreached', () => {
    fc.assert(
      fc.property(graphArb, ({ g, bad }) => {
        const model = graphModel(g);
        const dist = bfsDistances(g);
        const r = check(model, [reachBad(bad)]);
        expect(r.status).toBe('ok');
        if (dist[bad] >= 0) {
          expect(r.unreached).toEqual([]);
          expect(r.examples).toHaveLength(1);
          expect(r.examples[0].path.actions.length).toBe(dist[bad]);
          expect(replayPath(model, r.examples[0].path).final).toBe(bad);
        } else {
          expect(r.examples).toEqual([]);
          expect(r.unreached).toEqual(['reach-bad']);
        }
      }),
    );
  });
});
