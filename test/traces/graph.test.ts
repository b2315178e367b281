/**
 * The state graph (checker/graph.ts) on the toy models, whose node and edge counts are known in
 * closed form, and its DOT and Mermaid drawings (traces/diagram.ts).
 */
import { describe, expect, it } from 'vitest';
import { check, type Model } from '../../checker/index.ts';
import { GraphTooLarge, stateGraph } from '../../checker/graph.ts';
import { graphDiagram, toDot, toMermaid } from '../../traces/diagram.ts';
import { toySearch, type ToySpec } from '../toys/factories.ts';
import { ownCounts } from '../toys/own.ts';

type Any = Model<unknown, unknown, unknown>;
const graphOf = (spec: ToySpec, bounds = { maxStates: 10_000 } as { maxStates: number; maxDepth?: number }) => {
  const { model, properties } = toySearch(spec);
  return { model, properties, graph: stateGraph(model, properties, bounds) };
};

describe('state graph of the toys: exact node and edge counts', () => {
  const cases: [string, ToySpec, number, number, number][] = [
    // name, spec, nodes, edges, self-loops
    ['grid 3x2 (stay is the same object)', { toy: 'grid', w: 3, h: 2 }, 6, 2 * 2 + 3 * 1 + 2 + 6, 6],
    ['grid 4x3', { toy: 'grid', w: 4, h: 3 }, 12, 3 * 3 + 4 * 2 + 3 + 12, 12],
    ['counter 5, wrapping', { toy: 'counter', n: 5 }, 5, 5, 0],
    ['counter 5, a line', { toy: 'counter', n: 5, wrap: false }, 5, 4, 0],
    ['diamonds 3, self-loops the same object', { toy: 'diamonds', k: 3, selfLoop: 'same' }, 10, 22, 10],
    ['diamonds 3, self-loops an equal copy', { toy: 'diamonds', k: 3, selfLoop: 'copy' }, 10, 22, 10],
    ['binary tree of depth 3', { toy: 'tree', d: 3 }, 15, 14, 0],
    ['two initial states', { toy: 'twoInits' }, 13, 12, 0],
    ['own P=2 G=2', { toy: 'own', pages: 2, guests: 2 }, ownCounts(2, 2).states, ownCounts(2, 2).transitions, 0],
    ['own P=2 G=2, steps as bytes written', { toy: 'own', pages: 2, guests: 2, bytes: true }, ownCounts(2, 2).states, ownCounts(2, 2).transitions, 0],
  ];
  for (const [name, spec, nodes, edges, loops] of cases)
    it(name, () => {
      const { model, properties, graph } = graphOf(spec);
      expect(graph.nodes).toHaveLength(nodes);
      expect(graph.edges).toHaveLength(edges);
      expect(graph.edges.filter((e) => e.from === e.to)).toHaveLength(loops);
      // the same states and transitions as the breadth-first search
      // (without the properties, which would stop it at their first violation)
      const bfs = check(model, [], {});
      expect(bfs.stats.distinctStates).toBe(nodes);
      expect(bfs.stats.transitions).toBe(edges);
      // nodes in breadth-first order, every edge between known nodes
      graph.nodes.forEach((n, i) => expect(n.id).toBe(i));
      for (let i = 1; i < graph.nodes.length; i++) expect(graph.nodes[i].depth).toBeGreaterThanOrEqual(graph.nodes[i - 1].depth);
      for (const e of graph.edges) expect(graph.nodes[e.to].depth).toBeLessThanOrEqual(graph.nodes[e.from].depth + 1);
    });

  it('two initial states listed three times are two initial nodes', () => {
    expect(graphOf({ toy: 'twoInits' }).graph.nodes.filter((n) => n.initial).map((n) => n.state)).toEqual([{ x: 0 }, { x: 10 }]);
  });

  it('a depth bound leaves the states at the bound unexpanded', () => {
    const { graph } = graphOf({ toy: 'grid', w: 3, h: 2 }, { maxStates: 100, maxDepth: 1 });
    expect(graph.nodes.map((n) => [n.state, n.expanded])).toEqual([
      [{ x: 0, y: 0 }, true],
      [{ x: 1, y: 0 }, false],
      [{ x: 0, y: 1 }, false],
    ]);
    expect(graph.edges).toHaveLength(3); // right, up, stay from the origin
  });

  it('refuses a graph of more states than the bound', () => {
    const { model, properties } = toySearch({ toy: 'grid', w: 4, h: 3 });
    expect(() => stateGraph(model, properties, { maxStates: 11 })).toThrow(GraphTooLarge);
    expect(stateGraph(model, properties, { maxStates: 12 }).nodes).toHaveLength(12);
  });
});

describe('violations in the graph', () => {
  it('grid 3x2: the state and step properties that fail, on the nodes and edges where they fail', () => {
    const { graph } = graphOf({ toy: 'grid', w: 3, h: 2 });
    const bad = graph.nodes.filter((n) => n.violations.length);
    expect(bad.map((n) => [n.state, n.violations.map((v) => v.property)])).toEqual([[{ x: 2, y: 1 }, ['sum-below-3']]]);
    const edges = (p: string) => graph.edges.filter((e) => e.violations.some((v) => v.property === p)).map((e) => [graph.nodes[e.from].state, e.action]);
    expect(edges('no-wrap')).toEqual([
      [{ x: 2, y: 0 }, 'wrap'],
      [{ x: 2, y: 1 }, 'wrap'],
    ]);
    expect(edges('no-stay-on-diagonal')).toEqual([
      [{ x: 0, y: 0 }, 'stay'],
      [{ x: 1, y: 1 }, 'stay'],
    ]);
  });
});

describe('drawings', () => {
  const draw = () => {
    const { model, graph } = graphOf({ toy: 'grid', w: 3, h: 2 });
    return graphDiagram('grid 3x2', graph, { state: (s) => [JSON.stringify(s)], step: (a) => (model as Any).describeAction!(a) });
  };
  it('DOT: one statement per node and per edge, violations in red, the initial state doubled', () => {
    const dot = toDot(draw());
    expect(dot.startsWith('digraph "grid 3x2" {')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    expect(dot.match(/^ {2}s\d+ \[label=/gm)).toHaveLength(6);
    expect(dot.match(/^ {2}s\d+ -> s\d+ /gm)).toHaveLength(15);
    expect(dot.match(/^ {2}s\d+ -> s\d+ .*color=red/gm)).toHaveLength(4);
    expect(dot).toMatch(/s5 \[label="state 5 \(depth 3\)\\l\{\\"x\\":2,\\"y\\":1\}\\lVIOLATES sum-below-3\\l", color=red/);
    expect(dot).toMatch(/s0 \[label="[^"]*initial state\\l", peripheries=2\]/);
  });
  it('Mermaid: a flowchart with every node and edge, quotes and pipes as entity codes', () => {
    const d = draw();
    const m = toMermaid({ ...d, edges: d.edges.map((e, i) => (i === 0 ? { ...e, label: 'a "b" | c' } : e)) });
    expect(m).toMatch(/^---\ntitle: "grid 3x2"\n---\nflowchart TD\n/);
    expect(m.match(/^ {2}s\d+\["/gm)).toHaveLength(6);
    expect(m.match(/^ {2}s\d+ -->\|"[^"]*"\| s\d+$/gm)).toHaveLength(15);
    expect(m).toContain('-->|"a #quot;b#quot; #124; c"|');
    expect(m).toMatch(/class s5 violation;/);
    expect(m.match(/linkStyle ([\d,]+) /)![1].split(',')).toHaveLength(4);
  });
});

