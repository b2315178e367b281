/**
 * The soundness matrix: every search mode against plain breadth-first search on the same bounds,
 * through the command line as a user runs it. For variants x hosts x 1 and 2 CPUs at small
 * bounds:
 * - --por: the same states, the same violations (invariant, key, shortest length);
 * - --symmetry: the same invariants violated with the same shortest lengths (one CPU; with
 *   several it is refused);
 * - --workers 2 and 4: the same report, counts and violations included;
 * - --bitstate (a large bit array): the same states and violations;
 * - --random with walks up to --depth: only violations BFS also finds, never shorter than BFS's;
 * - every trace written replays to the same violation, and with several CPUs a trace whose calls
 *   do not overlap violates the same invariant on the one-CPU model (one kernel model for both).
 * And diff: a variant agrees with itself, and two variants that diverge sequentially diverge with
 * several CPUs too, with any number of workers (the regressions of the issue that found diff
 * saying AGREE with --cpus).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectProperties } from '../../invariants/index.ts';
import { PkvmModel } from '../../model/system.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import type { TraceFile, TraceStep } from '../../traces/format.ts';
import { replayTrace } from '../../traces/replay.ts';
import { runCli } from '../run-cli.ts';

interface CheckJson {
  result: 'ok' | 'violation';
  stats: { distinctStates: number; transitions: number; depth: number; exhausted: boolean; cutBy: string | null };
  violations: { invariant: string; key: string | null; length: number; trace: string | null; message: string }[];
}

async function check(args: string[]): Promise<CheckJson> {
  const r = await runCli(['check', '--json', '--quiet', ...args]);
  expect(r.err, `check ${args.join(' ')}`).toBe('');
  expect([0, 1], `exit code of check ${args.join(' ')}`).toContain(r.code);
  return JSON.parse(r.out) as CheckJson;
}

/** Violations as a sorted list of "invariant@key:length". */
const violations = (j: CheckJson) => j.violations.map((v) => `${v.invariant}@${v.key ?? ''}:${v.length}`).sort();
/** The shortest length of each violated invariant (what symmetry and random keep). */
function shortest(j: CheckJson): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of j.violations) out[v.invariant] = Math.min(out[v.invariant] ?? Infinity, v.length);
  return out;
}

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly depth: number;
  /** Invariants BFS must find violated (so that the case can fail a mode that misses them). */
  readonly violated: readonly string[];
}

const CASES: readonly Case[] = [
  { name: 'rfc-v1, driver host', args: ['--variant', 'rfc-v1'], depth: 5, violated: ['no-warn', 'dma-isolation', 'no-bug'] },
  { name: 'rfc-v1, iommu host', args: ['--variant', 'rfc-v1', '--host', 'iommu'], depth: 3, violated: ['no-hang', 'no-vmemmap-fault'] },
  { name: 'rfc-v1-fixed, iommu host', args: ['--variant', 'rfc-v1-fixed', '--host', 'iommu'], depth: 5, violated: [] },
  { name: 'unmap-no-tlb-add-page, iommu host, IOTLB', args: ['--variant', 'unmap-no-tlb-add-page', '--host', 'iommu', '--iotlb'], depth: 4, violated: ['dma-isolation'] },
  { name: 'rfc-v1, 2 CPUs', args: ['--variant', 'rfc-v1', '--cpus', '2', '--domains', '1'], depth: 6, violated: ['no-warn', 'single-owner'] },
  { name: 'rfc-v1, iommu host, 2 CPUs', args: ['--variant', 'rfc-v1', '--host', 'iommu', '--cpus', '2', '--guests', '0', '--domains', '1'], depth: 4, violated: ['no-vmemmap-fault', 'no-hang'] },
  {
    name: 'unshare-before-tlbi, 2 CPUs',
    args: ['--variant', 'unshare-before-tlbi', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '0'],
    depth: 11,
    violated: ['dma-isolation'],
  },
  { name: 'share-dma-lock-inversion, 2 CPUs', args: ['--variant', 'share-dma-lock-inversion', '--cpus', '2', '--guests', '0', '--domains', '1'], depth: 4, violated: ['no-deadlock', 'lock-order'] },
  { name: 'rfc-v1-fixed, 2 CPUs', args: ['--variant', 'rfc-v1-fixed', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '0'], depth: 8, violated: [] },
];

