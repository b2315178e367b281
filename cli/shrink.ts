/**
 * `pkvm-check shrink <trace>`: a trace file's violation on fewer pages, domains, guests, CPUs,
 * slots and steps (traces/shrink.ts), written as a trace file of the smaller configuration.
 */
import type { Variant } from '../model/variant.ts';
import { writeTraceFile } from '../traces/format.ts';
import { ShrinkError, shrinkTrace, type ShrinkResult } from '../traces/shrink.ts';
import { UsageError } from './errors.ts';
import { selectProperty } from '../invariants/index.ts';
import { loadTraceFor } from './run.ts';

export interface ShrinkReport {
  readonly file: string;
  readonly out: string;
  readonly variant: Variant;
  readonly invariant: string;
  readonly result: ShrinkResult;
  /** The variant as named on the command line (a module's path must be given again to replay). */
  readonly variantSource?: string;
}

/** Where a shrunk trace goes unless told: beside the input, `.shrunk` before its extension. */
export function shrunkFileName(file: string): string {
  return file.endsWith('.json') ? `${file.slice(0, -5)}.shrunk.json` : `${file}.shrunk`;
}

export async function runShrink(file: string, out: string, variant: Variant | null, resolve: (name: string) => Promise<Variant>, variantSource?: string): Promise<ShrinkReport> {
  const { trace, variant: v } = await loadTraceFor(file, variant, resolve);
  let result: ShrinkResult;
  try {
    result = shrinkTrace(trace, v, selectProperty);
  } catch (e) {
    if (e instanceof ShrinkError) throw new UsageError(`cannot shrink ${file}: ${e.message}`);
    throw e;
  }
  writeTraceFile(out, result.trace);
  return { file, out, variant: v, invariant: trace.violation!.invariant, result, variantSource };
}
