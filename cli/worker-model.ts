/**
 * `--workers N`: the pkvm search as a model factory for the parallel checker. Each worker thread
 * imports this module and calls `pkvmSearch` with the same JSON arguments, so it builds the model
 * and properties the CLI's own thread builds (searchFor), in the same order.
 */
import { availableParallelism } from 'node:os';
import { check } from '../checker/bfs.ts';
import { checkParallel, type ModelFactory } from '../checker/parallel.ts';
import type { CheckOptions, CheckResult, Model, Property } from '../checker/types.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { Variant } from '../model/variant.ts';
import { builtinVariant } from '../model/variants/index.ts';
import { diffSearch, searchFor, type Engine } from './engine.ts';
import { UsageError } from './errors.ts';
import { loadVariant } from './variants.ts';

export interface PkvmSearchArgs {
  readonly config: PkvmConfig;
  /** A built-in variant's name or a variant module's path, as on the command line. */
  readonly variant: string;
  readonly engine: Engine;
  readonly invariants?: readonly string[];
  /** Also the reachable properties (check has them, verify does not). */
  readonly reachables: boolean;
}

/** The factory the workers call. */
export async function pkvmSearch(args: PkvmSearchArgs): Promise<{ model: unknown; properties: readonly unknown[] }> {
  const variant = await loadVariant(args.variant);
  const search = searchFor(args.config, variant, args.engine, args.invariants);
  return { model: search.model, properties: args.reachables ? [...search.properties, ...search.reachables] : search.properties };
}

export function pkvmFactory(args: PkvmSearchArgs): ModelFactory {
  return { module: import.meta.url, export: 'pkvmSearch', args };
}

export interface PkvmDiffArgs {
  readonly config: PkvmConfig;
  /** The two variants, by name or module path, as on the command line. */
  readonly a: string;
  readonly b: string;
  readonly engine?: string;
}

/** The factory of `diff --workers`: the product of the two variants and the agreement property, as the CLI's thread builds them. */
export async function pkvmDiff(args: PkvmDiffArgs): Promise<{ model: unknown; properties: readonly unknown[] }> {
  const search = diffSearch(args.config, await loadVariant(args.a), await loadVariant(args.b), args.engine);
  return { model: search.model, properties: search.properties };
}

export function pkvmDiffFactory(args: PkvmDiffArgs): ModelFactory {
  return { module: import.meta.url, export: 'pkvmDiff', args };
}

/** How the workers find the variant: as given on the command line, else by its built-in name. */
export function variantSource(variant: Variant, source: string | undefined): string {
  if (source !== undefined) return source;
  if (builtinVariant(variant.name) === variant) return variant.name;
  throw new UsageError(`--workers needs variant '${variant.name}' by name or module path`);
}

/** The sequential search (workers 1 or unset), or the parallel one, which finds the same states, violations and traces. */
export function searchWith<S, A, O>(
  workers: number | undefined,
  factory: () => ModelFactory,
  model: Model<S, A, O>,
  properties: readonly Property<S, A, O>[],
  options: CheckOptions,
): CheckResult {
  if (workers === undefined || workers <= 1) return check(model, properties, options);
  return checkParallel(factory(), { ...options, workers });
}

/**
 * Validates --workers: a positive integer, and more than 1 only without the options the parallel
 * search leaves to the sequential one (`conflicts`: flag name -> whether it is given).
 */
export function workersOption(workers: number | undefined, conflicts: Readonly<Record<string, unknown>> = {}): number {
  if (workers === undefined) return 1;
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer (got ${workers})`);
  const cores = availableParallelism();
  if (workers > 4 * cores) throw new UsageError(`--workers ${workers} is more than 4 per core (this machine has ${cores}): at most ${4 * cores}`);
  if (workers > 1)
    for (const [flag, given] of Object.entries(conflicts))
      if (given !== undefined && given !== false) throw new UsageError(`--workers ${workers} cannot be combined with --${flag} (the parallel search has no ${flag} mode; use --workers 1)`);
  return workers;
}
