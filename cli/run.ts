/**
 * The commands' logic: each builds a report (plain data), and output.ts prints it and picks the
 * exit code. Nothing here prints, except progress lines on stderr.
 */
import { readFileSync } from 'node:fs';
import { CheckpointError, concretePath, randomWalks, type CheckResult, type Progress, type Violation } from '../checker/index.ts';
import { instrument, type CoverageReport } from '../model/coverage.ts';
import type { PkvmOutcome } from '../model/system.ts';
import type { PkvmAction } from '../model/operations.ts';
import { pkvmOptionalProperties, selectProperties, selectProperty } from '../invariants/index.ts';
import { diffSearch, engineFor, isPacked, searchFor, type Engine } from './engine.ts';
import type { PkvmConfig } from '../model/config.ts';
import { ConfigError, validateConfig } from '../model/config.ts';
import { PkvmModel } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import type { PkvmState } from '../model/state.ts';
import { buildTrace } from '../traces/build.ts';
import { TraceFormatError, writeTraceFile, type TraceFile } from '../traces/format.ts';
import { compareStates, itfText, traceStates, traceToItf, type StateMismatch } from '../traces/itf.ts';
import { parseAnyTrace, type LoadedTrace } from '../traces/load.ts';
import { IllegalStepError, replayTrace, type TraceReplay } from '../traces/replay.ts';
import { shrinkRun, type ShrinkResult } from '../traces/shrink.ts';
import { UsageError } from './errors.ts';
import { pkvmDiffFactory, pkvmFactory, searchWith, variantSource } from './worker-model.ts';
import { searchInThread } from './search-thread.ts';
import { retName } from '../model/constants.ts';
import { builtinVariant } from '../model/variants/index.ts';
import { refuseForRecoverable } from './recoverable.ts';
import { withStuckWitness } from './stuck.ts';

export interface WrittenTrace {
  readonly invariant: string;
  readonly length: number;
  /** What distinguishes this violation from others of the same invariant (e.g. the kernel function). */
  readonly key: string | null;
  readonly file: string | null;
  readonly trace: TraceFile;
  /** With --shrink: the sizes of the trace as found and as shrunk (its trace is `trace`). */
  readonly shrunk?: ShrinkResult;
}

export interface CheckReport {
  readonly mode: 'bfs' | 'random';
  readonly variant: Variant;
  readonly config: PkvmConfig;
  readonly invariants: readonly string[];
  readonly result: CheckResult | null;
  readonly random?: { seed: number; runs: number; requestedRuns: number; steps: number; longestWalk: number; interrupted: boolean; seconds: number; replayPath?: string };
  readonly traces: readonly WrittenTrace[];
  readonly bounds: { depth?: number; maxStates?: number; timeLimit?: number };
  readonly command: string;
  readonly coverage?: CoverageReport;
  readonly engine: Engine;
  /** The variant as named on the command line (a module's path must be given again to replay). */
  readonly variantSource?: string;
  /** The folder checkpoints were written to. */
  readonly checkpoint?: string;
  /** Several CPUs: the operations that run atomically between CPU steps. */
  readonly atomic: readonly string[];
  /** The HTML report written (--report). */
  readonly reportFile?: string;
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
  /** How often the search calls `progress` (default 2 s). */
  readonly progressIntervalMs?: number;
  readonly command: string;
  readonly coverage?: boolean;
  readonly engine?: string;
  readonly symmetry?: boolean;
  /** Partial-order reduction (sleep sets). */
  readonly por?: boolean;
  readonly bitstateBytes?: number;
  /** Frontier encodings kept in memory per level; the rest goes to a temporary file. */
  readonly frontierMemoryBytes?: number;
  readonly checkpoint?: { dir: string; everySeconds: number };
  readonly resume?: string;
  /** Worker threads of the breadth-first search (1: the sequential search). */
  readonly workers?: number;
  /** The variant as named on the command line (the workers load it themselves). */
  readonly variantSource?: string;
  /** Run the search in a thread of its own, which Ctrl-C stops (the command line's own process). */
  readonly interruptible?: boolean;
  /** Where to tell the user what Ctrl-C did. */
  readonly notice?: (text: string) => void;
  /** The format of the trace files written (default native). */
  readonly traceFormat?: TraceFormatName;
  /** Shrink each trace (fewer entities and steps) before writing it. */
  readonly shrink?: boolean;
}

