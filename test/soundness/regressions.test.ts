/**
 * Verdicts users can trust: each regression a new user met, as a test that fails on the old
 * behaviour. Damaged checkpoints are refused; a piece that never returns is reported (no-hang)
 * and --time-limit holds; bad input is refused before the search, in one line, exit 2; two
 * concurrent models in one process do not interfere; random walks go as deep as --depth and a
 * time limit does not pass walks it cut; failure atomicity with several CPUs is judged on whole
 * calls; the IOTLB is said to be left out where it is.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/index.ts';
import { checkParallel } from '../../checker/parallel.ts';
import { pkvmFactory } from '../../cli/worker-model.ts';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { CompiledPkvmModel, PackedPkvmModel } from '../../model/system.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import { runCli as run } from '../run-cli.ts';

const FIX = resolve(import.meta.dirname, 'fixtures');
const BIN = resolve(import.meta.dirname, '../../bin/pkvm-check.js');
const json = async (args: string[]) => {
  const r = await run([...args, '--json', '--quiet']);
  return { code: r.code, err: r.err, j: JSON.parse(r.out) };
};
const variant = (name: string) => BUILTIN_VARIANTS.find((v) => v.name === name)!;

describe('damaged checkpoints are refused (exit 2), never resumed into wrong counts', () => {
  const make = async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pkvm-cp-')), 'cp');
    await run(['check', '--quiet', '--no-trace', '--variant', 'rfc-v1-fixed', '--checkpoint', dir, '--checkpoint-every', '0.000001', '--max-states', '6000']);
    return dir;
  };
  it('visited.bin cut to 100 bytes', async () => {
    const dir = await make();
    writeFileSync(join(dir, 'visited.bin'), readFileSync(join(dir, 'visited.bin')).subarray(0, 100));
    const r = await run(['check', '--quiet', '--variant', 'rfc-v1-fixed', '--resume', dir]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^pkvm-check: .*visited\.bin is 100 bytes, the checkpoint recorded \d+: refusing a damaged checkpoint$/);
  });
  it('one byte of parents.bin changed (same size)', async () => {
    const dir = await make();
    const b = readFileSync(join(dir, 'parents.bin'));
    b[b.length - 1] ^= 1;
    writeFileSync(join(dir, 'parents.bin'), b);
    const r = await run(['check', '--quiet', '--variant', 'rfc-v1-fixed', '--resume', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/parents\.bin does not match its recorded checksum/);
  });
});

describe('a piece that never returns', () => {
  it('is reported as no-hang, with the trace that got there (one CPU)', async () => {
    const { code, j } = await json(['check', '--variant', `${FIX}/loops.ts`, '--no-trace', '--step-budget', '10000']);
    expect(code).toBe(1);
    expect(j.violation).toMatchObject({ invariant: 'no-hang', length: 1 });
    expect(j.violation.message).toMatch(/more than 10,000 state accesses without returning \(--step-budget\)/);
  });
  it('with two CPUs its steps end at points, and --time-limit stops the search', async () => {
    const start = Date.now();
    const { code, j } = await json(['check', '--variant', `${FIX}/loops.ts`, '--no-trace', '--cpus', '2', '--time-limit', '2']);
    expect(code).toBe(0);
    expect(j.stats.cutBy).toBe('time');
    expect(j.stats.exhausted).toBe(false);
    expect(Date.now() - start).toBeLessThan(30_000);
  });
});

describe('bad input: one line, exit 2, before any search', () => {
  const cases: [string, string[], RegExp][] = [
    ['--trace-out into a missing folder', ['check', '--trace-out', '/nonexistent-folder/t.json'], /^pkvm-check: --trace-out \/nonexistent-folder\/t\.json: the folder \/nonexistent-folder does not exist$/],
    ['--workers above 4 per core', ['check', '--workers', String(4 * availableParallelism() + 1)], /^pkvm-check: --workers \d+ is more than 4 per core/],
    ['--random with --checkpoint', ['check', '--random', '--checkpoint', '/tmp/x'], /^pkvm-check: --random cannot be combined with --checkpoint/],
    ['--random with --bitstate', ['check', '--random', '--bitstate', '4'], /^pkvm-check: --random cannot be combined with --bitstate/],
  ];
  for (const [what, args, message] of cases)
    it(what, async () => {
      const r = await run([...args, '--quiet']);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err.trim()).toMatch(message);
    });

  it('a variant with a syntax error: its file:line:column (the installed binary, as a user runs it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-var-'));
    const file = join(dir, 'syntax-error.ts');
    writeFileSync(file, 'export default {\n  name: "bad-syntax",\n  description: "a syntax error on line 4",\n  replace: { foo( { return 1 } },\n};\n');
    const r = spawnSync(process.execPath, [BIN, 'check', '--variant', file, '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^pkvm-check: variant '.*syntax-error\.ts': cannot load the module: .*syntax-error\.ts:4:\d+: ERROR: /);
  });

  it('replay of a trace whose call is no action of the model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-tr-'));
    const file = join(dir, 't.json');
    await run(['check', '--quiet', '--trace-out', file]);
    const t = JSON.parse(readFileSync(file, 'utf8'));
    t.steps[0].action.args.pfn = 99;
    writeFileSync(file, JSON.stringify(t));
    const r = await run(['replay', file]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^pkvm-check: trace .*: step 1: __pkvm_host_share_guest\(pfn=99, gfn=0, vm=0\) is not an action of variant 'rfc-v1' within the trace's bounds$/);
  });

  it('trace files are written whole (a temporary file renamed: none left behind)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-tr-'));
    await run(['check', '--quiet', '--all', '--depth', '4', '--trace-out', join(dir, 't.json')]);
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(2);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('two concurrent models in one process do not interfere', () => {
  it('a CPU model of each of two variants, their searches interleaved, give what each gives alone', () => {
    const config = { ...DEFAULT_CONFIG, cpus: 2, guests: 0, domains: 1 };
    const search = (name: string, other?: string) => {
      const m = new CompiledPkvmModel(config, variant(name));
      const props = selectProperties(config, undefined, variant(name), (b: Uint8Array) => m.read(b));
      if (other) {
        // another variant's concurrent model, built and stepped in between
        const o = new PackedPkvmModel(config, variant(other));
        let s = o.initialStates()[0];
        for (let i = 0; i < 20 && o.actions(s).length; i++) s = o.step(s, o.actions(s)[i % o.actions(s).length]).state;
      }
      const r = check(m, props, { stopAtFirstViolation: false, maxDepth: 6 });
      return { states: r.stats.distinctStates, transitions: r.stats.transitions, v: r.status === 'violation' ? r.violations.map((v) => `${v.property}:${v.path.actions.length}`) : [] };
    };
    expect(search('rfc-v1', 'vmemmap-cmpxchg')).toEqual(search('rfc-v1'));
    expect(search('vmemmap-cmpxchg', 'rfc-v1')).toEqual(search('vmemmap-cmpxchg'));
  });
});

describe('random walks', () => {
  const bounds = ['--variant', 'unshare-before-tlbi', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '0'];
  it('go as deep as --depth: they find the 11-step dma-isolation race BFS finds (and the trace is shortened to 11 steps)', async () => {
    const { code, j } = await json(['check', ...bounds, '--random', '--runs', '2000', '--seed', '1', '--invariant', 'dma-isolation', '--no-trace']);
    expect(code).toBe(1);
    expect(j.violation).toMatchObject({ invariant: 'dma-isolation', length: 11 });
    expect(j.random.longestWalk).toBe(50);
  });
  it('a time limit stops the runs between walks: the walks counted ran to their end, and the report says so', async () => {
    const { code, j } = await json(['check', '--variant', 'rfc-v1-fixed', '--random', '--runs', '100000000', '--seed', '1', '--time-limit', '0.5', '--no-trace']);
    expect(code).toBe(0);
    expect(j.random.interrupted).toBe(true);
    expect(j.random.runs).toBeLessThan(j.random.requestedRuns);
    expect(j.stats.cutBy).toBe('time');
    const text = await run(['check', '--variant', 'rfc-v1-fixed', '--random', '--runs', '100000000', '--seed', '1', '--time-limit', '0.5', '--no-trace', '--quiet']);
    expect(text.out).toMatch(/OK within the time limit: no violation in the [\d,]+ walks that ran to their end/);
  });
});

describe('failure atomicity with several CPUs is judged on whole calls', () => {
  it('rfc-v1-fixed: calls that fail and undo what they did are no violation (per step they would be)', async () => {
    const { code, j } = await json(['check', '--variant', 'rfc-v1-fixed', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '0', '--host', 'iommu', '--depth', '8', '--no-trace', '--invariant', 'failure-atomicity']);
    expect(code).toBe(0);
    expect(j.stats.distinctStates).toBeGreaterThan(1_000);
  });
  it('share-dma-no-ref-rollback: a call that fails and keeps its reference is one, with CPUs too', async () => {
    const { code, j } = await json(['check', '--variant', 'share-dma-no-ref-rollback', '--cpus', '2', '--guests', '0', '--domains', '1', '--no-trace', '--invariant', 'failure-atomicity']);
    expect(code).toBe(1);
    expect(j.violation.message).toMatch(/^iommu_map \(CPU \d\) returned -EPERM but changed the state$/);
  });
});

describe('the IOTLB', () => {
  it('with one CPU and no --iotlb, check stands for it by tlb-invalidated and kills the mutant that drops a TLB invalidation', async () => {
    const r = await run(['check', '--variant', 'unmap-no-tlb-add-page', '--host', 'iommu', '--depth', '5', '--quiet', '--no-trace']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 CPU, SMMU IOTLB as tlb-invalidated \(--iotlb models its entries\)/);
    expect(r.out).toMatch(/VIOLATION of tlb-invalidated/);
  });
  it('with several CPUs and --no-iotlb, the configuration line says the IOTLB is not modelled', async () => {
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--cpus', '2', '--no-iotlb', '--depth', '2', '--quiet', '--no-trace']);
    expect(r.out).toMatch(/2 CPUs, no SMMU IOTLB \(--iotlb models it\)/);
  });
  it('verify models it by default and kills the mutant', async () => {
    const { code, j } = await json(['verify', '--variant', 'unmap-no-tlb-add-page', '--depth', '5']);
    expect(code).toBe(1);
    expect(j.config.iotlb).toBe(true);
    expect(j.variants[0].invariants['dma-isolation']).toMatchObject({ status: 'violated', length: 4 });
    // without the entries, tlb-invalidated kills it instead, and dma-isolation holds
    const off = await json(['verify', '--variant', 'unmap-no-tlb-add-page', '--depth', '5', '--no-iotlb']);
    expect(off.code).toBe(1);
    expect(off.j.variants[0].invariants['tlb-invalidated']).toMatchObject({ status: 'violated', length: 2 });
    expect(off.j.variants[0].invariants['dma-isolation'].status).not.toBe('violated');
  });
});

describe('the parallel search reports the depth it is at, never past the bound', () => {
  it('--workers 2 --symmetry --depth 6', () => {
    const depths: number[] = [];
    const args = { config: { ...DEFAULT_CONFIG, host: 'iommu' as const }, variant: 'rfc-v1', engine: 'compiled' as const, reachables: false };
    checkParallel(pkvmFactory(args), { workers: 2, symmetry: true, maxDepth: 6, stopAtFirstViolation: false, progressIntervalMs: 0, onProgress: (p) => depths.push(p.depth) });
    expect(depths.length).toBeGreaterThan(0);
    expect(Math.max(...depths)).toBeLessThanOrEqual(6);
  });
});