describe('every search mode against plain breadth-first search', () => {
  for (const c of CASES) {
    const cpus = c.args.includes('--cpus');
    it(`${c.name}, depth ${c.depth}`, async () => {
      const bounds = [...c.args, '--all', '--depth', String(c.depth)];
      const dir = mkdtempSync(join(tmpdir(), 'pkvm-matrix-'));
      const bfs = await check([...bounds, '--trace-out', join(dir, 'bfs.json')]);
      for (const inv of c.violated) expect(Object.keys(shortest(bfs)), `BFS finds ${inv}`).toContain(inv);
      if (!c.violated.length) expect(bfs.result).toBe('ok');

      const por = await check([...bounds, '--por', '--no-trace']);
      expect({ states: por.stats.distinctStates, v: violations(por) }).toEqual({ states: bfs.stats.distinctStates, v: violations(bfs) });
      expect(por.stats.transitions).toBeLessThanOrEqual(bfs.stats.transitions);

      if (cpus) {
        const r = await runCli(['check', '--quiet', ...bounds, '--symmetry', '--no-trace']);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/--symmetry cannot be combined with --cpus/);
      } else {
        const sym = await check([...bounds, '--symmetry', '--no-trace']);
        expect(shortest(sym)).toEqual(shortest(bfs));
        expect(sym.stats.distinctStates).toBeLessThanOrEqual(bfs.stats.distinctStates);
      }

      for (const workers of ['2', '4']) {
        const par = await check([...bounds, '--workers', workers, '--no-trace']);
        expect({ ...par.stats, v: violations(par), result: par.result }).toMatchObject({
          distinctStates: bfs.stats.distinctStates,
          transitions: bfs.stats.transitions,
          depth: bfs.stats.depth,
          exhausted: bfs.stats.exhausted,
          v: violations(bfs),
          result: bfs.result,
        });
      }

      const bit = await check([...bounds, '--bitstate', '64', '--no-trace']);
      expect({ states: bit.stats.distinctStates, v: violations(bit) }).toEqual({ states: bfs.stats.distinctStates, v: violations(bfs) });

      const rnd = await check([...c.args, '--all', '--depth', String(c.depth), '--random', '--runs', '300', '--seed', '7', '--trace-out', join(dir, 'random.json')]);
      const bfsShortest = shortest(bfs);
      for (const [inv, len] of Object.entries(shortest(rnd))) {
        expect(Object.keys(bfsShortest), `random walks find only what BFS finds (${inv})`).toContain(inv);
        expect(len).toBeGreaterThanOrEqual(bfsShortest[inv]);
        expect(len).toBeLessThanOrEqual(c.depth);
      }

      // every trace written replays to its violation; with several CPUs, a trace whose calls do
      // not overlap is a sequential run, and the one-CPU model finds the same violation on it
      for (const file of readdirSync(dir)) {
        const r = await runCli(['replay', join(dir, file), '--json']);
        expect(r.code, `${file} replays`).toBe(1);
        expect(JSON.parse(r.out).result).toBe('reproduced');
        if (cpus) sequentially(JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceFile);
      }
    });
  }
});

/**
 * A concurrent trace whose calls do not overlap (each call's steps, from its start to its return,
 * with no other CPU's step and no device in between) as the sequential run it is: the one-CPU
 * model, from the same kernel code, must violate the same invariant on it.
 */
function sequentially(t: TraceFile): void {
  const calls: { action: TraceStep['action']; step: number }[] = [];
  let open: number | null = null;
  for (const s of t.steps) {
    if (s.cpu) {
      if (open !== null && s.cpu.cpu !== open) return; // calls overlap: not a sequential run
      if (open === null) calls.push({ action: { op: s.action.op, args: s.action.args }, step: s.step });
      open = s.cpu.finished ? null : s.cpu.cpu;
    } else {
      if (open !== null) return;
      calls.push({ action: s.action, step: s.step });
    }
  }
  // the violation must be at the end of a call (a state invariant may fail inside one, where
  // the sequential model has no state)
  if (open !== null) return;
  const config = { ...t.config, cpus: 1, preemptions: -1 };
  const variant = BUILTIN_VARIANTS.find((v) => v.name === t.variant)!;
  const model = new PkvmModel(config, variant);
  const seq: TraceFile = {
    ...t,
    config,
    steps: calls.map((c, i) => ({ ...t.steps[0], step: i + 1, action: c.action, call: model.describeAction(c.action), cpu: null, fingerprint: '' })),
  };
  const r = replayTrace(model, seq, selectProperties(config, undefined, variant));
  expect(r.status, `${t.variant}: ${t.violation!.invariant} on the sequential run ${calls.map((c) => c.action.op).join(', ')}`).toBe('reproduced');
  if (r.status === 'reproduced') expect(r.invariant).toBe(t.violation!.invariant);
}

describe('diff: sequential, several CPUs, workers', () => {
  interface DiffJson {
    result: 'agree' | 'diverge';
    stats: { distinctStates: number; transitions: number; depth: number; exhausted: boolean };
    divergence?: { length: number; message: string };
  }
  const diff = async (args: string[]) => {
    const r = await runCli(['diff', '--json', '--quiet', '--no-trace', ...args]);
    expect(r.err).toBe('');
    return { code: r.code, j: JSON.parse(r.out) as DiffJson };
  };

  it('rfc-v1 against rfc-v1-fixed diverges sequentially, with 2 CPUs, and with 2 workers (the same divergence)', async () => {
    const seq = await diff(['rfc-v1', 'rfc-v1-fixed', '--depth', '6']);
    expect(seq).toMatchObject({ code: 1, j: { result: 'diverge' } });
    const cpus = await diff(['rfc-v1', 'rfc-v1-fixed', '--cpus', '2', '--depth', '6']);
    expect(cpus).toMatchObject({ code: 1, j: { result: 'diverge' } });
    const par = await diff(['rfc-v1', 'rfc-v1-fixed', '--cpus', '2', '--depth', '6', '--workers', '2']);
    expect(par.j.divergence).toEqual(cpus.j.divergence);
    expect(par.j.stats.distinctStates).toBe(cpus.j.stats.distinctStates);
  });

  it('a variant agrees with itself: sequentially, with 2 CPUs, with 2 workers', async () => {
    for (const extra of [[], ['--cpus', '2'], ['--cpus', '2', '--workers', '2']]) {
      const r = await diff(['rfc-v1-fixed', 'rfc-v1-fixed', '--depth', '4', ...extra]);
      expect(r, extra.join(' ')).toMatchObject({ code: 0, j: { result: 'agree' } });
      // the steps of the CPUs are explored: more pairs than calls alone would give
      if (extra.length) expect(r.j.stats.transitions).toBeGreaterThan(0);
    }
  });
});