export const TRACE_FORMATS = ['native', 'itf'] as const;
export type TraceFormatName = (typeof TRACE_FORMATS)[number];

function traceFileName(base: string, invariant: string, first: boolean): string {
  if (first) return base;
  const tag = invariant.replace(/[^a-z0-9._-]+/gi, '_');
  return base.endsWith('.json') ? `${base.slice(0, -5)}.${tag}.json` : `${base}.${tag}`;
}

/**
 * Traces are built on the readable model, whatever engine found them (the paths are the same);
 * with `shrink`, each is shrunk (on smaller configurations of that model) before it is written.
 * A recoverable property's trace keeps its stuck witness and is not shrunk (its violation is a
 * property of the explored graph, not of the path).
 */
function writeTraces(
  model: PkvmModel,
  props: readonly { name: string; description: string }[],
  violations: readonly Violation[],
  traceOut: string | null,
  format: TraceFormatName = 'native',
  shrink = false,
): WrittenTrace[] {
  return violations.map((v, i) => {
    const description = props.find((p) => p.name === v.property)?.description ?? '';
    const found = buildTrace(model, v.path, { ...v, description });
    const shrunk = shrink && !v.stuck ? shrinkRun(model.variant, model.config, found.steps.map((s) => s.action), { invariant: v.property, key: v.finding.key ?? null }, description, selectProperty) : null;
    const trace = v.stuck ? withStuckWitness(model, found, v.stuck) : (shrunk?.trace ?? found);
    const file = traceOut ? traceFileName(traceOut, v.finding.key ? `${v.property}.${v.finding.key}` : v.property, i === 0) : null;
    if (file) writeTraceFile(file, format === 'itf' ? itfText(traceToItf(trace, traceStates(model, trace))) : trace);
    return { invariant: v.property, length: trace.steps.length, key: v.finding.key ?? null, file, trace, ...(shrunk ? { shrunk } : {}) };
  });
}

