/**
 * The one place that prints results and picks the exit code:
 * 0 no violation within the bounds, 1 a violation, 2 bad usage or bad input.
 */
import type { Progress } from '../checker/types.ts';
import { renderReplay, renderTrace, describeConfig } from '../traces/render.ts';
import { EXIT } from './errors.ts';
import type { CheckReport, ReplayReport } from './run.ts';

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

export function progressPrinter(io: Io): (p: Progress) => void {
  return (p) =>
    io.err(`pkvm-check: depth ${p.depth}, ${n(p.distinctStates)} distinct states, ${n(p.transitions)} transitions, ${n(p.queued)} queued, ${p.seconds.toFixed(0)} s, ${n(Math.round(p.statesPerSecond))} states/s`);
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
    };
  }
  const rnd = r.random!;
  return { distinctStates: 0, transitions: rnd.steps, depth: r.bounds.depth ?? 50, seconds: rnd.seconds, statesPerSecond: Math.round(rnd.steps / Math.max(rnd.seconds, 1e-9)), exhausted: false, cutBy: null };
}

export function printCheck(r: CheckReport, json: boolean, io: Io): number {
  const violated = r.traces.length > 0;
  if (json) {
    const first = r.traces[0];
    const out = {
      result: violated ? 'violation' : 'ok',
      mode: r.mode,
      variant: r.variant.name,
      config: r.config,
      invariants: r.invariants,
      stats: jsonStats(r),
      ...(r.random ? { random: { seed: r.random.seed, runs: r.random.runs, replayPath: r.random.replayPath } } : {}),
      ...(first ? { violation: { invariant: first.invariant, length: first.length, trace: first.file, message: first.trace.violation?.message } } : {}),
      violations: r.traces.map((t) => ({ invariant: t.invariant, length: t.length, trace: t.file, message: t.trace.violation?.message })),
      reachable: r.result ? r.result.examples.map((e) => ({ property: e.property, length: e.path.actions.length })) : [],
    };
    io.out(JSON.stringify(out, null, 2));
    return violated ? EXIT.violation : EXIT.ok;
  }
  const lines: string[] = [];
  lines.push(`pkvm-check: ${describeConfig({ config: r.config, variant: r.variant.name })}`);
  lines.push(`  invariants: ${r.invariants.join(', ')}`);
  const b = r.bounds;
  lines.push(
    `  search: ${r.mode === 'random' ? `random walks (seed ${r.random!.seed}, ${r.random!.runs} walks of up to ${b.depth ?? 50} steps)` : 'breadth-first, exhaustive'}${b.depth !== undefined && r.mode === 'bfs' ? `, depth <= ${b.depth}` : ''}${b.maxStates !== undefined ? `, at most ${n(b.maxStates)} states` : ''}${b.timeLimit !== undefined ? `, at most ${b.timeLimit} s` : ''}`,
  );
  lines.push('');
  if (violated) {
    if (r.traces.length > 1) {
      lines.push(`${r.traces.length} invariants violated (shortest trace of each):`);
      for (const t of r.traces) lines.push(`  ${t.invariant.padEnd(24)} ${String(t.length).padStart(3)} step(s)  ${(t.key ? `at ${t.key}` : '').padEnd(34)} ${t.file ?? ''}`);
      lines.push('');
    }
    const first = r.traces[0];
    lines.push(`VIOLATION of ${first.invariant}${first.file ? ` (trace written to ${first.file})` : ''}`);
    lines.push('');
    lines.push(renderTrace(first.trace));
    lines.push('');
  } else {
    lines.push(r.mode === 'random' ? 'OK: no violation found by the random walks' : 'OK: no invariant is violated within the bounds');
    lines.push('');
  }
  if (r.result) {
    const s = r.result.stats;
    lines.push(
      `statistics: ${n(s.distinctStates)} distinct states, ${n(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(1)} s, ${n(Math.round(s.statesPerSecond))} states/s, peak memory ${mib(s.peakMemoryBytes)}`,
    );
    const cut = r.result.cutBy;
    lines.push(
      `            ${r.result.exhausted ? 'state space exhausted' : cut ? `not exhausted: the ${cut} bound cut the search (${n(s.queued)} states left unexpanded)` : 'not exhausted: stopped at the first violation'}; fingerprint collision probability <= ${s.collisionProbability.toExponential(1)}`,
    );
    if (r.result.examples.length || r.result.unreached.length)
      lines.push(
        `reachable:  ${[...r.result.examples.map((e) => `${e.property} (${e.path.actions.length} steps)`), ...r.result.unreached.map((u) => `${u} NOT REACHED`)].join(', ')}`,
      );
  } else if (r.random) {
    lines.push(`statistics: ${n(r.random.runs)} walks, ${n(r.random.steps)} steps, ${r.random.seconds.toFixed(1)} s; reproduce with --seed ${r.random.seed}`);
  }
  if (violated && r.traces[0].file) lines.push(`reproduce:  pkvm-check replay ${r.traces[0].file}`);
  io.out(lines.join('\n'));
  return violated ? EXIT.violation : EXIT.ok;
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
