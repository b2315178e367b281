/**
 * The counterexample file: versioned, self-describing JSON. It holds the configuration, the
 * variant, the violated invariant, every step (operation, arguments, return value, failures,
 * what changed) and the fingerprints of the states, so that replay can tell whether it reproduces.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { retName } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import type { HypFailure, PkvmState } from '../model/state.ts';
import type { SubCall } from '../model/kernel/base.ts';
import type { Change } from './describe.ts';

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
  readonly cpu?: { readonly cpu: number; readonly from: string; readonly to: string; readonly holds: readonly string[]; readonly finished: boolean } | null;
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

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Validates the shape of a parsed trace file; throws a one-line TraceFormatError naming the first problem. */
export function validateTrace(x: unknown): TraceFile {
  if (!isObj(x)) throw new TraceFormatError('not a JSON object');
  if (x.format !== TRACE_FORMAT) throw new TraceFormatError(`"format" is ${JSON.stringify(x.format)}, expected "${TRACE_FORMAT}"`);
  if (x.version !== TRACE_VERSION) throw new TraceFormatError(`unsupported version ${JSON.stringify(x.version)} (this pkvm-check reads version ${TRACE_VERSION})`);
  if (typeof x.variant !== 'string') throw new TraceFormatError('"variant" must be a string');
  if (!isObj(x.config)) throw new TraceFormatError('"config" must be an object');
  if (typeof x.init !== 'number' || !Number.isInteger(x.init) || x.init < 0) throw new TraceFormatError('"init" must be a non-negative integer');
  if (!Array.isArray(x.steps)) throw new TraceFormatError('"steps" must be an array');
  x.steps.forEach((s: unknown, i: number) => {
    if (!isObj(s)) throw new TraceFormatError(`step ${i + 1} is not an object`);
    if (!isObj(s.action) || typeof s.action.op !== 'string' || !isObj(s.action.args)) throw new TraceFormatError(`step ${i + 1}: "action" must be {op, args}`);
    for (const [k, v] of Object.entries(s.action.args)) if (typeof v !== 'number' && typeof v !== 'boolean') throw new TraceFormatError(`step ${i + 1}: argument ${k} must be a number or a boolean`);
    if (typeof s.actionIndex !== 'number') throw new TraceFormatError(`step ${i + 1}: "actionIndex" must be a number`);
    if (typeof s.ret !== 'number') throw new TraceFormatError(`step ${i + 1}: "ret" must be a number`);
    if (typeof s.fingerprint !== 'string') throw new TraceFormatError(`step ${i + 1}: "fingerprint" must be a string`);
  });
  if (x.violation !== null && (!isObj(x.violation) || typeof x.violation.invariant !== 'string'))
    throw new TraceFormatError('"violation" must be null or an object with an "invariant" name');
  return x as unknown as TraceFile;
}

export function parseTrace(text: string): TraceFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new TraceFormatError(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return validateTrace(parsed);
}

export { retName };

/**
 * Writes a trace file: into a temporary file beside it, then renamed over it, so that a reader
 * (or a run interrupted while writing) never sees half a trace.
 */
export function writeTraceFile(file: string, trace: TraceFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(trace, null, 1)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
