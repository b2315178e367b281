/**
 * The commands' logic: each builds a report (plain data), and output.ts prints it and picks the
 * exit code. Nothing here prints, except progress lines on stderr.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { check, randomWalks, type CheckResult, type Progress, type Violation } from '../checker/index.ts';
import { selectProperties, pkvmReachables, type PkvmProperty } from '../invariants/index.ts';
import type { PkvmConfig } from '../model/config.ts';
import { ConfigError, validateConfig } from '../model/config.ts';
import { PkvmModel } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { buildTrace } from '../traces/build.ts';
import { parseTrace, TraceFormatError, type TraceFile } from '../traces/format.ts';
import { replayTrace, type TraceReplay } from '../traces/replay.ts';
import { UsageError } from './errors.ts';

export interface WrittenTrace {
  readonly invariant: string;
  readonly length: number;
  /** What distinguishes this violation from others of the same invariant (e.g. the kernel function). */
  readonly key: string | null;
  readonly file: string | null;
  readonly trace: TraceFile;
}

export interface CheckReport {
  readonly mode: 'bfs' | 'random';
  readonly variant: Variant;
  readonly config: PkvmConfig;
  readonly invariants: readonly string[];
  readonly result: CheckResult | null;
  readonly random?: { seed: number; runs: number; steps: number; seconds: number; replayPath?: string };
  readonly traces: readonly WrittenTrace[];
  readonly bounds: { depth?: number; maxStates?: number; timeLimit?: number };
  readonly command: string;
}

export interface CheckRequest {
  readonly config: PkvmConfig;
  readonly variant: Variant;
  readonly invariants?: readonly string[];
  readonly depth?: number;
  readonly maxStates?: number;
  readonly timeLimit?: number;
  readonly all: boolean;
  readonly traceOut: string | null;
  readonly random?: { seed: number; runs: number };
  readonly progress?: (p: Progress) => void;
  readonly command: string;
}

function propertiesFor(config: PkvmConfig, names: readonly string[] | undefined, variant: Variant): PkvmProperty[] {
  try {
    return selectProperties(config, names, variant);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function traceFileName(base: string, invariant: string, first: boolean): string {
  if (first) return base;
  const tag = invariant.replace(/[^a-z0-9._-]+/gi, '_');
  return base.endsWith('.json') ? `${base.slice(0, -5)}.${tag}.json` : `${base}.${tag}`;
}

function writeTraces(model: PkvmModel, props: readonly PkvmProperty[], violations: readonly Violation[], traceOut: string | null): WrittenTrace[] {
  return violations.map((v, i) => {
    const description = props.find((p) => p.name === v.property)?.description ?? '';
    const trace = buildTrace(model, v.path, { ...v, description });
    const file = traceOut ? traceFileName(traceOut, v.finding.key ? `${v.property}.${v.finding.key}` : v.property, i === 0) : null;
    if (file) writeFileSync(file, `${JSON.stringify(trace, null, 1)}\n`);
    return { invariant: v.property, length: v.path.actions.length, key: v.finding.key ?? null, file, trace };
  });
}

export function runCheck(req: CheckRequest): CheckReport {
  const model = new PkvmModel(req.config, req.variant);
  const props = propertiesFor(req.config, req.invariants, req.variant);
  const bounds = { depth: req.depth, maxStates: req.maxStates, timeLimit: req.timeLimit };
  if (req.random) {
    const r = randomWalks(model, props, { seed: req.random.seed, runs: req.random.runs, depth: req.depth ?? 50, timeLimitSeconds: req.timeLimit });
    const traces = r.status === 'violation' ? writeTraces(model, props, [r.violation], req.traceOut) : [];
    return {
      mode: 'random',
      variant: req.variant,
      config: req.config,
      invariants: props.map((p) => p.name),
      result: null,
      random: { seed: r.seed, runs: r.runs, steps: r.steps, seconds: r.seconds, replayPath: r.status === 'violation' ? r.replayPath : undefined },
      traces,
      bounds,
      command: req.command,
    };
  }
  const result = check(model, [...props, ...pkvmReachables(req.config, req.variant)], {
    maxDepth: req.depth,
    maxStates: req.maxStates,
    timeLimitSeconds: req.timeLimit,
    stopAtFirstViolation: !req.all,
    onProgress: req.progress,
  });
  const traces = result.status === 'violation' ? writeTraces(model, props, result.violations, req.traceOut) : [];
  return { mode: 'bfs', variant: req.variant, config: req.config, invariants: props.map((p) => p.name), result, traces, bounds, command: req.command };
}

export interface ReplayReport {
  readonly file: string;
  readonly trace: TraceFile;
  readonly variant: Variant;
  readonly replay: TraceReplay;
}

export function loadTrace(file: string): TraceFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read trace file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseTrace(text);
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UsageError(`malformed trace file ${file}: ${e.message}`);
    throw e;
  }
}

export async function runReplay(file: string, variant: Variant | null, resolve: (name: string) => Promise<Variant>): Promise<ReplayReport> {
  const trace = loadTrace(file);
  let config: PkvmConfig;
  try {
    config = validateConfig(trace.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`malformed trace file ${file}: its configuration is invalid (${e.message})`);
    throw e;
  }
  const v = variant ?? (await resolve(trace.variant));
  const model = new PkvmModel(config, v);
  const props = selectProperties(config, undefined, v);
  if (trace.violation && !props.some((p) => p.name === trace.violation!.invariant))
    throw new UsageError(`malformed trace file ${file}: unknown invariant '${trace.violation.invariant}'`);
  return { file, trace, variant: v, replay: replayTrace(model, trace, props) };
}
