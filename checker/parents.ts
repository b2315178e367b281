/**
 * Parent links of the search tree: for each state id, the id of the state it was first reached
 * from and the index of the action taken. 8 bytes per state; traces are rebuilt by replay.
 */
import type { Path } from './types.ts';

const ROOT = 0xffffffff;

export class ParentLinks {
  private parent = new Uint32Array(1 << 16);
  private action = new Uint32Array(1 << 16);
  private n = 0;

  /** The raw arrays, trimmed to size (for checkpoints). */
  raw(): { parent: Uint32Array; action: Uint32Array } {
    return { parent: this.parent.subarray(0, this.n), action: this.action.subarray(0, this.n) };
  }

  static fromRaw(parent: Uint32Array, action: Uint32Array): ParentLinks {
    const p = new ParentLinks();
    const cap = Math.max(1 << 16, parent.length * 2);
    p.parent = new Uint32Array(cap);
    p.action = new Uint32Array(cap);
    p.parent.set(parent);
    p.action.set(action);
    p.n = parent.length;
    return p;
  }

  get size(): number {
    return this.n;
  }

  get bytes(): number {
    return this.parent.byteLength + this.action.byteLength;
  }

  /** Records a state reached from `parent` by action `actionIndex` (an initial state: parent -1, action = its index). */
  add(parent: number, actionIndex: number): number {
    if (this.n === this.parent.length) {
      const p = new Uint32Array(this.n * 2);
      p.set(this.parent);
      this.parent = p;
      const a = new Uint32Array(this.n * 2);
      a.set(this.action);
      this.action = a;
    }
    this.parent[this.n] = parent < 0 ? ROOT : parent;
    this.action[this.n] = actionIndex;
    return this.n++;
  }

  /** Forgets the states from id `n` on (the parallel search, when a level is cut short). */
  truncate(n: number): void {
    this.n = Math.min(this.n, Math.max(0, n));
  }

  /** The path from an initial state to `id`, optionally followed by one more action. */
  path(id: number, extra?: number): Path {
    const actions: number[] = extra === undefined ? [] : [extra];
    let cur = id;
    while (this.parent[cur] !== ROOT) {
      actions.push(this.action[cur]);
      cur = this.parent[cur];
    }
    actions.reverse();
    return { init: this.action[cur], actions };
  }
}
