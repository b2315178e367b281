/**
 * Threads: a toy concurrent program for partial-order reduction. Each thread runs a straight
 * program of instructions over shared variables (values modulo `mod`); a state is the threads'
 * program counters then the variables. Footprints: regions 0..V-1 are the variables, V+t the
 * program counter of thread t.
 */
import type { Model, Property } from '../../checker/index.ts';

export type Instr =
  | { readonly op: 'inc'; readonly x: number }
  | { readonly op: 'copy'; readonly x: number; readonly from: number }
  | { readonly op: 'await'; readonly x: number; readonly value: number }
  | { readonly op: 'local' }
  /** Back to the first instruction (loops make states recur at other depths). */
  | { readonly op: 'back' };

export interface ThreadsSpec {
  readonly vars: number;
  readonly mod: number;
  readonly threads: readonly (readonly Instr[])[];
}

export interface ThreadAction {
  readonly thread: number;
}

export function threadsModel(spec: ThreadsSpec): Model<Uint8Array, ThreadAction, number> & { regions: number } {
  const T = spec.threads.length;
  const V = spec.vars;
  const regions = V + T;
  const words = Math.ceil(regions / 32);
  const actions = spec.threads.map((_, t) => ({ thread: t }));
  const instr = (s: Uint8Array, t: number): Instr | null => spec.threads[t][s[t]] ?? null;
  const enabled = (s: Uint8Array, t: number): boolean => {
    const i = instr(s, t);
    return i !== null && (i.op !== 'await' || s[T + i.x] === i.value);
  };
  const mark = (fp: Uint32Array, region: number, write: boolean) => {
    fp[region >>> 5] |= 1 << (region & 31);
    if (write) fp[words + (region >>> 5)] |= 1 << (region & 31);
  };
  const run = (s: Uint8Array, t: number, fp: Uint32Array | null) => {
    const i = instr(s, t)!;
    const n = s.slice();
    n[t] = i.op === 'back' ? 0 : n[t] + 1;
    if (fp) mark(fp, V + t, true);
    switch (i.op) {
      case 'inc':
        n[T + i.x] = (s[T + i.x] + 1) % spec.mod;
        if (fp) mark(fp, i.x, true);
        break;
      case 'copy':
        n[T + i.x] = s[T + i.from];
        if (fp) {
          mark(fp, i.from, false);
          mark(fp, i.x, true);
        }
        break;
      case 'await':
        if (fp) mark(fp, i.x, false);
        break;
      case 'local':
      case 'back':
        break;
    }
    return n;
  };
  return {
    regions,
    initialStates: () => [new Uint8Array(T + V)],
    actions: (s) => actions.filter((a) => enabled(s, a.thread)),
    step: (s, a) => ({ state: run(s, a.thread, null), outcome: s[a.thread] }),
    encode: (s) => s,
    decode: (b) => b,
    stepWithFootprint(s, a) {
      const fp = new Uint32Array(2 * words);
      const state = run(s, a.thread, fp);
      return { state, outcome: s[a.thread], footprint: fp };
    },
    actionId: (a) => a.thread,
    describeAction: (a) => `thread ${a.thread}`,
  };
}

/** Properties over the variables: "variable x never holds v", and a step property on one thread's instruction. */
export function threadsProperties(spec: ThreadsSpec, bad: readonly { x: number; value: number }[], stepBad?: { thread: number; pc: number }): Property<Uint8Array, ThreadAction, number>[] {
  const T = spec.threads.length;
  const props: Property<Uint8Array, ThreadAction, number>[] = bad.map(({ x, value }) => ({
    kind: 'state',
    name: `v${x}-not-${value}`,
    description: '',
    check: (s: Uint8Array) => (s[T + x] === value ? { message: `v${x} = ${value}` } : null),
  }));
  if (stepBad)
    props.push({
      kind: 'step',
      name: `no-t${stepBad.thread}-pc${stepBad.pc}`,
      description: '',
      check: (_b, a, pc) => (a.thread === stepBad.thread && pc === stepBad.pc ? { message: `thread ${a.thread} ran instruction ${pc}` } : null),
    });
  props.push({ kind: 'reachable', name: 'all-done', description: '', holds: (s) => spec.threads.every((p, t) => s[t] === p.length) });
  return props;
}