export async function runCheck(req: CheckRequest): Promise<CheckReport> {
  const cov = req.coverage ? instrument(req.variant) : null;
  const variant = cov ? cov.variant : req.variant;
  const engine = engineFor(variant, req.engine, { coverage: !!cov });
  const search = searchFor(req.config, variant, engine, req.invariants);
  const model = search.model;
  const props = search.properties;
  const readable = new PkvmModel(req.config, req.variant);
  const bounds = { depth: req.depth, maxStates: req.maxStates, timeLimit: req.timeLimit };
  /** What the report says of the run, whatever the search. */
  const about = () => ({
    engine,
    variant: req.variant,
    config: req.config,
    invariants: props.map((p) => p.name),
    bounds,
    command: req.command,
    coverage: cov?.report(),
    variantSource: req.variantSource,
    atomic: readable.atomicOperations(),
  });
  refuseForRecoverable(props, { random: !!req.random, workers: req.workers, por: req.por, symmetry: req.symmetry, bitstate: req.bitstateBytes, checkpoint: req.checkpoint, resume: req.resume });
  if (req.random) {
    const r = randomWalks(model, props, { seed: req.random.seed, runs: req.random.runs, depth: req.depth ?? 50, timeLimitSeconds: req.timeLimit, onProgress: req.progress, progressIntervalMs: req.progressIntervalMs });
    const traces = r.status === 'violation' ? writeTraces(readable, props, [r.violation], req.traceOut, req.traceFormat, req.shrink) : [];
    return {
      ...about(),
      mode: 'random',
      result: null,
      random: {
        seed: r.seed,
        runs: r.runs,
        requestedRuns: r.requestedRuns,
        steps: r.steps,
        longestWalk: r.longestWalk,
        interrupted: r.interrupted,
        seconds: r.seconds,
        replayPath: r.status === 'violation' ? r.replayPath : undefined,
      },
      traces,
    };
  }
  if (req.symmetry && req.config.cpus > 1)
    throw new UsageError(
      `--symmetry cannot be combined with --cpus ${req.config.cpus}: a CPU's call record (its action and what it read) names domains and guests that the canonical form does not permute, so states that are not symmetric would be merged`,
    );
  if (req.symmetry && req.config.domainLifecycle)
    throw new UsageError("--symmetry cannot be combined with --domain-lifecycle: endpoints' stream table entries name domains that the canonical form does not permute");
  if (req.por) {
    if (!isPacked(engine)) throw new UsageError(`--por needs the packed or compiled engine (variant '${req.variant.name}' runs on the ${engine} one)`);
    for (const [flag, given] of Object.entries({ symmetry: req.symmetry, bitstate: req.bitstateBytes, checkpoint: req.checkpoint, resume: req.resume }))
      if (given !== undefined && given !== false) throw new UsageError(`--por cannot be combined with --${flag}`);
  }
  // a checkpoint belongs to one search: same command line bounds, variant and engine
  const identity = JSON.stringify({ config: req.config, variant: req.variant.name, engine, invariants: props.map((p) => p.name), symmetry: !!req.symmetry, bitstate: req.bitstateBytes ?? null });
  let result: CheckResult;
  try {
    const args = () => ({ config: req.config, variant: variantSource(req.variant, req.variantSource), engine, invariants: req.invariants, reachables: true });
    const options = {
      maxDepth: req.depth,
      maxStates: req.maxStates,
      timeLimitSeconds: req.timeLimit,
      stopAtFirstViolation: !req.all,
      onProgress: req.progress,
      progressIntervalMs: req.progressIntervalMs,
      symmetry: req.symmetry,
      por: req.por,
      bitstateBytes: req.bitstateBytes,
      frontierSpill: req.frontierMemoryBytes !== undefined ? { limitBytes: req.frontierMemoryBytes } : undefined,
      checkpoint: req.checkpoint ? { ...req.checkpoint, identity } : undefined,
      resume: req.resume ? { dir: req.resume, identity } : undefined,
    };
    // (coverage counts the calls of this thread's model: it runs here)
    result =
      req.interruptible && !cov
        ? await searchInThread(args(), req.workers, options, req.notice ?? (() => {}))
        : searchWith(req.workers, () => pkvmFactory(args()), model, [...props, ...search.reachables], options);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UsageError(e.message);
    throw e;
  }
  // under symmetry the paths run through representatives: turn them into ordinary runs
  const violations =
    result.status === 'violation' && req.symmetry
      ? result.violations.map((v) => {
          const prop = props.find((p) => p.name === v.property)!;
          const last = (b: unknown, a: PkvmAction, o: PkvmOutcome, s: unknown) => (prop.kind === 'step' ? prop.check(b, a, o, s) !== null : prop.kind === 'state' ? prop.check(s) !== null : true);
          return { ...v, path: concretePath(model, v.path, last) };
        })
      : result.status === 'violation'
        ? result.violations
        : [];
  const traces = violations.length ? writeTraces(readable, props, violations, req.traceOut, req.traceFormat, req.shrink) : [];
  return { ...about(), mode: 'bfs', result, traces, checkpoint: req.checkpoint?.dir };
}

export interface VerifyCell {
  readonly status: 'holds' | 'holds-within-bounds' | 'violated';
  readonly length?: number;
  readonly trace?: string | null;
  readonly message?: string;
}

export interface VerifyRow {
  readonly variant: Variant;
  readonly engine: Engine;
  readonly result: CheckResult;
  readonly cells: Readonly<Record<string, VerifyCell>>;
  /** The shortest trace of each violated invariant (written or not). */
  readonly traces: Readonly<Record<string, TraceFile>>;
  /** The variant's invariants that --invariant left out. */
  readonly notChecked: readonly string[];
}

export interface VerifyReport {
  readonly config: PkvmConfig;
  readonly invariants: readonly string[];
  readonly rows: readonly VerifyRow[];
  readonly bounds: { depth?: number; maxStates?: number; timeLimit?: number };
  readonly seconds: number;
  /** The HTML report written (--report). */
  readonly reportFile?: string;
}

export interface VerifyRequest {
  readonly config: PkvmConfig;
  readonly variants: readonly Variant[];
  readonly invariants?: readonly string[];
  readonly depth?: number;
  readonly maxStates?: number;
  readonly timeLimit?: number;
  readonly traceDir: string | null;
  readonly progress?: (variant: string, p: Progress) => void;
  readonly progressIntervalMs?: number;
  readonly engine?: string;
  readonly workers?: number;
  readonly por?: boolean;
  /** The variants as named on the command line, in the order of `variants`. */
  readonly variantSources?: readonly string[];
}

