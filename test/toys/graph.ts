/**
 * A directed graph given by adjacency lists: a state is a node, the enabled actions of node n are
 * its out-edges in list order (duplicates and self-loops allowed), an action is the target node.
 */
import type { Model } from '../../checker/index.ts';

export interface Graph {
  readonly adj: readonly (readonly number[])[];
  readonly initial: readonly number[];
}

export function graphModel(g: Graph, opts: { decode?: boolean } = {}): Model<number, number, null> {
  const model: Model<number, number, null> = {
    initialStates: () => g.initial,
    actions: (n) => g.adj[n],
    step: (_n, to) => ({ state: to, outcome: null }),
    encode: (n) => new Uint8Array([n & 0xff, n >>> 8]),
    describeAction: (to) => `-> ${to}`,
  };
  if (opts.decode ?? true) model.decode = (b) => b[0] | (b[1] << 8);
  return model;
}

/** Independent multi-source BFS: distance of every node from the nearest initial node (-1: unreachable). */
export function bfsDistances(g: Graph): number[] {
  const dist = new Array<number>(g.adj.length).fill(-1);
  const queue: number[] = [];
  for (const s of g.initial)
    if (dist[s] < 0) {
      dist[s] = 0;
      queue.push(s);
    }
  for (let h = 0; h < queue.length; h++) {
    const n = queue[h];
    for (const m of g.adj[n])
      if (dist[m] < 0) {
        dist[m] = dist[n] + 1;
        queue.push(m);
      }
  }
  return dist;
}
