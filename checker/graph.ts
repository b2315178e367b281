/**
 * The state graph of a small model, to draw it: every reachable state (within a depth bound) as a
 * node, every transition as an edge (self-loops included), the failing properties on each. States
 * are expanded by the expansion step every search uses (expand.ts), so the graph has exactly the
 * states and transitions a breadth-first search of the same bounds visits.
 */
import { Expander } from './expand.ts';
import { PropertySet } from './properties.ts';
import type { Model, Property } from './types.ts';

/** A property that fails on a node or an edge. */
export interface Failing {
  readonly property: string;
  readonly message: string;
}

export interface GraphNode<S> {
  /** Its index in `nodes`: states are numbered in breadth-first order. */
  readonly id: number;
  readonly state: S;
  /** Its breadth-first depth (initial states: 0). */
  readonly depth: number;
  readonly initial: boolean;
  /** False for a state at the depth bound, whose transitions were not followed. */
  readonly expanded: boolean;
  readonly violations: readonly Failing[];
}

export interface GraphEdge<A, O> {
  readonly from: number;
  readonly to: number;
  readonly action: A;
  readonly outcome: O;
  readonly violations: readonly Failing[];
}

export interface StateGraph<S, A, O> {
  readonly nodes: readonly GraphNode<S>[];
  readonly edges: readonly GraphEdge<A, O>[];
}

/** The graph has more states than the bound allows (a picture of it would not be readable). */
export class GraphTooLarge extends Error {
  override readonly name = 'GraphTooLarge';
  constructor(readonly maxStates: number) {
    super(`the state graph has more than ${maxStates} states`);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Builds the graph of the states reachable within `maxDepth` steps; throws GraphTooLarge past `maxStates` states. */
export function stateGraph<S, A, O>(model: Model<S, A, O>, properties: readonly Property<S, A, O>[], bounds: { readonly maxStates: number; readonly maxDepth?: number }): StateGraph<S, A, O> {
  const props = new PropertySet(properties);
  const expander = new Expander(model, props);
  const maxDepth = bounds.maxDepth ?? Infinity;
  const ids = new Map<string, number>();
  const nodes: Mutable<GraphNode<S>>[] = [];
  const edges: GraphEdge<A, O>[] = [];

  const nodeOf = (key: Uint8Array, state: () => S, depth: number): number => {
    const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    const known = ids.get(k);
    if (known !== undefined) return known;
    if (nodes.length >= bounds.maxStates) throw new GraphTooLarge(bounds.maxStates);
    const s = state();
    const violations: Failing[] = [];
    props.judgeState(s, (i, f) => violations.push({ property: props.state[i].name, message: f.message }));
    nodes.push({ id: nodes.length, state: s, depth, initial: false, expanded: false, violations });
    ids.set(k, nodes.length - 1);
    return nodes.length - 1;
  };

  for (const s of model.initialStates()) nodes[nodeOf(expander.keyOf(s), () => s, 0)].initial = true;
  // nodes are appended in breadth-first order: expanding them in index order is the search
  for (let id = 0; id < nodes.length; id++) {
    const node = nodes[id];
    if (node.depth >= maxDepth) continue;
    node.expanded = true;
    let found: Failing[] = [];
    const edge = (ai: number, to: number) => {
      edges.push({ from: id, to, action: expander.action(ai), outcome: expander.outcome(), violations: found });
      found = [];
    };
    expander.expand(node.state, {
      stepFinding(_ai, k, f) {
        found.push({ property: props.step[k].name, message: f.message });
        return false;
      },
      successor(ai) {
        edge(ai, nodeOf(expander.successorKey(), () => expander.successorState(), node.depth + 1));
        return false;
      },
      unchanged(ai) {
        edge(ai, id);
      },
    });
  }
  return { nodes, edges };
}