/** Every variant against every invariant: the first violation of each, with a shortest trace. */
export function runVerify(req: VerifyRequest): VerifyReport {
  const start = Date.now();
  const rows: VerifyRow[] = [];
  let names: string[] = [];
  for (const variant of req.variants) {
    const search = searchFor(req.config, variant, engineFor(variant, req.engine), req.invariants);
    if (req.por && !isPacked(search.engine)) throw new UsageError(`--por needs the packed or compiled engine (variant '${variant.name}' runs on the ${search.engine} one)`);
    const props = search.properties;
    refuseForRecoverable(props, { workers: req.workers, por: req.por });
    names = props.map((p) => p.name);
    const workerArgs = () =>
      pkvmFactory({ config: req.config, variant: variantSource(variant, req.variantSources?.[req.variants.indexOf(variant)]), engine: search.engine, invariants: req.invariants, reachables: false });
    const result = searchWith(req.workers, workerArgs, search.model, props, {
      maxDepth: req.depth,
      maxStates: req.maxStates,
      timeLimitSeconds: req.timeLimit,
      stopAtFirstViolation: false,
      por: req.por,
      onProgress: req.progress ? (p) => req.progress!(variant.name, p) : undefined,
      progressIntervalMs: req.progressIntervalMs,
    });
    const cells: Record<string, VerifyCell> = {};
    const traces: Record<string, TraceFile> = {};
    for (const name of names) cells[name] = { status: result.exhausted ? 'holds' : 'holds-within-bounds' };
    if (result.status === 'violation') {
      const firsts = result.violations.filter((v, i, all) => all.findIndex((w) => w.property === v.property) === i);
      const dir = req.traceDir;
      const written = writeTraces(new PkvmModel(req.config, variant), props, firsts, dir ? `${dir}/${variant.name}.json` : null);
      firsts.forEach((v, i) => {
        cells[v.property] = { status: 'violated', length: v.path.actions.length, trace: dir ? (i === 0 ? `${dir}/${variant.name}.json` : written[i].file) : null, message: v.finding.message };
        traces[v.property] = written[i].trace;
      });
    }
    const notChecked = selectProperties(req.config, undefined, variant)
      .map((p) => p.name)
      .filter((p) => !names.includes(p));
    rows.push({ variant, engine: search.engine, result, cells, traces, notChecked });
  }
  return { config: req.config, invariants: names, rows, bounds: { depth: req.depth, maxStates: req.maxStates, timeLimit: req.timeLimit }, seconds: (Date.now() - start) / 1000 };
}

export interface DiffReport {
  readonly a: Variant;
  readonly b: Variant;
  readonly config: PkvmConfig;
  readonly result: CheckResult;
  readonly steps: readonly { call: string; a: string; b: string }[];
  readonly message: string | null;
  readonly trace: string | null;
  /** The diverging sequence as a trace of the first variant (built also when not written). */
  readonly traceFile: TraceFile | null;
}

/** Explores two variants in lockstep over the operations they share; the first disagreement is a shortest one. */
export function runDiff(req: {
  a: Variant;
  b: Variant;
  config: PkvmConfig;
  depth?: number;
  maxStates?: number;
  timeLimit?: number;
  traceOut: string | null;
  progress?: (p: Progress) => void;
  progressIntervalMs?: number;
  engine?: string;
  workers?: number;
  /** The variants as named on the command line (the workers load them themselves). */
  sources?: { a?: string; b?: string };
}): DiffReport {
  const search = diffSearch(req.config, req.a, req.b, req.engine);
  const factory = () => pkvmDiffFactory({ config: req.config, a: variantSource(req.a, req.sources?.a), b: variantSource(req.b, req.sources?.b), engine: req.engine });
  const result = searchWith(req.workers, factory, search.model, search.properties, {
    maxDepth: req.depth,
    maxStates: req.maxStates,
    timeLimitSeconds: req.timeLimit,
    onProgress: req.progress,
    progressIntervalMs: req.progressIntervalMs,
  });
  if (result.status !== 'violation') return { a: req.a, b: req.b, config: req.config, result, steps: [], message: null, trace: null, traceFile: null };
  const v = result.violations[0];
  // rebuild the shared sequence on the readable models (the same product), then replay it on the first side as an ordinary trace
  const readable = diffSearch(req.config, req.a, req.b, 'readable');
  const ma = readable.a as unknown as PkvmModel;
  const mb = readable.b as unknown as PkvmModel;
  const product = readable.model;
  let st = product.initialStates()[v.path.init];
  const steps: { call: string; a: string; b: string }[] = [];
  const aIndices: number[] = [];
  for (const ai of v.path.actions) {
    const act = product.actions(st)[ai];
    const { state, outcome } = product.step(st, act);
    if (act.a) aIndices.push(ma.actions(st.a as PkvmState).indexOf(act.a));
    steps.push({
      call: act.a ? ma.describeAction(act.a) : mb.describeAction(act.b!),
      a: outcome.a ? retName(outcome.a.ret) : 'not possible',
      b: outcome.b ? retName(outcome.b.ret) : 'not possible',
    });
    st = state;
  }
  let trace: string | null = null;
  const traceFile = aIndices.length === v.path.actions.length ? buildTrace(ma, { init: 0, actions: aIndices }, null) : null;
  if (req.traceOut && traceFile) {
    writeTraceFile(req.traceOut, traceFile);
    trace = req.traceOut;
  }
  return { a: req.a, b: req.b, config: req.config, result, steps, message: v.finding.message, trace, traceFile };
}


