/** `--report FILE`: the HTML report of a check or a verify, from what the run already holds. */
import type { CheckResult } from '../checker/index.ts';
import { pkvmProperties } from '../invariants/index.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { Variant } from '../model/variant.ts';
import { GENERATOR } from '../traces/build.ts';
import { writeFileAtomically } from '../traces/format.ts';
import { renderReport, type ReportInput, type ReportRun, type ReportVerdict } from '../traces/report.ts';
import type { CheckReport, VerifyReport } from './run.ts';

function verdict(r: CheckResult): ReportVerdict {
  if (r.exhausted) return { kind: 'exhausted' };
  if (r.cutBy === 'interrupt') return { kind: 'interrupted', unexpanded: r.stats.queued };
  if (r.cutBy) return { kind: 'cut', bound: r.cutBy, unexpanded: r.stats.queued };
  return { kind: 'stopped-at-violation' };
}

function invariants(config: PkvmConfig, variant: Variant, names: readonly string[]): ReportRun['invariants'] {
  const all = pkvmProperties(config, variant);
  return names.map((name) => ({ name, description: all.find((p) => p.name === name)?.description ?? '' }));
}

function searchWords(bounds: { depth?: number; maxStates?: number; timeLimit?: number }, first: string): string {
  return [first, bounds.depth !== undefined ? `depth <= ${bounds.depth}` : null, bounds.maxStates !== undefined ? `at most ${bounds.maxStates} states` : null, bounds.timeLimit !== undefined ? `at most ${bounds.timeLimit} s` : null]
    .filter((x) => x !== null)
    .join(', ');
}

export function checkReportInput(r: CheckReport): ReportInput {
  const base = { variant: r.variant.name, engine: r.engine, config: r.config, invariants: invariants(r.config, r.variant, r.invariants), traces: r.traces.map((t) => t.trace) };
  let run: ReportRun;
  if (r.result) {
    const s = r.result.stats;
    run = {
      ...base,
      search: searchWords(r.bounds, 'breadth-first'),
      stats: { distinctStates: s.distinctStates, transitions: s.transitions, depth: s.depth, seconds: s.seconds, peakMemoryBytes: s.peakMemoryBytes },
      verdict: verdict(r.result),
    };
  } else {
    const w = r.random!;
    run = {
      ...base,
      search: searchWords({ ...r.bounds, depth: r.bounds.depth ?? 50 }, `random walks (seed ${w.seed}, ${w.requestedRuns} walks)`),
      stats: { distinctStates: null, transitions: w.steps, depth: w.longestWalk, seconds: w.seconds, peakMemoryBytes: null },
      verdict: { kind: 'random', seed: w.seed, walks: w.runs, requested: w.requestedRuns, timeCut: w.interrupted },
    };
  }
  return { command: r.command, generator: GENERATOR, runs: [run] };
}

/** One run per variant, with the first violation of each invariant it breaks. */
export function verifyReportInput(r: VerifyReport, command: string): ReportInput {
  return {
    command,
    generator: GENERATOR,
    runs: r.rows.map((row) => {
      const s = row.result.stats;
      return {
        variant: row.variant.name,
        engine: row.engine,
        config: r.config,
        search: searchWords(r.bounds, 'breadth-first'),
        invariants: invariants(r.config, row.variant, r.invariants),
        stats: { distinctStates: s.distinctStates, transitions: s.transitions, depth: s.depth, seconds: s.seconds, peakMemoryBytes: s.peakMemoryBytes },
        verdict: verdict(row.result),
        traces: Object.values(row.traces),
      };
    }),
  };
}

/** Writes the report (atomically, as trace files are). */
export function writeReport(file: string, input: ReportInput): void {
  writeFileAtomically(file, renderReport(input));
}
