/** Reading a trace file of either format, told apart by its content: native (format.ts) or ITF (itf.ts). */
import { parseJson, validateTrace, type TraceFile } from './format.ts';
import { importItf, isItf, type ImportedItf } from './itf.ts';

export interface LoadedTrace {
  /** The trace (rebuilt from the ITF file's states and steps when it is one). */
  readonly trace: TraceFile;
  /** The ITF file decoded, when it is one: its states are compared with the replayed ones. */
  readonly itf: ImportedItf | null;
}

/** Parses and validates a trace file's text; throws a one-line TraceFormatError. */
export function parseAnyTrace(text: string): LoadedTrace {
  const parsed = parseJson(text);
  if (isItf(parsed)) {
    const itf = importItf(parsed);
    return { trace: itf.trace, itf };
  }
  return { trace: validateTrace(parsed), itf: null };
}
