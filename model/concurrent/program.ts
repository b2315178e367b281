/**
 * Concurrent mode: an operation runs as a small program of labelled steps, so that other CPUs,
 * the hyp allocator and the devices can act between its steps. A step runs atomically; it ends
 * where the kernel code would wait for a lock (the next step takes the lock, or the CPU waits),
 * or where an unlocked shared counter is touched. Steps call the model's kernel functions (the
 * pieces), so a variant that replaces a piece changes the steps that call it.
 *
 * A program's locals are small integers (pfn indices, page counts, return values): they live in
 * the state, in the CPU's frame.
 */
import type { Lock } from '../kernel/base.ts';
import type { Hyp } from '../kernel/hyp.ts';

export type Next =
  | { readonly k: 'goto'; readonly label: string }
  | { readonly k: 'acquire'; readonly lock: Lock; readonly label: string }
  | { readonly k: 'call'; readonly prog: string; readonly args: readonly number[]; readonly into: string; readonly label: string }
  | { readonly k: 'yield'; readonly label: string }
  | { readonly k: 'return'; readonly value: number };

/** Continue at another label in the same step. */
export const goto = (label: string): Next => ({ k: 'goto', label });
/** End the step; the next step of this CPU takes the lock (or waits for it) and runs the label. */
export const acquire = (lock: Lock, label: string): Next => ({ k: 'acquire', lock, label });
/** Run another program with these parameters; its return value goes into a local, then the label runs. */
export const call = (prog: string, args: readonly number[], into: string, label: string): Next => ({ k: 'call', prog, args, into, label });
/** End the step here (an unlocked shared access follows); the next step runs the label. */
export const pause = (label: string): Next => ({ k: 'yield', label });
export const done = (value: number): Next => ({ k: 'return', value });

export type Locals = Record<string, number>;
export type StepFn = (h: Hyp, l: Locals) => Next;

export interface Program {
  readonly name: string;
  /** Parameters, in call order (they are the first locals). */
  readonly params: readonly string[];
  /** Other locals (initially 0). */
  readonly locals: readonly string[];
  readonly entry: string;
  readonly steps: Readonly<Record<string, StepFn>>;
  /**
   * Pieces whose logic the program spells out step by step. If a variant replaces one of them,
   * the program cannot know the new logic, and the operation runs the replaced piece in one step
   * after taking `locks`.
   */
  readonly spells?: readonly string[];
  /** The locks the operation takes, in order (for that fallback). */
  readonly locks?: readonly Lock[];
  /** That fallback: the piece itself, called with the parameters once the locks are taken. */
  readonly fallback?: (h: Hyp, l: Readonly<Record<string, number>>) => number;
  /**
   * The implementations of the spelled pieces the program was written against (set by
   * defineVariant for a variant's programs; the built-in programs follow the seed's pieces). A
   * variant whose piece differs runs the fallback.
   */
  readonly writtenAgainst?: Readonly<Record<string, unknown>>;
}

export function defineProgram(p: Program): Program {
  if (!(p.entry in p.steps)) throw new Error(`program ${p.name}: no entry step '${p.entry}'`);
  if (p.params.length + p.locals.length > 8) throw new Error(`program ${p.name}: more than 8 locals`);
  return p;
}
