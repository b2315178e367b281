/**
 * The one place that prints results and picks the exit code:
 * 0 no violation within the bounds, 1 a violation, 2 bad usage or bad input.
 */
import type { Progress } from '../checker/types.ts';
import { renderReplay, renderTrace, describeConfig } from '../traces/render.ts';
import { EXIT } from './errors.ts';
import type { CoverageReport } from '../model/coverage.ts';
import { builtinVariant } from '../model/variants/index.ts';
import type { CheckReport, DiffReport, ReplayReport, VerifyReport } from './run.ts';
import type { ShrinkReport } from './shrink.ts';
import { diagnosticLine, type TypecheckReport } from './typecheck.ts';
import type { ShrinkResult } from '../traces/shrink.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

const n = (x: number) => x.toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export function progressPrinter(io: Io): (p: Progress, label?: string) => void {
  return (p, label) =>
    io.err(`pkvm-check${label ? ` (${label})` : ''}: depth ${p.depth}, ${n(p.distinctStates)} distinct states, ${n(p.transitions)} transitions, ${n(p.queued)} queued, ${p.seconds.toFixed(0)} s, ${n(Math.round(p.statesPerSecond))} states/s`);
}

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

export function printCheck(r: CheckReport, json: boolean, io: Io): number {
  const violated = r.traces.length > 0;
  if (json) {
    const first = r.traces[0];
    const out = {
      result: violated ? 'violation' : 'ok',
      mode: r.mode,
      engine: r.engine,
      variant: r.variant.name,
      config: r.config,
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
      ...(first ? { violation: { invariant: first.invariant, length: first.length, trace: first.file, message: first.trace.violation?.message } } : {}),
      ...(r.result?.cutBy === 'interrupt' ? { interrupted: true } : {}),
      violations: r.traces.map((t) => ({ invariant: t.invariant, key: t.key, length: t.length, trace: t.file, message: t.trace.violation?.message, ...(t.shrunk ? { shrunk: shrinkJson(t.shrunk) } : {}) })),
      reachable: r.result ? r.result.examples.map((e) => ({ property: e.property, length: e.path.actions.length })) : [],
      ...(r.coverage ? { coverage: r.coverage } : {}),
    };
    io.out(JSON.stringify(out, null, 2));
    return violated ? EXIT.violation : cut(r) === 'interrupt' ? EXIT.interrupted : EXIT.ok;
  }
  const lines: string[] = [];
  lines.push(`pkvm-check: ${describeConfig({ config: r.config, variant: r.variant.name })}`);
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
      lines.push(`${r.traces.length} invariants violated (shortest trace of each):`);
      for (const t of r.traces) lines.push(`  ${t.invariant.padEnd(24)} ${String(t.length).padStart(3)} step(s)  ${(t.key ? `at ${t.key}` : '').padEnd(34)} ${t.file ?? ''}`);
      lines.push('');
    }
    for (const t of r.traces) if (t.shrunk) lines.push(`shrunk ${t.invariant}${t.key ? ` (${t.key})` : ''}: ${shrinkSizes(t.shrunk)}`);
    if (r.traces.some((t) => t.shrunk)) lines.push('');
    const first = r.traces[0];
    lines.push(`VIOLATION of ${first.invariant}${first.file ? ` (trace written to ${first.file})` : ''}`);
    lines.push('');
    lines.push(renderTrace(first.trace));
    lines.push('');
  } else {
    lines.push(
      r.result?.cutBy === 'interrupt'
        ? 'INTERRUPTED: no violation in the part of the space explored (not a verdict)'
        : r.mode === 'random'
          ? r.random!.interrupted
            ? `OK within the time limit: no violation in the ${n(r.random!.runs)} walks that ran to their end (of ${n(r.random!.requestedRuns)} asked for); random walks prove nothing about the states they did not visit`
            : `OK: no violation found by ${n(r.random!.runs)} random walks; they prove nothing about the states they did not visit`
          : 'OK: no invariant is violated within the bounds',
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
  if (r.coverage) lines.push('', renderCoverage(r.coverage));
  io.out(lines.join('\n'));
  return violated ? EXIT.violation : cut(r) === 'interrupt' ? EXIT.interrupted : EXIT.ok;
}

const cut = (r: CheckReport) => r.result?.cutBy ?? null;

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

export function printVerify(r: VerifyReport, json: boolean, io: Io): number {
  const anyViolation = r.rows.some((row) => row.result.status === 'violation');
  if (json) {
    io.out(
      JSON.stringify(
        {
          result: anyViolation ? 'violation' : 'ok',
          config: r.config,
          bounds: r.bounds,
          seconds: r.seconds,
          invariants: r.invariants,
          variants: r.rows.map((row) => ({
            variant: row.variant.name,
            stats: { distinctStates: row.result.stats.distinctStates, transitions: row.result.stats.transitions, depth: row.result.stats.depth, seconds: row.result.stats.seconds, exhausted: row.result.exhausted },
            invariants: row.cells,
          })),
        },
        null,
        2,
      ),
    );
    return anyViolation ? EXIT.violation : EXIT.ok;
  }
  const cols = r.invariants.map((i) => ABBREV[i] ?? i);
  const w = Math.max(...r.rows.map((row) => row.variant.name.length), 7);
  const lines: string[] = [];
  lines.push(
    `pkvm-check verify: host ${r.config.host}; ${r.config.ramPages} RAM + ${r.config.mmioPages} MMIO page(s); ${r.config.domains} domain(s) x ${r.config.iovas} IOVA pages; ${r.config.guests} guest(s); ${r.config.cpus > 1 ? `${r.config.cpus} CPUs` : '1 CPU'}, ${r.config.iotlb ? 'SMMU IOTLB modelled' : 'no SMMU IOTLB'}${r.bounds.depth !== undefined ? `; depth <= ${r.bounds.depth}` : ''}`,
  );
  lines.push('  a number is the length of the shortest trace that violates the invariant; ok: holds (exhausted); ok*: holds within the bounds');
  lines.push('');
  lines.push(`${'variant'.padEnd(w)}  ${cols.map((c) => c.padStart(Math.max(c.length, 4))).join(' ')}   ${'states'.padStart(10)} ${'seconds'.padStart(8)}`);
  for (const row of r.rows) {
    const cells = r.invariants.map((inv, k) => {
      const c = row.cells[inv];
      const text = c.status === 'violated' ? String(c.length) : c.status === 'holds' ? 'ok' : 'ok*';
      return text.padStart(Math.max(cols[k].length, 4));
    });
    lines.push(`${row.variant.name.padEnd(w)}  ${cells.join(' ')}   ${n(row.result.stats.distinctStates).padStart(10)} ${row.result.stats.seconds.toFixed(1).padStart(8)}`);
  }
  lines.push('');
  lines.push(`legend: ${r.invariants.map((i) => `${ABBREV[i] ?? i} = ${i}`).join(', ')}`);
  lines.push(`total: ${r.seconds.toFixed(1)} s`);
  io.out(lines.join('\n'));
  return anyViolation ? EXIT.violation : EXIT.ok;
}

export function printDiff(r: DiffReport, json: boolean, io: Io): number {
  const s = r.result.stats;
  const agree = r.message === null;
  if (json) {
    io.out(
      JSON.stringify(
        {
          result: agree ? 'agree' : 'diverge',
          a: r.a.name,
          b: r.b.name,
          config: r.config,
          stats: { distinctStates: s.distinctStates, transitions: s.transitions, depth: s.depth, seconds: s.seconds, statesPerSecond: Math.round(s.statesPerSecond), exhausted: r.result.exhausted, cutBy: r.result.cutBy },
          ...(agree ? {} : { divergence: { message: r.message, length: r.steps.length, steps: r.steps, trace: r.trace } }),
        },
        null,
        2,
      ),
    );
    return agree ? EXIT.ok : EXIT.violation;
  }
  const lines: string[] = [`pkvm-check diff: ${r.a.name} vs ${r.b.name}, host ${r.config.host}`, ''];
  if (agree) {
    lines.push(r.result.exhausted ? 'AGREE: same returns, failures and page ownership on every shared sequence (exhausted)' : `AGREE within the bounds (not exhausted: the ${r.result.cutBy} bound cut the search)`);
  } else {
    lines.push(`DIVERGE after ${r.steps.length} step(s):`);
    const w = Math.max(...r.steps.map((x) => x.call.length));
    r.steps.forEach((x, i) => lines.push(`${String(i + 1).padStart(3)}. ${x.call.padEnd(w)}   ${r.a.name}: ${x.a}   ${r.b.name}: ${x.b}`));
    lines.push(`  => ${r.message}`);
    if (r.trace) lines.push(`trace: ${r.trace} (replay it with --variant ${r.b.name} to see the other side)`);
  }
  lines.push('', `statistics: ${n(s.distinctStates)} distinct state pairs, ${n(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(1)} s`);
  io.out(lines.join('\n'));
  return agree ? EXIT.ok : EXIT.violation;
}

export function printReplay(r: ReplayReport, json: boolean, io: Io): number {
  const rep = r.replay;
  if (json) {
    io.out(
      JSON.stringify(
        {
          result: rep.status,
          file: r.file,
          variant: r.variant.name,
          recordedVariant: r.trace.variant,
          invariant: r.trace.violation?.invariant ?? null,
          ...(rep.status === 'reproduced' ? { atStep: rep.atStep, message: rep.message, identical: rep.identical } : {}),
          ...(rep.status === 'diverged' ? { atStep: rep.atStep, reason: rep.reason } : {}),
          steps: rep.steps,
        },
        null,
        2,
      ),
    );
  } else {
    io.out(`pkvm-check replay: ${r.file} (recorded on ${r.trace.variant}${r.trace.violation ? `, violating ${r.trace.violation.invariant}` : ''}), replayed on ${r.variant.name}`);
    io.out(renderReplay(rep, r.variant.name));
  }
  return rep.status === 'reproduced' ? EXIT.violation : EXIT.ok;
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
  if (json) {
    io.out(JSON.stringify({ result: 'shrunk', file: r.file, out: r.out, variant: r.variant.name, invariant: r.invariant, ...shrinkJson(r.result) }, null, 2));
    return EXIT.ok;
  }
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
  if (json && !before) io.out(JSON.stringify({ result: clean ? 'ok' : 'type-errors', files: r.files, errors: r.diagnostics }, null, 2));
  else if (before) {
    if (!clean) io.err([...r.diagnostics.map(diagnosticLine), `pkvm-check: ${r.diagnostics.length} type error(s) in the variant: not run`].join('\n'));
  } else io.out(clean ? `pkvm-check typecheck: ${r.files.length} file(s), no type errors` : r.diagnostics.map(diagnosticLine).join('\n'));
  return clean ? EXIT.ok : EXIT.usage;
}