export interface ReplayReport {
  readonly file: string;
  readonly trace: TraceFile;
  readonly variant: Variant;
  readonly replay: TraceReplay;
  /** An ITF file: how many states it has, and the first replayed state that differs from its own (0: the initial state). */
  readonly itf?: { readonly states: number; readonly mismatch: (StateMismatch & { readonly step: number }) | null };
}

/** A trace file of either format (native or ITF, told apart by content). */
export function loadTrace(file: string): LoadedTrace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read trace file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseAnyTrace(text);
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UsageError(`malformed trace file ${file}: ${e.message}`);
    throw e;
  }
}

/** The configuration and variant a trace is run on: its own, or the variant given. */
export async function traceModel(file: string, trace: TraceFile, variant: Variant | null, resolve: (name: string) => Promise<Variant>): Promise<{ config: PkvmConfig; variant: Variant }> {
  let config: PkvmConfig;
  try {
    config = validateConfig(trace.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`malformed trace file ${file}: its configuration is invalid (${e.message})`);
    throw e;
  }
  let v = variant;
  if (!v) {
    try {
      v = await resolve(trace.variant);
    } catch (e) {
      // a trace names its variant; a variant from a module is found again only by its path
      if (e instanceof UsageError && !builtinVariant(trace.variant))
        throw new UsageError(`trace ${file} was recorded on variant '${trace.variant}', which is not built in: give its module with --variant PATH`);
      throw e;
    }
  }
  return { config, variant: v };
}

/** A trace file (native or ITF), its configuration and the variant to run it on (the one it names unless given). */
export async function loadTraceFor(file: string, variant: Variant | null, resolve: (name: string) => Promise<Variant>): Promise<{ trace: TraceFile; config: PkvmConfig; variant: Variant }> {
  const { trace } = loadTrace(file);
  return { trace, ...(await traceModel(file, trace, variant, resolve)) };
}

export async function runReplay(file: string, variant: Variant | null, resolve: (name: string) => Promise<Variant>): Promise<ReplayReport> {
  const { trace, itf } = loadTrace(file);
  const { config, variant: v } = await traceModel(file, trace, variant, resolve);
  const model = new PkvmModel(config, v);
  // a trace may violate an optional property (host-recoverable)
  const props = [...selectProperties(config, undefined, v), ...pkvmOptionalProperties(config, v)];
  if (trace.violation && !props.some((p) => p.name === trace.violation!.invariant))
    throw new UsageError(`malformed trace file ${file}: unknown invariant '${trace.violation.invariant}'`);
  // an ITF file records its states: each replayed state is compared with the file's, variable by variable
  let mismatch: (StateMismatch & { step: number }) | null = null;
  const sameState = itf
    ? (step: number, state: PkvmState) => {
        const m = compareStates(itf.states[step], state);
        if (m) mismatch ??= { step, ...m };
        return m === null;
      }
    : undefined;
  try {
    const replay = replayTrace(model, trace, props, sameState);
    return { file, trace, variant: v, replay, ...(itf ? { itf: { states: itf.states.length, mismatch } } : {}) };
  } catch (e) {
    if (e instanceof IllegalStepError) throw new UsageError(`trace ${file}: ${e.message}`);
    throw e;
  }
}

/** A trace just built (not read from a file) replayed on its variant, as replay would. */
export function replayBuilt(label: string, trace: TraceFile, variant: Variant): ReplayReport {
  const config = validateConfig(trace.config);
  return { file: label, trace, variant, replay: replayTrace(new PkvmModel(config, variant), trace, selectProperties(config, undefined, variant)) };
}
