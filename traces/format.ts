/**
 * The counterexample file: versioned, self-describing JSON. It holds the configuration, the
 * variant, the violated invariant, every step (operation, arguments, return value, failures,
 * what changed) and the fingerprints of the states, so that replay can tell whether it reproduces.
 * Its JSON Schema is schemas/pkvm-check-trace.schema.json.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { retName } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import type { HypFailure, PkvmState } from '../model/state.ts';
import type { SubCall } from '../model/kernel/base.ts';
import type { Change } from './describe.ts';
import { schemaError, TRACE_SCHEMA_ID } from './schema.ts';

export const TRACE_FORMAT = 'pkvm-check-trace';
export const TRACE_VERSION = 1;

export interface TraceStep {
  /** 1-based step number. */
  readonly step: number;
  readonly actor: string;
  /** Index of the action among those enabled in the state before (the checker's path). */
  readonly actionIndex: number;
  readonly action: PkvmAction;
  /** The call, printed as C. */
  readonly call: string;
  readonly ret: number;
  readonly retName: string;
  readonly failures: readonly HypFailure[];
  readonly subcalls: readonly SubCall[];
  readonly accesses: readonly { readonly by: string; readonly pfn: number }[];
  readonly changes: readonly Change[];
  /** Hex fingerprint of the state after the step. */
  readonly fingerprint: string;
  /** Concurrent mode: the CPU that stepped, where it went, the locks it holds after the step. */
  readonly cpu?: { readonly cpu: number; readonly op?: string; readonly from: string; readonly to: string; readonly holds: readonly string[]; readonly finished: boolean } | null;
  /** Concurrent mode: locks taken in the step. */
  readonly acquired?: readonly string[];
}

export interface TraceFile {
  readonly format: typeof TRACE_FORMAT;
  readonly version: typeof TRACE_VERSION;
  readonly generator: string;
  readonly variant: string;
  readonly config: PkvmConfig;
  readonly violation: {
    readonly invariant: string;
    readonly kind: 'state' | 'step' | 'recoverable';
    readonly message: string;
    readonly description: string;
    /**
     * A recoverable property: the trace ends in the stuck state; the obligation, the size of the
     * stuck state's closure (every state reachable from it, all explored, none discharging the
     * obligation), and why, line by line (what each enabled action does there).
     */
    readonly stuck?: { readonly key: string; readonly closure: number; readonly why: readonly string[] };
  } | null;
  readonly init: number;
  readonly initialState: PkvmState;
  readonly steps: readonly TraceStep[];
  readonly finalState: PkvmState;
}

export class TraceFormatError extends Error {
  override readonly name = 'TraceFormatError';
}

/**
 * Validates a parsed trace file against its JSON Schema (schemas/pkvm-check-trace.schema.json);
 * throws a one-line TraceFormatError naming the first problem and its JSON path.
 */
export function validateTrace(x: unknown): TraceFile {
  const error = schemaError(TRACE_SCHEMA_ID, x);
  if (error) throw new TraceFormatError(error);
  return x as TraceFile;
}

/** A file's JSON; throws a one-line TraceFormatError when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TraceFormatError(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

export function parseTrace(text: string): TraceFile {
  return validateTrace(parseJson(text));
}

export { retName };

/**
 * Writes a file into a temporary file beside it, then renames it over it, so that a reader (or
 * a run interrupted while writing) never sees half of it.
 */
export function writeFileAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes a trace file (native, or the text of another format), atomically. */
export function writeTraceFile(file: string, trace: TraceFile | string): void {
  writeFileAtomically(file, typeof trace === 'string' ? trace : `${JSON.stringify(trace, null, 1)}\n`);
}
