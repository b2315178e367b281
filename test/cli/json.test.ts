/**
 * --json on every command: one JSON object on stdout, naming the command, with the configuration,
 * the verdict (result) and the exit code the command returns (the same as without --json); and
 * --steps, which inlines each trace's steps (traceSteps, the steps of the trace file) in the JSON
 * of check, verify and diff. Small bounds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { runCli as run } from '../run-cli.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-json-'));
});

/** A command run twice, with and without --json: the JSON, and both exit codes. */
async function both(args: string[]): Promise<{ j: Record<string, any>; code: number; textCode: number }> {
  const r = await run([...args, '--json']);
  const t = await run(args);
  expect(r.out.trim().startsWith('{') && r.out.trim().endsWith('}'), 'one JSON object on stdout').toBe(true);
  return { j: JSON.parse(r.out), code: r.code, textCode: t.code };
}

const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG).sort();

describe('every command: command, configuration, verdict, exit code', () => {
  it('check', async () => {
    for (const variant of ['rfc-v1', 'rfc-v1-fixed']) {
      const { j, code, textCode } = await both(['check', '--quiet', '--depth', '3', '--variant', variant, '--trace-out', join(dir, `${variant}.json`)]);
      expect(j.command).toBe('check');
      expect(Object.keys(j.config).sort()).toEqual(CONFIG_KEYS);
      expect(j.result).toBe(variant === 'rfc-v1' ? 'violation' : 'ok');
      expect(j.exitCode).toBe(code);
      expect(code).toBe(textCode);
      expect(code).toBe(variant === 'rfc-v1' ? 1 : 0);
    }
  });

  it('verify', async () => {
    const { j, code, textCode } = await both(['verify', '--quiet', '--depth', '2', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed']);
    expect(j.command).toBe('verify');
    expect(j.config.host).toBe('iommu');
    expect(j.bounds).toEqual({ depth: 2 });
    expect(j.result).toBe('violation');
    expect([j.exitCode, code, textCode]).toEqual([1, 1, 1]);
    for (const v of j.variants) {
      expect(Object.keys(v.stats)).toEqual(['distinctStates', 'transitions', 'depth', 'seconds', 'exhausted', 'cutBy']);
      expect(v.stats.cutBy).toBe('depth');
      expect(v.notChecked).toEqual([]);
    }
  });

  it('diff', async () => {
    for (const [a, b, result, exit] of [
      ['rfc-v1', 'rfc-v1', 'agree', 0],
      ['rfc-v1', 'rfc-v1-fixed', 'diverge', 1],
    ] as const) {
      const { j, code, textCode } = await both(['diff', a, b, '--quiet', '--depth', '3', '--no-trace']);
      expect(j.command).toBe('diff');
      expect(Object.keys(j.config).sort()).toEqual(CONFIG_KEYS);
      expect(j.result).toBe(result);
      expect([j.exitCode, code, textCode]).toEqual([exit, exit, exit]);
    }
  });

  it('replay', async () => {
    const trace = join(dir, 'replay.json');
    expect((await run(['check', '--quiet', '--trace-out', trace])).code).toBe(1);
    for (const [variant, result, exit] of [
      [null, 'reproduced', 1],
      ['rfc-v1-fixed', 'not-reproduced', 0],
    ] as const) {
      const { j, code, textCode } = await both(['replay', trace, ...(variant ? ['--variant', variant] : [])]);
      expect(j.command).toBe('replay');
      expect(j.config).toEqual(JSON.parse(readFileSync(trace, 'utf8')).config);
      expect(j.result).toBe(result);
      expect([j.exitCode, code, textCode]).toEqual([exit, exit, exit]);
    }
  });

  it('list, each list; the items are what the text shows', async () => {
    for (const what of ['variants', 'invariants', 'operations', 'pieces', 'hosts']) {
      const { j, code } = await both(['list', what]);
      const text = (await run(['list', what])).out;
      expect(j.command).toBe('list');
      expect(j.what).toBe(what);
      expect([j.exitCode, code]).toEqual([0, 0]);
      expect(j.items.length).toBeGreaterThan(2);
      for (const item of j.items) expect(text).toContain(item.name);
    }
    const inv = (await both(['list', 'invariants'])).j.items;
    expect(inv.find((i: { name: string }) => i.name === 'hyp-failure')).toEqual({ name: 'hyp-failure', kind: 'group', members: ['no-bug', 'no-vmemmap-fault', 'no-hang', 'no-warn', 'no-uninitialised-return', 'lock-discipline'] });
    expect(inv.find((i: { name: string }) => i.name === 'dma-isolation').kind).toBe('state');
    const vars = (await both(['list', 'variants'])).j.items;
    expect(vars[0]).toMatchObject({ name: 'rfc-v1', replaces: [] });
  });
});

describe('--steps inlines the traces', () => {
  it('check: each violation carries the steps of its trace file', async () => {
    const base = join(dir, 'steps.json');
    const r = await run(['check', '--quiet', '--json', '--steps', '--all', '--depth', '2', '--trace-out', base]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.violations.length).toBeGreaterThan(1);
    for (const v of j.violations) {
      expect(v.traceSteps).toHaveLength(v.length);
      expect(v.traceSteps).toEqual(JSON.parse(readFileSync(v.trace, 'utf8')).steps);
    }
    expect(j.violation.traceSteps).toEqual(j.violations[0].traceSteps);
    const plain = JSON.parse((await run(['check', '--quiet', '--json', '--depth', '2', '--no-trace'])).out);
    expect(plain.violation.traceSteps).toBeUndefined();
  });

  it('verify: each violated cell carries its steps, the same as the trace written by --trace-dir', async () => {
    const traceDir = join(dir, 'verify-traces');
    const r = await run(['verify', '--quiet', '--json', '--steps', '--depth', '3', '--variant', 'rfc-v1', '--variant', 'rfc-v1-fixed', '--trace-dir', traceDir]);
    const j = JSON.parse(r.out);
    let violated = 0;
    for (const v of j.variants)
      for (const cell of Object.values(v.invariants) as { status: string; length?: number; trace?: string; traceSteps?: unknown[] }[]) {
        if (cell.status !== 'violated') {
          expect(cell.traceSteps).toBeUndefined();
          continue;
        }
        violated++;
        expect(cell.traceSteps).toHaveLength(cell.length!);
        expect(cell.traceSteps).toEqual(JSON.parse(readFileSync(cell.trace!, 'utf8')).steps);
      }
    expect(violated).toBeGreaterThan(5);
  });

  it('diff: the divergence carries the trace of the first variant, even with --no-trace', async () => {
    const out = join(dir, 'diff.json');
    const written = JSON.parse((await run(['diff', 'rfc-v1', 'rfc-v1-fixed', '--quiet', '--json', '--steps', '--depth', '3', '--trace-out', out])).out);
    expect(written.divergence.traceSteps).toEqual(JSON.parse(readFileSync(out, 'utf8')).steps);
    expect(written.divergence.traceSteps).toHaveLength(written.divergence.length);
    const unwritten = JSON.parse((await run(['diff', 'rfc-v1', 'rfc-v1-fixed', '--quiet', '--json', '--steps', '--depth', '3', '--no-trace'])).out);
    expect(unwritten.divergence.trace).toBeNull();
    expect(unwritten.divergence.traceSteps).toEqual(written.divergence.traceSteps);
  });

  it('without --json: exit 2, one line', async () => {
    for (const args of [['check', '--depth', '1'], ['verify', '--depth', '1', '--variant', 'rfc-v1'], ['diff', 'rfc-v1', 'rfc-v1-fixed', '--depth', '1']]) {
      const r = await run([...args, '--quiet', '--steps']);
      expect(r.code).toBe(2);
      expect(r.err).toBe('pkvm-check: --steps inlines the traces into the JSON output: give --json too\n');
    }
  });
});
