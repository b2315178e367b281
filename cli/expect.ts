/**
 * Expected verdicts (`verify --expect FILE`, `verify --write-expect FILE`): a JSON file of
 * variant -> invariant -> "holds" | "violated" (optionally with the length of the shortest
 * violating trace), and the bounds it was recorded with. The file is validated against
 * schemas/expect.schema.json (ajv) and against the run before the search starts, so that a bad
 * file costs no search; the comparison itself comes after.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { selectProperties } from '../invariants/index.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { Variant } from '../model/variant.ts';
import { builtinVariant } from '../model/variants/index.ts';
import { UsageError } from './errors.ts';
import type { VerifyCell, VerifyReport } from './run.ts';

export const EXPECT_FORMAT = 'pkvm-check-expect';
export const EXPECT_VERSION = 1;

export type Verdict = 'holds' | 'violated';

export interface ExpectedVerdict {
  readonly verdict: Verdict;
  /** The length of the shortest violating trace (violated only; absent: not compared). */
  readonly length?: number;
}

/** The bounds a file's verdicts were recorded with: those of `verify` that change a verdict. */
export interface RecordedBounds {
  readonly depth?: number;
  readonly maxStates?: number;
  readonly config: Partial<PkvmConfig>;
}

export interface ExpectFile {
  readonly format: typeof EXPECT_FORMAT;
  readonly version: typeof EXPECT_VERSION;
  readonly generator?: string;
  readonly bounds?: RecordedBounds;
  readonly verdicts: Readonly<Record<string, Readonly<Record<string, Verdict | ExpectedVerdict>>>>;
}

/** A file checked against a run: the expected verdict of every variant x invariant the run checks. */
export interface Expectation {
  readonly file: string;
  /** variant -> invariant -> expected verdict, for the run's variants and invariants only. */
  readonly verdicts: ReadonlyMap<string, ReadonlyMap<string, ExpectedVerdict>>;
  /** False when the file records no bounds (they could not be compared). */
  readonly boundsRecorded: boolean;
}

export interface VerdictChange {
  readonly variant: string;
  readonly invariant: string;
  readonly expected: ExpectedVerdict;
  readonly got: { readonly status: VerifyCell['status']; readonly length?: number };
}

export interface ExpectComparison {
  readonly file: string;
  /** Verdicts compared (variant x invariant). */
  readonly compared: number;
  readonly changes: readonly VerdictChange[];
  readonly boundsRecorded: boolean;
}

