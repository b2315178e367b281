/**
 * Recoverability (RecoverableProperty: AG(pending k -> EF discharged k)), decided on the graph
 * the breadth-first search explored. The search keeps that graph only when such a property is
 * checked: for each state it expands, the ids of its successors (distinct states only: a step
 * that changes nothing cannot help), and for each state found, the masks of the obligations
 * pending and discharged there. After the search, backward reachability over the reversed edges
 * decides each state and obligation:
 *
 * - recoverable: an explored path leads to a state that discharges it (the path is a real run,
 *   whatever the bounds left unexplored);
 * - stuck: no explored path discharges it and every state it can reach was fully expanded (its
 *   whole future is known and discharges nothing): a definite violation;
 * - undecided: neither; a state the search did not expand (a bound or a stop cut it) is reachable
 *   from it, and what lies beyond is unknown.
 *
 * States are numbered as the search found them (ParentLinks ids), so the smallest stuck id has a
 * shortest path.
 */
import type { Model, RecoverabilityVerdict, RecoverableProperty, StuckWitness } from './types.ts';

/** Growable Uint32Array. */
function grown(a: Uint32Array, need: number): Uint32Array {
  if (need <= a.length) return a;
  const b = new Uint32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * The explored graph: edges in compressed rows (the successors of expanded state i are
 * targets[start[i] .. start[i + 1])), states expanded in id order, and the per-state masks of
 * each recoverable property.
 */
export class ExploredGraph<S> {
  private start: Uint32Array = new Uint32Array(1 << 12);
  private targets: Uint32Array = new Uint32Array(1 << 14);
  private m = 0;
  /** States fully expanded: ids 0 .. expanded-1. */
  private closed = 0;
  private readonly pendingMask: Uint32Array[];
  private readonly dischargedMask: Uint32Array[];
  private states = 0;

  constructor(readonly properties: readonly RecoverableProperty<S>[]) {
    for (const p of properties) if (p.keys.length > 32) throw new Error(`recoverable property ${p.name} has ${p.keys.length} keys (at most 32)`);
    this.pendingMask = properties.map(() => new Uint32Array(1 << 12));
    this.dischargedMask = properties.map(() => new Uint32Array(1 << 12));
  }

  /** A new state, of id `id` (ids are consecutive from 0): its obligations. */
  found(id: number, state: S): void {
    if (id !== this.states) throw new Error(`the explored graph expects state ${this.states}, got ${id}`);
    this.states++;
    for (let k = 0; k < this.properties.length; k++) {
      const p = this.properties[k];
      this.pendingMask[k] = grown(this.pendingMask[k], id + 1);
      this.dischargedMask[k] = grown(this.dischargedMask[k], id + 1);
      this.pendingMask[k][id] = p.pending(state);
      this.dischargedMask[k][id] = p.discharged(state);
    }
  }

  /** The expansion of state `id` begins (states are expanded in id order). */
  begin(id: number): void {
    if (id !== this.closed) throw new Error(`the explored graph expects the expansion of state ${this.closed}, got ${id}`);
    this.start = grown(this.start, id + 2);
    this.start[id] = this.m;
  }

  /** An edge from the state being expanded to state `to`. */
  edge(to: number): void {
    if (this.m === this.targets.length) this.targets = grown(this.targets, this.m + 1);
    this.targets[this.m++] = to;
  }

  /** The expansion ends: `complete` when every action was taken (else the state stays unexpanded and its edges are dropped). */
  end(complete: boolean): void {
    if (complete) this.start[++this.closed] = this.m;
    else this.m = this.start[this.closed];
  }

  get expanded(): number {
    return this.closed;
  }

  get edges(): number {
    return this.m;
  }

  get bytes(): number {
    return this.start.byteLength + this.targets.byteLength + this.pendingMask.reduce((t, a) => t + a.byteLength, 0) + this.dischargedMask.reduce((t, a) => t + a.byteLength, 0);
  }

  /** The number of states `from` can reach (itself included); all of them expanded when it is stuck. */
  closureSize(from: number): number {
    const seen = new Uint8Array(this.states);
    const queue = new Uint32Array(this.states);
    let t = 0;
    queue[t++] = from;
    seen[from] = 1;
    for (let h = 0; h < t; h++) {
      const x = queue[h];
      if (x >= this.closed) continue;
      for (let e = this.start[x]; e < this.start[x + 1]; e++) {
        const y = this.targets[e];
        if (!seen[y]) {
          seen[y] = 1;
          queue[t++] = y;
        }
      }
    }
    return t;
  }

  /**
   * Decides every property: the verdicts, and for each property and key the smallest stuck state
   * (the one with a shortest path), if any.
   */
  analyse(): { verdicts: RecoverabilityVerdict[]; stuck: { property: number; key: number; id: number }[] } {
    const n = this.states;
    const E = this.closed;
    // the reversed edges, in compressed rows: the predecessors of j are rsrc[rstart[j] .. rstart[j + 1])
    const rstart = new Uint32Array(n + 1);
    for (let e = 0; e < this.m; e++) rstart[this.targets[e] + 1]++;
    for (let j = 0; j < n; j++) rstart[j + 1] += rstart[j];
    const rsrc = new Uint32Array(this.m);
    const fill = rstart.slice(0, n);
    for (let i = 0; i < E; i++) for (let e = this.start[i]; e < this.start[i + 1]; e++) rsrc[fill[this.targets[e]]++] = i;
    const queue = new Uint32Array(n);
    /** Marks every state that can reach a seed (seeds: the states where `isSeed` holds). */
    const backward = (isSeed: (id: number) => boolean): Uint8Array => {
      const mark = new Uint8Array(n);
      let t = 0;
      for (let j = 0; j < n; j++)
        if (isSeed(j)) {
          mark[j] = 1;
          queue[t++] = j;
        }
      for (let h = 0; h < t; h++) {
        const j = queue[h];
        for (let e = rstart[j]; e < rstart[j + 1]; e++) {
          const i = rsrc[e];
          if (!mark[i]) {
            mark[i] = 1;
            queue[t++] = i;
          }
        }
      }
      return mark;
    };
    // the states whose future a bound cut: they reach a state not expanded
    const open = backward((j) => j >= E);
    const verdicts: RecoverabilityVerdict[] = [];
    const stuck: { property: number; key: number; id: number }[] = [];
    this.properties.forEach((p, pk) => {
      const pending = this.pendingMask[pk];
      const discharged = this.dischargedMask[pk];
      // per state: bit 0 some key stuck, bit 1 some key undecided
      const status = new Uint8Array(n);
      const byKey: RecoverabilityVerdict['byKey'][number][] = [];
      let any = 0;
      for (let j = 0; j < n; j++) any |= pending[j];
      for (let k = 0; k < p.keys.length; k++) {
        const bit = 1 << k;
        if (!(any & bit)) continue;
        const can = backward((j) => (discharged[j] & bit) !== 0);
        const c = { key: p.keys[k], pending: 0, recoverable: 0, stuck: 0, undecided: 0 };
        let first = -1;
        for (let j = 0; j < n; j++) {
          if (!(pending[j] & bit)) continue;
          c.pending++;
          if (can[j]) c.recoverable++;
          else if (open[j]) {
            c.undecided++;
            status[j] |= 2;
          } else {
            c.stuck++;
            status[j] |= 1;
            if (first < 0) first = j;
          }
        }
        byKey.push(c);
        if (first >= 0) stuck.push({ property: pk, key: k, id: first });
      }
      const v = { property: p.name, pending: 0, recoverable: 0, stuck: 0, undecided: 0, byKey };
      for (let j = 0; j < n; j++) {
        if (!pending[j]) continue;
        v.pending++;
        if (status[j] & 1) v.stuck++;
        else if (status[j] & 2) v.undecided++;
        else v.recoverable++;
      }
      verdicts.push(v);
    });
    stuck.sort((a, b) => a.id - b.id || a.property - b.property || a.key - b.key);
    return { verdicts, stuck };
  }

  /** The witness of a stuck state: its closure, and where each of its actions leads (`moves`: each action's successor id, or null when unchanged). */
  witness(key: string, id: number, moves: readonly (number | null)[]): StuckWitness {
    return { key, closure: this.closureSize(id), moves: moves.map((to, action) => ({ action, closure: to === null ? null : this.closureSize(to) })) };
  }
}

/** The finding of a stuck state. */
export function stuckMessage(w: StuckWitness): string {
  return `${w.key} can never be discharged from here: the ${w.closure} state(s) reachable from this state (itself included) were all explored and none discharges it`;
}

/** The same model, started from one state (replay explores a stuck state's future with it). */
export function rootedAt<S, A, O>(model: Model<S, A, O>, state: S): Model<S, A, O> {
  return {
    initialStates: () => [state],
    actions: (s) => model.actions(s),
    step: (s, a) => model.step(s, a),
    encode: (s) => model.encode(s),
    ...(model.decode ? { decode: (b: Uint8Array) => model.decode!(b) } : {}),
    ...(model.describeAction ? { describeAction: (a: A) => model.describeAction!(a) } : {}),
  };
}
