/**
 * The trace commands end to end: check --trace-format, export (ITF, DOT, Mermaid), graph, and
 * bad input to them (exit 2, one line, no stack trace, from the installed binary too).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../run-cli.ts';

const BIN = join(__dirname, '..', '..', 'bin', 'pkvm-check.js');

let dir: string;
let trace: string;
let cpus: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-traces-'));
  trace = join(dir, 'seed.json');
  cpus = join(dir, 'cpus.json');
  expect((await run(['check', '--quiet', '--trace-out', trace])).code).toBe(1);
  expect((await run(['check', '--quiet', '--variant', 'unshare-before-tlbi', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--invariant', 'dma-isolation', '--trace-out', cpus])).code).toBe(1);
});

describe('check --trace-format', () => {
  it('itf writes an ITF file that replay reads; native (the default) a native one', async () => {
    const f = join(dir, 'seed.itf.json');
    expect((await run(['check', '--quiet', '--trace-format', 'itf', '--trace-out', f])).code).toBe(1);
    expect(JSON.parse(readFileSync(f, 'utf8'))['#meta'].format).toBe('ITF');
    expect(JSON.parse(readFileSync(trace, 'utf8')).format).toBe('pkvm-check-trace');
    const r = await run(['replay', f]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/reproduced on rfc-v1: no-warn is violated at step 2, identical to the recording/);
  });
  it('refuses another format', async () => {
    const r = await run(['check', '--trace-format', 'tla']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/trace-format/);
  });
});

describe('export', () => {
  it('--to dot: one node per state, one edge per step, the violating step in red', async () => {
    const r = await run(['export', trace, '--to', 'dot']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^digraph "rfc-v1: no-warn violated after 2 step\(s\)" \{/);
    expect(r.out.match(/^ {2}s\d+ \[label=/gm)).toHaveLength(3);
    expect(r.out).toMatch(/^ {2}s0 -> s1 \[label="__pkvm_host_share_guest\(pfn=0, gfn=0, vm=0\) = 0"\];$/m);
    expect(r.out).toMatch(/^ {2}s1 -> s2 \[label="__pkvm_host_unshare_hyp\(pfn=0\) = 1; WARN_ON in do_unshare VIOLATES no-warn", color=red/m);
    expect(r.out).toMatch(/s1 \[label="state 1\\lp0 host stage-2: valid, SHARED_OWNED\\lguest 0 IPA 0x0: p0, SHARED_BORROWED\\l"\]/);
  });
  it('--to mermaid --out FILE: a flowchart, with where each CPU step stopped', async () => {
    const f = join(dir, 'cpus.mmd');
    const r = await run(['export', cpus, '--to', 'mermaid', '--out', f]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote 11 step\(s\) of .* as mermaid to /);
    const m = readFileSync(f, 'utf8');
    expect(m).toMatch(/flowchart TD/);
    expect(m.match(/^ {2}s\d+ -->/gm)).toHaveLength(11);
    expect(m).toMatch(/s1\["state 1<br\/>cpu 0: in iommu_map, holds iommu_lock"\]/);
    expect(m).toMatch(/class s11 violation;/);
  });
  it('--to itf of an ITF file gives the same file', async () => {
    const a = join(dir, 'a.itf.json');
    const b = join(dir, 'b.itf.json');
    expect((await run(['export', cpus, '--to', 'itf', '--out', a])).code).toBe(0);
    expect((await run(['export', a, '--to', 'itf', '--out', b])).code).toBe(0);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
    // and the drawings of both formats agree
    expect((await run(['export', a, '--to', 'dot'])).out).toBe((await run(['export', cpus, '--to', 'dot'])).out);
  });
  it('refuses a trace its model does not reproduce (another variant given)', async () => {
    const r = await run(['export', cpus, '--to', 'itf', '--variant', 'rfc-v1']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/step \d+: .*(reaches another state|not cpu|does not exist)/);
  });
});

describe('graph', () => {
  it('draws the states and transitions a breadth-first search of the same bounds visits', async () => {
    const g = join(dir, 'g.dot');
    const r = await run(['graph', '--depth', '1', '--out', g]);
    expect(r.code).toBe(0);
    const stats = JSON.parse((await run(['check', '--depth', '1', '--all', '--json', '--no-trace', '--quiet'])).out).stats;
    expect(r.out).toContain(`wrote ${stats.distinctStates} states, ${stats.transitions} transitions`);
    const dot = readFileSync(g, 'utf8');
    expect(dot.match(/^ {2}s\d+ \[label=/gm)).toHaveLength(stats.distinctStates);
    expect(dot.match(/^ {2}s\d+ -> s\d+ /gm)).toHaveLength(stats.transitions);
  });
  it('marks the violating states and steps (mermaid, two CPUs)', async () => {
    const r = await run(['graph', '--format', 'mermaid', '--variant', 'share-dma-lock-inversion', '--cpus', '2', '--invariant', 'no-deadlock', '--depth', '3', '--max-states', '500', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--guests', '0']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^flowchart TD$/m);
    expect(r.out).toMatch(/VIOLATES no-deadlock/);
    expect(r.out).toMatch(/class [s\d,]+ violation;/);
  });
  const refused: [string, string[], RegExp][] = [
    ['a graph larger than --max-states', ['graph'], /the state graph has more than 100 states within these bounds \(no --depth given\): give a smaller --depth/],
    ['--max-states above the limit', ['graph', '--max-states', '501'], /--max-states 501: graph draws at most 500 states/],
    ['an unknown format', ['graph', '--format', 'png'], /format/],
    ['an unknown export format', ['export', 'x.json', '--to', 'png'], /to/],
    ['a missing trace file', ['export', '/nonexistent/t.json', '--to', 'dot'], /cannot read trace file/],
  ];
  for (const [name, args, msg] of refused)
    it(`refuses ${name}: exit 2, one line`, async () => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    });
});

describe('the installed binary on malformed trace files', () => {
  const files: [string, string, RegExp][] = [
    ['wrong types', JSON.stringify({ format: 'pkvm-check-trace', version: 1, generator: 'g', variant: 3, config: {}, violation: null, init: 0 }), /malformed trace file .*: \/variant: must be string \(got 3\)/],
    ['a missing field', JSON.stringify({ format: 'pkvm-check-trace', version: 1 }), /malformed trace file .*: \/: must have required property 'generator'/],
    ['a wrong version', JSON.stringify({ format: 'pkvm-check-trace', version: 7 }), /malformed trace file .*: \/version: must be 1 \(got 7\)/],
    ['a malformed ITF file', JSON.stringify({ vars: ['x'], states: [{ x: null }] }), /malformed trace file .*: not an ITF trace: \/states\/0\/x: /],
  ];
  for (const [name, text, msg] of files)
    it(`${name}: exit 2, one line, no stack trace (replay and export)`, () => {
      const f = join(dir, `bin-${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(f, text);
      for (const args of [['replay', f], ['export', f, '--to', 'dot']]) {
        const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
        expect(r.status).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(msg);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    });
});
