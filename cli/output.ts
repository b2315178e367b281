/**
 * The one place that prints results and picks the exit code:
 * 0 no violation within the bounds, 1 a violation, 2 bad usage or bad input.
 */
import pc from 'picocolors';
import type { RecoverabilityVerdict } from '../checker/types.ts';
import { renderReplay, renderTrace, describeConfig } from '../traces/render.ts';
import { EXIT } from './errors.ts';
import type { CoverageReport } from '../model/coverage.ts';
import { builtinVariant } from '../model/variants/index.ts';
import type { CheckReport, DiffReport, ReplayReport, VerifyReport } from './run.ts';
import type { TextReport } from './run-traces.ts';
import { listItems, type ListWhat } from './list.ts';
import { changeLine, type ExpectComparison } from './expect.ts';
import type { ShrinkReport } from './shrink.ts';
import { diagnosticLine, type TypecheckReport } from './typecheck.ts';
import type { ShrinkResult } from '../traces/shrink.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** The terminal, where there is one to ask (absent: plain streams, no colour, no redraws). */
  readonly terminal?: Terminal;
  /** Colour the verdict lines and headers on `out` (main decides it: see colourWanted). */
  readonly colour?: boolean;
}

/** What colour and the progress block depend on. */
export interface Terminal {
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** The size of stderr's terminal, where the progress block is drawn. */
  readonly columns?: number;
  readonly rows?: number;
  /** Writes to stderr as it is, no newline added (the progress block's redraws). */
  writeErr(text: string): void;
  /** The environment colour depends on (NO_COLOR, FORCE_COLOR, TERM). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  terminal: {
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    // a terminal that does not know its size says 0 (a pty without one): then the defaults, 80 x 24
    get columns() {
      return process.stderr.columns || undefined;
    },
    get rows() {
      return process.stderr.rows || undefined;
    },
    writeErr: (t) => void process.stderr.write(t),
    env: process.env,
  },
};

/**
 * Colour on stdout: --color / --no-color (`flag`) decide; else none when NO_COLOR is set (any
 * value); else on when FORCE_COLOR is (any non-empty value, as picocolors reads it); else on a
 * terminal that is not TERM=dumb.
 */
export function colourWanted(t: Terminal | undefined, flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  if (!t || t.env.NO_COLOR !== undefined) return false;
  if (t.env.FORCE_COLOR) return true;
  return t.stdoutIsTTY && t.env.TERM !== 'dumb';
}

const paint = (io: Io) => pc.createColors(io.colour === true);

/** What the run's header says besides the report: the config file read, and verify's own defaults. */
export interface RunNotes {
  /** The config file read (its absolute path). */
  readonly configFile?: string;
  /** The defaults of the command this run uses where check's differ, as flags (defaults.ts). */
  readonly defaultsDiffer?: readonly string[];
}

function noteLines(notes: RunNotes, command: string): string[] {
  return [
    ...(notes.configFile ? [`  config file: ${notes.configFile}`] : []),
    ...(notes.defaultsDiffer?.length ? [`  ${command} defaults differ from check: ${notes.defaultsDiffer.join(', ')}`] : []),
  ];
}

const noteFields = (notes: RunNotes) => ({
  ...(notes.configFile ? { configFile: notes.configFile } : {}),
  ...(notes.defaultsDiffer?.length ? { defaultsDifferFromCheck: notes.defaultsDiffer } : {}),
});

export { progressPrinter } from './progress.ts';

/**
 * Every command's JSON: one object on stdout that names the command, then the report, then the
 * exit code the command returns (the same as without --json).
 */
function printJson(io: Io, command: string, body: Record<string, unknown>, exitCode: number): number {
  io.out(JSON.stringify({ command, ...body, exitCode }, null, 2));
  return exitCode;
}

/** What --json prints beyond the report: the steps of every trace, inline (--steps). */
export interface JsonOptions {
  readonly steps?: boolean;
}

const n = (x: number) => x.toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function jsonStats(r: CheckReport) {
  if (r.result) {
    const s = r.result.stats;
    return {
      distinctStates: s.distinctStates,
      transitions: s.transitions,
      depth: s.depth,
      seconds: s.seconds,
      statesPerSecond: Math.round(s.statesPerSecond),
      exhausted: r.result.exhausted,
      cutBy: r.result.cutBy,
      stoppedAtViolation: r.result.status === 'violation' && !r.result.exhausted && r.result.cutBy === null,
      peakMemoryBytes: s.peakMemoryBytes,
      collisionProbability: s.collisionProbability,
      levels: s.levels,
      visitedBytes: s.visitedBytes,
      bytesPerState: s.distinctStates ? s.visitedBytes / s.distinctStates : 0,
      parentBytes: s.parentBytes,
      ...(s.bitstate ? { bitstate: s.bitstate } : {}),
      ...(s.spilled ? { spilled: s.spilled } : {}),
      ...(s.por ? { por: s.por } : {}),
      ...(s.parallel ? { parallel: s.parallel } : {}),
      ...(s.graph ? { graph: s.graph } : {}),
    };
  }
  const rnd = r.random!;
  return {
    distinctStates: 0,
    transitions: rnd.steps,
    depth: rnd.longestWalk,
    seconds: rnd.seconds,
    statesPerSecond: Math.round(rnd.steps / Math.max(rnd.seconds, 1e-9)),
    exhausted: false,
    cutBy: rnd.interrupted ? 'time' : null,
  };
}

export function printCheck(r: CheckReport, json: boolean, io: Io, opts: RunNotes & JsonOptions = {}): number {
  const violated = r.traces.length > 0;
  const c = paint(io);
  const exitCode = violated ? EXIT.violation : cut(r) === 'interrupt' ? EXIT.interrupted : EXIT.ok;
  if (json) {
    const first = r.traces[0];
    const traceSteps = (t: (typeof r.traces)[number]) => (opts.steps ? { traceSteps: t.trace.steps } : {});
    const out = {
      result: violated ? 'violation' : 'ok',
      mode: r.mode,
      engine: r.engine,
      variant: r.variant.name,
      config: r.config,
      ...noteFields(opts),
      invariants: r.invariants,
      ...(r.config.cpus > 1 ? { atomicBetweenSteps: r.atomic } : {}),
      stats: jsonStats(r),
      ...(r.random
        ? {
            random: {
              seed: r.random.seed,
              runs: r.random.runs,
              requestedRuns: r.random.requestedRuns,
              longestWalk: r.random.longestWalk,
              interrupted: r.random.interrupted,
              replayPath: r.random.replayPath,
            },
          }
        : {}),
      ...(first ? { violation: { invariant: first.invariant, length: first.length, trace: first.file, message: first.trace.violation?.message, ...traceSteps(first) } } : {}),
      ...(r.result?.cutBy === 'interrupt' ? { interrupted: true } : {}),
      violations: r.traces.map((t) => ({ invariant: t.invariant, key: t.key, length: t.length, trace: t.file, message: t.trace.violation?.message, ...traceSteps(t), ...(t.shrunk ? { shrunk: shrinkJson(t.shrunk) } : {}) })),
      reachable: r.result ? r.result.examples.map((e) => ({ property: e.property, length: e.path.actions.length })) : [],
      ...(r.result?.recoverability ? { recoverability: r.result.recoverability.map((v) => ({ ...v, verdict: recoverVerdict(v, r.result!.exhausted) })) } : {}),
      ...(r.coverage ? { coverage: r.coverage } : {}),
      ...(r.reportFile ? { report: r.reportFile } : {}),
    };
    return printJson(io, 'check', out, exitCode);
  }
  const lines: string[] = [];
  lines.push(c.bold(`pkvm-check: ${describeConfig({ config: r.config, variant: r.variant.name })}`));
  lines.push(...noteLines(opts, 'check'));
  lines.push(`  invariants: ${r.invariants.join(', ')}`);
  if (r.config.cpus > 1)
    lines.push(`  CPUs: host and guest calls run their code step by step (a step ends before a lock and before state no held lock protects); atomic between steps: ${r.atomic.join(', ')}`);
  const b = r.bounds;
  lines.push(
    `  search (${r.engine} engine): ${r.mode === 'random' ? `random walks (seed ${r.random!.seed}, ${r.random!.requestedRuns} walks of ${b.depth ?? 50} steps)` : 'breadth-first, exhaustive'}${b.depth !== undefined && r.mode === 'bfs' ? `, depth <= ${b.depth}` : ''}${b.maxStates !== undefined ? `, at most ${n(b.maxStates)} states` : ''}${b.timeLimit !== undefined ? `, at most ${b.timeLimit} s` : ''}`,
  );
  lines.push('');
  if (violated) {
    if (r.traces.length > 1) {
      lines.push(c.red(`${r.traces.length} invariants violated (shortest trace of each):`));
      for (const t of r.traces) lines.push(`  ${t.invariant.padEnd(24)} ${String(t.length).padStart(3)} step(s)  ${(t.key ? `at ${t.key}` : '').padEnd(34)} ${t.file ?? ''}`);
      lines.push('');
    }
    for (const t of r.traces) if (t.shrunk) lines.push(`shrunk ${t.invariant}${t.key ? ` (${t.key})` : ''}: ${shrinkSizes(t.shrunk)}`);
    if (r.traces.some((t) => t.shrunk)) lines.push('');
    const first = r.traces[0];
    lines.push(c.bold(c.red(`VIOLATION of ${first.invariant}${first.file ? ` (trace written to ${first.file})` : ''}`)));
    lines.push('');
    lines.push(renderTrace(first.trace));
    lines.push('');
  } else {
    lines.push(
      r.result?.cutBy === 'interrupt'
        ? c.yellow('INTERRUPTED: no violation in the part of the space explored (not a verdict)')
        : c.green(r.mode === 'random'
          ? r.random!.interrupted
            ? `OK within the time limit: no violation in the ${n(r.random!.runs)} walks that ran to their end (of ${n(r.random!.requestedRuns)} asked for); random walks prove nothing about the states they did not visit`
            : `OK: no violation found by ${n(r.random!.runs)} random walks; they prove nothing about the states they did not visit`
          : 'OK: no invariant is violated within the bounds'),
    );
    lines.push('');
  }
  if (r.result) {
    const s = r.result.stats;
    lines.push(
      `statistics: ${n(s.distinctStates)} distinct states, ${n(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(1)} s, ${n(Math.round(s.statesPerSecond))} states/s, peak memory ${mib(s.peakMemoryBytes)}`,
    );
    const cut = r.result.cutBy;
    lines.push(
      `            ${r.result.exhausted ? 'state space exhausted' : cut === 'interrupt' ? `not exhausted: interrupted (${n(s.queued)} states left unexpanded)` : cut ? `not exhausted: the ${cut} bound cut the search (${n(s.queued)} states left unexpanded)` : 'not exhausted: stopped at the first violation'}; ${s.bitstate ? `bitstate: ${n(s.bitstate.bits)} bits, hash factor ${s.bitstate.hashFactor.toFixed(0)}, expected coverage ${(100 * s.bitstate.expectedCoverage).toFixed(4)}%` : `fingerprint collision probability <= ${s.collisionProbability.toExponential(1)}`}`,
    );
    if (s.por)
      lines.push(
        `            partial-order reduction: ${n(s.por.skipped)} transitions asleep (${((100 * s.por.skipped) / Math.max(1, s.por.skipped + s.transitions)).toFixed(1)}% of ${n(s.por.skipped + s.transitions)}), ${n(s.por.reexpanded)} states expanded again, ${n(s.por.sleepSets)} distinct sleep sets`,
      );
    if (s.spilled) lines.push(`            frontier: ${mib(s.spilled.bytes)} of states written to disk and read back (${n(s.spilled.chunks)} chunks)`);
    lines.push(`            visited set ${mib(s.visitedBytes)} (${(s.visitedBytes / Math.max(1, s.distinctStates)).toFixed(1)} bytes/state), parent links ${mib(s.parentBytes)}`);
    if (s.parallel)
      lines.push(`            workers: the shared visited set grew ${n(s.parallel.tableGrowths)} times; ${n(s.parallel.roundsRunAgain)} levels filled it and were run again`);
    if (s.graph)
      lines.push(`            explored graph (recoverable properties): ${n(s.graph.expanded)} states expanded, ${n(s.graph.edges)} edges, ${mib(s.graph.bytes)}; decided in ${s.graph.analysisSeconds.toFixed(1)} s`);
    for (const v of r.result.recoverability ?? []) lines.push(recoverLine(v, r.result.exhausted));
    if (r.result.examples.length || r.result.unreached.length)
      lines.push(
        `reachable:  ${[...r.result.examples.map((e) => `${e.property} (${e.path.actions.length} steps)`), ...r.result.unreached.map((u) => `${u} NOT REACHED`)].join(', ')}`,
      );
  } else if (r.random) {
    lines.push(
      `statistics: ${n(r.random.runs)} walks${r.random.interrupted ? ` (the time limit stopped the runs; ${n(r.random.requestedRuns)} asked for)` : ''}, ${n(r.random.steps)} steps, longest walk ${n(r.random.longestWalk)} steps, ${r.random.seconds.toFixed(1)} s; reproduce with --seed ${r.random.seed}`,
    );
  }
  if (r.checkpoint && (cut(r) === 'interrupt' || cut(r) === 'time')) lines.push(`checkpoint: the search as it stopped is in ${r.checkpoint}; --resume ${r.checkpoint} (same command) goes on from there`);
  const module = builtinVariant(r.variant.name) === r.variant || !r.variantSource ? '' : ` --variant ${r.variantSource}`;
  if (violated && r.traces[0].file) lines.push(`reproduce:  pkvm-check replay ${r.traces[0].file}${module}`);
  if (r.reportFile) lines.push(`report:     ${r.reportFile}`);
  if (r.coverage) lines.push('', renderCoverage(r.coverage));
  io.out(lines.join('\n'));
  return exitCode;
}

const cut = (r: CheckReport) => r.result?.cutBy ?? null;

/** A recoverable property's verdict: 'violated' (a stuck state), 'holds' (exhaustive, every state decided), else 'undecided'. */
function recoverVerdict(v: RecoverabilityVerdict, exhausted: boolean): 'violated' | 'holds' | 'undecided' {
  return v.stuck > 0 ? 'violated' : exhausted && v.undecided === 0 ? 'holds' : 'undecided';
}

function recoverLine(v: RecoverabilityVerdict, exhausted: boolean): string {
  const counts = `of ${n(v.pending)} state(s) where a page is not clean, ${n(v.recoverable)} can give every such page back, ${n(v.stuck)} are stuck, ${n(v.undecided)} undecided`;
  const verdict = recoverVerdict(v, exhausted);
  const what =
    verdict === 'violated'
      ? 'VIOLATED'
      : verdict === 'holds'
        ? 'holds (state space exhausted)'
        : `NOT DECIDED: ${v.undecided ? `a bound cut the future of ${n(v.undecided)} state(s)` : 'the search was not exhausted'}, so it is not known to hold`;
  return `recoverable: ${v.property} ${what}; ${counts}`;
}

export function renderCoverage(c: CoverageReport): string {
  const out: string[] = [`coverage of ${c.variant}:`];
  out.push('  pieces called (calls; return values seen; errnos in the source never returned):');
  for (const p of c.pieces) {
    const rets = Object.entries(p.returns)
      .map(([k, v]) => `${k} x${n(v)}`)
      .join(', ');
    out.push(`    ${p.piece.padEnd(36)} ${n(p.calls).padStart(11)}  ${rets}${p.errnosNeverReturned.length ? `   never: ${p.errnosNeverReturned.join(', ')}` : ''}`);
  }
  if (c.neverCalled.length) out.push(`  pieces never called: ${c.neverCalled.join(', ')}`);
  const never = c.branches.filter((b) => b.taken === 0);
  out.push(`  named branches: ${c.branches.length - never.length} of ${c.branches.length} taken`);
  for (const b of c.branches) out.push(`    ${b.taken ? n(b.taken).padStart(11) : 'NEVER'.padStart(11)}  ${b.name}`);
  return out.join('\n');
}

const ABBREV: Record<string, string> = {
  'dma-isolation': 'iso',
  'refcount-accounting': 'rc',
  'single-owner': 'own',
  'host-s2-coherent': 's2',
  'no-bug': 'bug',
  'no-vmemmap-fault': 'vmf',
  'no-hang': 'hang',
  'no-warn': 'warn',
  'no-uninitialised-return': 'uninit',
  'lock-discipline': 'lock',
  'failure-atomicity': 'atom',
};

/** What verify did beside its matrix: compared with expected verdicts, wrote them, wrote JUnit XML. */
export interface VerifyOutput extends JsonOptions, RunNotes {
  readonly expect?: ExpectComparison;
  readonly wroteExpect?: string;
  readonly junit?: string;
}

/**
 * verify's exit code: with --expect, 1 when a verdict changed (0 when all are as expected, expected
 * violations included); with --write-expect, 0 once the verdicts are recorded; else 1 on a violation.
 */
function verifyExit(r: VerifyReport, o: VerifyOutput): number {
  if (o.expect) return o.expect.changes.length ? EXIT.violation : EXIT.ok;
  if (o.wroteExpect) return EXIT.ok;
  return r.rows.some((row) => row.result.status === 'violation') ? EXIT.violation : EXIT.ok;
}

export function printVerify(r: VerifyReport, json: boolean, io: Io, o: VerifyOutput = {}): number {
  const anyViolation = r.rows.some((row) => row.result.status === 'violation');
  const c = paint(io);
  const exitCode = verifyExit(r, o);
  if (json)
    return printJson(
      io,
      'verify',
      {
        result: anyViolation ? 'violation' : 'ok',
        config: r.config,
        ...noteFields(o),
        bounds: r.bounds,
        seconds: r.seconds,
        invariants: r.invariants,
        variants: r.rows.map((row) => ({
          variant: row.variant.name,
          stats: { distinctStates: row.result.stats.distinctStates, transitions: row.result.stats.transitions, depth: row.result.stats.depth, seconds: row.result.stats.seconds, exhausted: row.result.exhausted, cutBy: row.result.cutBy },
          invariants: o.steps ? Object.fromEntries(Object.entries(row.cells).map(([inv, c]) => [inv, row.traces[inv] ? { ...c, traceSteps: row.traces[inv].steps } : c])) : row.cells,
          notChecked: row.notChecked,
        })),
        ...(o.expect
          ? {
              expect: {
                file: o.expect.file,
                result: o.expect.changes.length ? 'changed' : 'as-expected',
                compared: o.expect.compared,
                boundsCompared: o.expect.boundsRecorded,
                changes: o.expect.changes.map((c) => ({ variant: c.variant, invariant: c.invariant, expected: c.expected, got: c.got })),
              },
            }
          : {}),
        ...(o.wroteExpect ? { wroteExpect: o.wroteExpect } : {}),
        ...(o.junit ? { junit: o.junit } : {}),
        ...(r.reportFile ? { report: r.reportFile } : {}),
      },
      exitCode,
    );
  const cols = r.invariants.map((i) => ABBREV[i] ?? i);
  const w = Math.max(...r.rows.map((row) => row.variant.name.length), 7);
  const lines: string[] = [];
  lines.push(
    c.bold(`pkvm-check verify: host ${r.config.host}; ${r.config.ramPages} RAM + ${r.config.mmioPages} MMIO page(s); ${r.config.domains} domain(s) x ${r.config.iovas} IOVA pages${r.config.domainLifecycle ? ` (lifecycle, ${r.config.endpoints} endpoint(s))` : ''}${r.config.memcache ? ` (memcache of ${r.config.memcache} page(s))` : ''}; ${r.config.guests} guest(s); ${r.config.cpus > 1 ? `${r.config.cpus} CPUs` : '1 CPU'}, ${r.config.iotlb ? 'SMMU IOTLB modelled' : r.config.cpus > 1 ? 'no SMMU IOTLB' : 'SMMU IOTLB as tlb-invalidated'}${r.bounds.depth !== undefined ? `; depth <= ${r.bounds.depth}` : ''}`),
  );
  lines.push(...noteLines(o, 'verify'));
  lines.push('  a number is the length of the shortest trace that violates the invariant; ok: holds (exhausted); ok*: holds within the bounds');
  lines.push('');
  lines.push(`${'variant'.padEnd(w)}  ${cols.map((c) => c.padStart(Math.max(c.length, 4))).join(' ')}   ${'states'.padStart(10)} ${'seconds'.padStart(8)}`);
  for (const row of r.rows) {
    const cells = r.invariants.map((inv, k) => {
      const cell = row.cells[inv];
      const text = (cell.status === 'violated' ? String(cell.length) : cell.status === 'holds' ? 'ok' : 'ok*').padStart(Math.max(cols[k].length, 4));
      return cell.status === 'violated' ? c.red(text) : cell.status === 'holds' ? c.green(text) : c.yellow(text);
    });
    lines.push(`${row.variant.name.padEnd(w)}  ${cells.join(' ')}   ${n(row.result.stats.distinctStates).padStart(10)} ${row.result.stats.seconds.toFixed(1).padStart(8)}`);
  }
  lines.push('');
  lines.push(`legend: ${r.invariants.map((i) => `${ABBREV[i] ?? i} = ${i}`).join(', ')}`);
  lines.push(`total: ${r.seconds.toFixed(1)} s`);
  if (o.expect) {
    const e = o.expect;
    const bounds = e.boundsRecorded ? '' : ' (the file records no bounds: they were not compared)';
    if (e.changes.length === 0) lines.push(c.green(`expected verdicts (${e.file}): all ${e.compared} as expected${bounds}`));
    else {
      lines.push(c.red(`expected verdicts (${e.file}): ${e.changes.length} of ${e.compared} CHANGED${bounds}:`));
      for (const ch of e.changes) lines.push(`  changed: ${changeLine(ch)}`);
    }
  }
  if (o.wroteExpect) lines.push(`expected verdicts written to ${o.wroteExpect}`);
  if (o.junit) lines.push(`JUnit XML written to ${o.junit}`);
  if (r.reportFile) lines.push(`report: ${r.reportFile}`);
  io.out(lines.join('\n'));
  return exitCode;
}

export function printDiff(r: DiffReport, json: boolean, io: Io, opts: RunNotes & JsonOptions = {}): number {
  const s = r.result.stats;
  const c = paint(io);
  const agree = r.message === null;
  const exitCode = agree ? EXIT.ok : EXIT.violation;
  if (json)
    return printJson(
      io,
      'diff',
      {
        result: agree ? 'agree' : 'diverge',
        a: r.a.name,
        b: r.b.name,
        config: r.config,
        ...noteFields(opts),
        stats: { distinctStates: s.distinctStates, transitions: s.transitions, depth: s.depth, seconds: s.seconds, statesPerSecond: Math.round(s.statesPerSecond), exhausted: r.result.exhausted, cutBy: r.result.cutBy },
        ...(agree ? {} : { divergence: { message: r.message, length: r.steps.length, steps: r.steps, trace: r.trace, ...(opts.steps ? { traceSteps: r.traceFile?.steps ?? null } : {}) } }),
      },
      exitCode,
    );
  const lines: string[] = [c.bold(`pkvm-check diff: ${r.a.name} vs ${r.b.name}, host ${r.config.host}`), ...noteLines(opts, 'diff'), ''];
  if (agree) {
    lines.push(c.green(r.result.exhausted ? 'AGREE: same returns, failures and page ownership on every shared sequence (exhausted)' : `AGREE within the bounds (not exhausted: the ${r.result.cutBy} bound cut the search)`));
  } else {
    lines.push(c.bold(c.red(`DIVERGE after ${r.steps.length} step(s):`)));
    const w = Math.max(...r.steps.map((x) => x.call.length));
    r.steps.forEach((x, i) => lines.push(`${String(i + 1).padStart(3)}. ${x.call.padEnd(w)}   ${r.a.name}: ${x.a}   ${r.b.name}: ${x.b}`));
    lines.push(`  => ${r.message}`);
    if (r.trace) lines.push(`trace: ${r.trace} (replay it with --variant ${r.b.name} to see the other side)`);
  }
  lines.push('', `statistics: ${n(s.distinctStates)} distinct state pairs, ${n(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(1)} s`);
  io.out(lines.join('\n'));
  return exitCode;
}

/** How the replayed states compare with the states an ITF file records. */
function itfComparison(itf: NonNullable<ReplayReport['itf']>): string {
  const m = itf.mismatch;
  if (!m) return `ITF states: every replayed state equals the file's (${itf.states} states compared variable by variable)`;
  const show = (x: unknown) => JSON.stringify(x) ?? 'nothing';
  return `ITF states: the replayed state differs from the file's ${m.step === 0 ? 'initial state' : `state after step ${m.step}`}, first in variable ${m.variable}: ${m.path} is ${show(m.expected)} in the file, ${show(m.actual)} in the replay`;
}

export function printReplay(r: ReplayReport, json: boolean, io: Io): number {
  const rep = r.replay;
  const exitCode = rep.status === 'reproduced' ? EXIT.violation : EXIT.ok;
  if (json)
    return printJson(
      io,
      'replay',
      {
        result: rep.status,
        file: r.file,
        variant: r.variant.name,
        recordedVariant: r.trace.variant,
        config: r.trace.config,
        invariant: r.trace.violation?.invariant ?? null,
        ...(rep.status === 'reproduced' ? { atStep: rep.atStep, message: rep.message, identical: rep.identical } : {}),
        ...(rep.status === 'diverged' ? { atStep: rep.atStep, reason: rep.reason } : {}),
        ...(rep.status === 'not-reproduced' && rep.note ? { note: rep.note } : {}),
        ...(r.itf ? { itf: r.itf } : {}),
        steps: rep.steps,
      },
      exitCode,
    );
  io.out(replayText(r, paint(io)));
  return exitCode;
}

/** What replay prints: the recording, then each step replayed and the verdict (and, for ITF, how the states compare). */
export function replayText(r: ReplayReport, c: ReturnType<typeof pc.createColors> = pc.createColors(false)): string {
  const head = c.bold(`pkvm-check replay: ${r.file} (recorded on ${r.trace.variant}${r.trace.violation ? `, violating ${r.trace.violation.invariant}` : ''}), replayed on ${r.variant.name}`);
  return [head, renderReplay(r.replay, r.variant.name), ...(r.itf ? [itfComparison(r.itf)] : [])].join('\n');
}

export function printList(what: ListWhat, json: boolean, io: Io): number {
  const items = listItems(what);
  if (json) return printJson(io, 'list', { what, items }, EXIT.ok);
  const text = items.map((i) => {
    switch (what) {
      case 'variants':
        return `${i.name}\n    ${i.description}${i.replaces!.length ? `\n    replaces: ${i.replaces!.join(', ')}` : ''}`;
      case 'invariants':
        return `${i.name.padEnd(24)} [${i.kind}${i.offByDefault ? `; off by default: --invariant ${i.name}` : ''}] ${i.members ? i.members.join(', ') : i.description}`;
      case 'operations':
        return `${i.name.padEnd(28)} [${i.actor}${i.hosts ? `: ${i.hosts.join('/')}` : ''}] ${i.description}`;
      case 'pieces':
        return i.name;
      case 'hosts':
        return `${i.name.padEnd(12)} ${i.description}`;
    }
  });
  io.out(text.join('\n'));
  return EXIT.ok;
}

/** export and graph: the text on stdout, or a line saying where it was written. */
export function printText(r: TextReport, io: Io): number {
  io.out(r.out ? `pkvm-check: wrote ${r.summary} to ${r.out}` : r.text);
  return EXIT.ok;
}

/** A shrink's sizes before and after, in one line. */
export function shrinkSizes(r: ShrinkResult): string {
  const names: [keyof ShrinkResult['before'], string][] = [
    ['steps', 'steps'],
    ['pages', 'pages'],
    ['domains', 'domains'],
    ['guests', 'guests'],
    ['cpus', 'CPUs'],
    ['iovas', 'IOVA slots'],
    ['guestIpas', 'IPA slots'],
    ['maxRange', 'max range'],
  ];
  return `${names.map(([k, label]) => `${label} ${r.before[k]} -> ${r.after[k]}`).join(', ')} (${n(r.tests)} candidates run)`;
}

function shrinkJson(r: ShrinkResult) {
  return { before: r.before, after: r.after, removed: r.removed, candidates: r.tests };
}

export function printShrink(r: ShrinkReport, json: boolean, io: Io): number {
  if (json) return printJson(io, 'shrink', { result: 'shrunk', file: r.file, out: r.out, variant: r.variant.name, invariant: r.invariant, ...shrinkJson(r.result) }, EXIT.ok);
  const module = builtinVariant(r.variant.name) === r.variant || !r.variantSource ? '' : ` --variant ${r.variantSource}`;
  io.out(
    [
      `pkvm-check shrink: ${r.file} (violating ${r.invariant}, on ${r.variant.name}), shrunk trace written to ${r.out}`,
      `  ${shrinkSizes(r.result)}`,
      `  taken away: ${r.result.removed.length ? r.result.removed.join(', ') : 'no entity'}`,
      '',
      renderTrace(r.result.trace),
      '',
      `reproduce:  pkvm-check replay ${r.out}${module}`,
    ].join('\n'),
  );
  return EXIT.ok;
}

/**
 * Type errors one per line, `file:line:col: message` (on stderr before a run, `before`); exit 2
 * when there are any.
 */
export function printTypecheck(r: TypecheckReport, json: boolean, io: Io, before = false): number {
  const clean = r.diagnostics.length === 0;
  const exitCode = clean ? EXIT.ok : EXIT.usage;
  if (json && !before) return printJson(io, 'typecheck', { result: clean ? 'ok' : 'type-errors', files: r.files, errors: r.diagnostics }, exitCode);
  if (before) {
    if (!clean) io.err([...r.diagnostics.map(diagnosticLine), `pkvm-check: ${r.diagnostics.length} type error(s) in the variant: not run`].join('\n'));
  } else io.out(clean ? `pkvm-check typecheck: ${r.files.length} file(s), no type errors` : r.diagnostics.map(diagnosticLine).join('\n'));
  return exitCode;
}
