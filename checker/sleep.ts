/**
 * Partial-order reduction by sleep sets (Godefroid), for breadth-first search with state matching.
 *
 * Two actions enabled in a state commute when their footprints do not conflict (neither writes a
 * region the other reads or writes): the two orders reach the same state. After exploring `a`
 * from a state, every action explored before it there (and every action asleep there) that
 * commutes with `a` is put to sleep in `a`'s successor: the state it would lead to is reached by
 * the other order, at the same depth. Sleeping actions are not taken; every reachable state is
 * still visited, so state properties see every state and the first violation is still a shortest
 * one. What is saved is transitions: the model's steps, fingerprints and visited-set look-ups.
 *
 * State matching needs care: a state found again with a smaller sleep set keeps the intersection,
 * and a state already expanded is expanded again for the actions that were asleep only on the
 * first path (counted as re-expansions).
 *
 * A sleep set holds each action's id with its footprint: the footprint of an asleep action is
 * the same in the successor, since nothing it reads was written.
 */
import type { Footprint } from './types.ts';

export interface SleepEntry {
  readonly id: number;
  readonly fp: Footprint;
}

function sameEntries(a: readonly SleepEntry[], b: readonly SleepEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    if (a[k].id !== b[k].id) return false;
    const x = a[k].fp;
    const y = b[k].fp;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

/** Whether two footprints commute: no region written by one is read or written by the other. */
export function independent(a: Footprint, b: Footprint): boolean {
  const w = a.length >>> 1;
  for (let i = 0; i < w; i++) if ((a[w + i] & (b[i] | b[w + i])) | (b[w + i] & a[i])) return false;
  return true;
}

/** Interned sleep sets (entries sorted by id): states share them by index; index 0 is the empty set. */
export class SleepSets {
  private readonly sets: (readonly SleepEntry[])[] = [[]];
  /** Sets by a hash of their entries (ids and footprints); a bucket holds the indices that share it. */
  private readonly index = new Map<number, number | number[]>();

  get count(): number {
    return this.sets.length;
  }

  get(i: number): readonly SleepEntry[] {
    return this.sets[i];
  }

  /** The index of a set (entries sorted by id, ids distinct). */
  intern(entries: readonly SleepEntry[]): number {
    if (entries.length === 0) return 0;
    let h = 0x811c9dc5;
    for (const e of entries) {
      h = Math.imul(h ^ e.id, 0x01000193);
      for (let i = 0; i < e.fp.length; i++) h = Math.imul(h ^ e.fp[i], 0x01000193);
    }
    const bucket = this.index.get(h);
    if (bucket !== undefined)
      if (typeof bucket === 'number') {
        if (sameEntries(this.sets[bucket], entries)) return bucket;
      } else for (const i of bucket) if (sameEntries(this.sets[i], entries)) return i;
    const i = this.sets.length;
    this.sets.push(entries);
    this.index.set(h, bucket === undefined ? i : typeof bucket === 'number' ? [bucket, i] : [...bucket, i]);
    return i;
  }

  /** Whether every action of set a is in set b. */
  subset(a: number, b: number): boolean {
    if (a === b || a === 0) return true;
    const x = this.sets[a];
    const y = this.sets[b];
    let j = 0;
    for (const e of x) {
      while (j < y.length && y[j].id < e.id) j++;
      if (j === y.length || y[j].id !== e.id) return false;
    }
    return true;
  }

  /** The actions in both sets. */
  intersect(a: number, b: number): number {
    if (a === b) return a;
    if (a === 0 || b === 0) return 0;
    const y = this.sets[b];
    const out: SleepEntry[] = [];
    let j = 0;
    for (const e of this.sets[a]) {
      while (j < y.length && y[j].id < e.id) j++;
      if (j < y.length && y[j].id === e.id) out.push(e);
    }
    return this.intern(out);
  }
}

/** The expansion of one state: its sleep set, the actions explored so far, and (when it is expanded again) the only actions to take. */
export interface SleepContext {
  readonly asleep: readonly SleepEntry[];
  readonly explored: SleepEntry[];
  readonly only: readonly number[] | null;
}

/** The sleep-set bookkeeping of one search: a sleep set per state id, and the statistics. */
export class SleepSetReduction {
  readonly sets = new SleepSets();
  private sleepOf = new Uint32Array(1 << 16);
  /** Transitions not taken because the action was asleep. */
  skipped = 0;
  /** Already expanded states expanded again (for the actions that woke up) because they were found with a smaller sleep set. */
  reexpanded = 0;

  private grow(id: number): void {
    if (id < this.sleepOf.length) return;
    let n = this.sleepOf.length;
    while (n <= id) n *= 2;
    const a = new Uint32Array(n);
    a.set(this.sleepOf);
    this.sleepOf = a;
  }

  /** Starts expanding a state. */
  begin(id: number): SleepContext {
    return { asleep: this.sets.get(this.sleepOf[id]), explored: [], only: null };
  }

  /** Whether to take the action (it is not asleep; on a second expansion, it woke up). */
  take(ctx: SleepContext, actionId: number): boolean {
    if (ctx.only) return ctx.only.includes(actionId);
    const z = ctx.asleep;
    for (let i = 0; i < z.length; i++)
      if (z[i].id === actionId) {
        this.skipped++;
        return false;
      }
    return true;
  }

  /** The sleep set of the successor by an action with this footprint. */
  successorSleep(ctx: SleepContext, fp: Footprint): number {
    const z = ctx.asleep;
    const d = ctx.explored;
    if (z.length === 0 && d.length === 0) return 0;
    const out: SleepEntry[] = [];
    for (const e of z) if (independent(e.fp, fp)) out.push(e);
    for (const e of d) if (independent(e.fp, fp)) out.push(e);
    if (out.length === 0) return 0;
    if (z.length && d.length) out.sort((a, b) => a.id - b.id);
    return this.sets.intern(out);
  }

  /** The action was explored from the state being expanded (`explored` kept sorted by id). */
  explore(ctx: SleepContext, actionId: number, fp: Footprint): void {
    const d = ctx.explored;
    let lo = d.length;
    if (lo > 0 && d[lo - 1].id > actionId) {
      // actions come in id order within a CPU's group, not across groups: insert in place
      let a = 0;
      while (a < lo) {
        const m = (a + lo) >>> 1;
        if (d[m].id < actionId) a = m + 1;
        else lo = m;
      }
      d.splice(a, 0, { id: actionId, fp });
    } else d.push({ id: actionId, fp });
  }

  /** A new state's sleep set. */
  onNew(id: number, sleep: number): void {
    this.grow(id);
    this.sleepOf[id] = sleep;
  }

  /**
   * A state found again with sleep set `sleep`: it keeps the intersection. When it was already
   * expanded, the actions asleep the first time but not now must still be taken from it: the
   * context of that second expansion is returned.
   */
  foundAgain(id: number, sleep: number, expanded: boolean): SleepContext | null {
    const old = this.sleepOf[id];
    if (this.sets.subset(old, sleep)) return null;
    const both = this.sets.intersect(old, sleep);
    this.sleepOf[id] = both;
    if (!expanded) return null;
    this.reexpanded++;
    const keep = new Set(this.sets.get(both).map((e) => e.id));
    return { asleep: this.sets.get(both), explored: [], only: this.sets.get(old).filter((e) => !keep.has(e.id)).map((e) => e.id) };
  }

  get bytes(): number {
    return this.sleepOf.byteLength;
  }
}