/** What the run to compare is: known before its search starts. */
export interface VerifyRun {
  readonly config: PkvmConfig;
  readonly bounds: { readonly depth?: number; readonly maxStates?: number; readonly timeLimit?: number };
  readonly variants: readonly Variant[];
  readonly invariants?: readonly string[];
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** The schema shipped in schemas/, compiled once. */
function validate(x: unknown): readonly ErrorObject[] {
  if (!validator) {
    const schema = JSON.parse(readFileSync(new URL('../schemas/expect.schema.json', import.meta.url), 'utf8'));
    validator = new Ajv({ allErrors: false, strict: true }).compile(schema);
  }
  return validator(x) ? [] : (validator.errors ?? []);
}

/** One ajv error as a line a user can act on. */
function schemaError(e: ErrorObject): string {
  const where = e.instancePath || '/';
  const p = e.params as { allowedValues?: unknown[]; allowedValue?: unknown; additionalProperty?: string; missingProperty?: string };
  if (e.keyword === 'false schema') return `${where} is not allowed here`;
  if (p.additionalProperty !== undefined) return `${where}: unknown field "${p.additionalProperty}"`;
  if (p.allowedValues) return `${where} ${e.message} (${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
  if (p.allowedValue !== undefined) return `${where} must be ${JSON.stringify(p.allowedValue)}`;
  return `${where} ${e.message}`;
}

const verdictOf = (v: Verdict | ExpectedVerdict): ExpectedVerdict => (typeof v === 'string' ? { verdict: v } : v);
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The bounds that differ between a file and a run, each as `--flag recorded (this run: value)`. */
function boundDifferences(rec: RecordedBounds, run: VerifyRun): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'none' : String(v));
  const cmp = (flag: string, recorded: unknown, now: unknown) => {
    if (recorded !== now) out.push(`--${flag} ${show(recorded)} (this run: ${show(now)})`);
  };
  cmp('depth', rec.depth, run.bounds.depth);
  cmp('max-states', rec.maxStates, run.bounds.maxStates);
  if (run.bounds.timeLimit !== undefined) out.push(`--time-limit ${run.bounds.timeLimit} (a time bound makes verdicts depend on the machine; expected verdicts are recorded without one)`);
  const keys = new Set([...Object.keys(rec.config), ...Object.keys(run.config)]);
  for (const k of keys) cmp(kebab(k), (rec.config as Record<string, unknown>)[k], (run.config as unknown as Record<string, unknown>)[k]);
  return out;
}

/**
 * Reads and checks an expected-verdicts file against a run that has not started: schema, bounds,
 * every name known, every verdict of the run present. Any problem is a UsageError (exit 2).
 */
export function loadExpect(file: string, run: VerifyRun): Expectation {
  const bad = (why: string) => new UsageError(`--expect ${file}: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(code ? `cannot read it (${code})` : `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const errors = validate(parsed);
  if (errors.length) throw bad(`does not match schemas/expect.schema.json: ${schemaError(errors[0])}`);
  const x = parsed as ExpectFile;
  if (x.bounds) {
    const diffs = boundDifferences(x.bounds, run);
    if (diffs.length) throw bad(`recorded with other bounds than this run's: ${diffs.join('; ')} (give the same bounds, or record the verdicts again with --write-expect)`);
  }
  const allOf = (v: Variant) => selectProperties(run.config, undefined, v).map((p) => p.name);
  const verdicts = new Map<string, Map<string, ExpectedVerdict>>();
  for (const [name, invariants] of Object.entries(x.verdicts)) {
    const variant = run.variants.find((v) => v.name === name) ?? builtinVariant(name);
    if (!variant) throw bad(`unknown variant '${name}' (neither built in nor verified by this run)`);
    const known = allOf(variant);
    for (const inv of Object.keys(invariants)) if (!known.includes(inv)) throw bad(`unknown invariant '${inv}' for variant '${name}' (known: ${known.join(', ')})`);
  }
  for (const v of run.variants) {
    const recorded = x.verdicts[v.name];
    if (!recorded) throw bad(`records no verdicts for variant '${v.name}' (record them with --write-expect)`);
    let checked: string[];
    try {
      checked = selectProperties(run.config, run.invariants, v).map((p) => p.name);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const missing = checked.filter((inv) => !(inv in recorded));
    if (missing.length) throw bad(`records no verdict for variant '${v.name}' and invariant(s) ${missing.join(', ')} (record them with --write-expect)`);
    verdicts.set(v.name, new Map(checked.map((inv) => [inv, verdictOf(recorded[inv])])));
  }
  return { file, verdicts, boundsRecorded: x.bounds !== undefined };
}

/** Every verdict of the run against the file: the ones that changed. */
export function compareExpect(e: Expectation, r: VerifyReport): ExpectComparison {
  const changes: VerdictChange[] = [];
  let compared = 0;
  for (const row of r.rows) {
    const expected = e.verdicts.get(row.variant.name)!;
    for (const [inv, cell] of Object.entries(row.cells)) {
      const exp = expected.get(inv)!;
      compared++;
      const got = cell.status === 'violated' ? 'violated' : 'holds';
      const lengthChanged = got === 'violated' && exp.length !== undefined && exp.length !== cell.length;
      if (got !== exp.verdict || lengthChanged) changes.push({ variant: row.variant.name, invariant: inv, expected: exp, got: { status: cell.status, length: cell.length } });
    }
  }
  return { file: e.file, compared, changes, boundsRecorded: e.boundsRecorded };
}

/** The run's verdicts as an expected-verdicts file (with the bounds they hold for). */
export function expectFromReport(r: VerifyReport): ExpectFile {
  return {
    format: EXPECT_FORMAT,
    version: EXPECT_VERSION,
    generator: 'pkvm-check verify --write-expect',
    bounds: { ...(r.bounds.depth !== undefined ? { depth: r.bounds.depth } : {}), ...(r.bounds.maxStates !== undefined ? { maxStates: r.bounds.maxStates } : {}), config: r.config },
    verdicts: Object.fromEntries(
      r.rows.map((row) => [
        row.variant.name,
        Object.fromEntries(Object.entries(row.cells).map(([inv, c]) => [inv, c.status === 'violated' ? { verdict: 'violated' as const, length: c.length } : ('holds' as const)])),
      ]),
    ),
  };
}

/** Writes the run's verdicts (into a temporary file, then renamed over FILE). */
export function writeExpect(file: string, r: VerifyReport): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(expectFromReport(r), null, 2)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A verdict in words: `violated (3 steps)`, `holds within the bounds`. */
export function verdictText(v: { status: VerifyCell['status'] | Verdict; length?: number }): string {
  if (v.status === 'violated') return v.length !== undefined ? `violated (${v.length} step${v.length === 1 ? '' : 's'})` : 'violated';
  return v.status === 'holds-within-bounds' ? 'holds within the bounds' : 'holds';
}

/** One change as one line: variant, invariant, expected, got (with the trace lengths). */
export function changeLine(c: VerdictChange): string {
  return `${c.variant} ${c.invariant}: expected ${verdictText({ status: c.expected.verdict, length: c.expected.length })}, got ${verdictText(c.got)}`;
}
