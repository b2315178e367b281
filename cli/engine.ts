/**
 * Which representation a search runs on. The compiled engine (byte states; each action's step
 * compiled on first use into a decision tree over the bytes it reads, from the same kernel code)
 * is the default; coverage counts calls of the kernel code, so it runs on the packed engine
 * (byte states, the kernel code run at every step); a variant whose code reads or writes the
 * state object directly (`this.s`) runs on the readable engine, which provides it.
 */
import type { Model, StepProperty } from '../checker/types.ts';
import { productModel, type Pair, type PairAction, type PairOutcome } from '../checker/product.ts';
import { agreement } from '../invariants/agreement.ts';
import { pkvmReachables, selectProperties, type PkvmProperty } from '../invariants/index.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { StateReader } from '../model/memory.ts';
import type { PkvmAction } from '../model/operations.ts';
import { actionKey, CompiledPkvmModel, PackedPkvmModel, PkvmModel, type PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { pieceNames } from '../model/kernel/hyp.ts';
import { UsageError } from './errors.ts';

export type Engine = 'compiled' | 'packed' | 'readable';
export const ENGINES: readonly Engine[] = ['compiled', 'packed', 'readable'];

/** Engines whose states are bytes (partial-order reduction, workers and checkpoints need them). */
export const isPacked = (e: Engine): boolean => e !== 'readable';

/** Does any piece or operation of the variant use the state object (`this.s` / `hyp.s`)? */
export function usesStateObject(variant: Variant): boolean {
  const uses = /\b(this|hyp|h)\.s\b(?![\w$])/;
  for (const name of pieceNames(variant.hyp)) {
    for (let p = variant.hyp.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name);
      if (d && typeof d.value === 'function') {
        const fn = d.value as Function & { __original?: Function };
        if (uses.test((fn.__original ?? fn).toString())) return true;
        break;
      }
    }
  }
  for (const op of variant.addOperations) for (const f of [op.run, op.enabled, op.ghost]) if (f && uses.test(f.toString())) return true;
  return false;
}

export function engineFor(variant: Variant, requested?: string, opts: { readonly coverage?: boolean } = {}): Engine {
  if (requested !== undefined && !ENGINES.includes(requested as Engine)) throw new UsageError(`--engine must be one of ${ENGINES.join(', ')} (got ${requested})`);
  if (requested !== undefined && requested !== 'readable' && usesStateObject(variant))
    throw new UsageError(`variant '${variant.name}' reads or writes the state object (this.s), which only the readable engine provides: use --engine readable`);
  if (requested === 'compiled' && opts.coverage)
    throw new UsageError('--coverage counts calls of the kernel code, which the compiled engine runs once per path: use --engine packed or readable');
  return (requested as Engine | undefined) ?? (usesStateObject(variant) ? 'readable' : opts.coverage ? 'packed' : 'compiled');
}

export interface Search {
  readonly engine: Engine;
  readonly model: Model<unknown, PkvmAction, PkvmOutcome> & { read(s: unknown): StateReader; describeAction(a: PkvmAction): string; operation(name: string): unknown };
  readonly properties: PkvmProperty<unknown>[];
  readonly reachables: ReturnType<typeof pkvmReachables<unknown>>;
}

/** The model and properties of a search on the chosen engine. */
export function searchFor(config: PkvmConfig, variant: Variant, engine: Engine, invariants?: readonly string[]): Search {
  const model = engine === 'compiled' ? new CompiledPkvmModel(config, variant) : engine === 'packed' ? new PackedPkvmModel(config, variant) : new PkvmModel(config, variant);
  const read = (s: unknown) => (model as { read(x: unknown): StateReader }).read(s);
  let properties: PkvmProperty<unknown>[];
  try {
    properties = selectProperties<unknown>(config, invariants, variant, read);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  return { engine, model: model as unknown as Search['model'], properties, reachables: pkvmReachables<unknown>(config, variant, read) };
}

type SideModel = Model<unknown, PkvmAction, PkvmOutcome> & { read(s: unknown): StateReader; operation(n: string): unknown; describeAction(a: PkvmAction): string };

export interface DiffSearch {
  readonly engine: Engine;
  /** The two sides, each on the engine. */
  readonly a: SideModel;
  readonly b: SideModel;
  readonly model: Model<Pair<unknown, unknown>, PairAction<PkvmAction>, PairOutcome<PkvmOutcome, PkvmOutcome>>;
  readonly properties: StepProperty<Pair<unknown, unknown>, PairAction<PkvmAction>, PairOutcome<PkvmOutcome, PkvmOutcome>>[];
}

/**
 * `diff`: the two variants in lockstep over the actions both know (with several CPUs, the
 * scheduler's own: a CPU's next step is an action of both), and the property that they agree.
 */
export function diffSearch(config: PkvmConfig, a: Variant, b: Variant, requested?: string): DiffSearch {
  const ea = engineFor(a, requested);
  const eb = engineFor(b, requested);
  const engine: Engine = ea === 'compiled' && eb === 'compiled' ? 'compiled' : isPacked(ea) && isPacked(eb) ? 'packed' : 'readable';
  const make = (v: Variant) => (engine === 'compiled' ? new CompiledPkvmModel(config, v) : engine === 'packed' ? new PackedPkvmModel(config, v) : new PkvmModel(config, v));
  const sa = make(a) as unknown as SideModel;
  const sb = make(b) as unknown as SideModel;
  const known = (x: PkvmAction) => x.op === 'step' || (sa.operation(x.op) !== undefined && sb.operation(x.op) !== undefined);
  const model = productModel(sa, sb, actionKey, known);
  // each side's states are read with its own model: packed layouts differ with the state extensions
  return { engine, a: sa, b: sb, model, properties: [agreement<unknown>(config, a, b, (s) => sa.read(s), (s) => sb.read(s))] };
}
