/**
 * The command line, end to end: exit codes, JSON output, trace files that replay, and one-line
 * errors (exit 2) for bad input.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../run-cli.ts';

const BIN = join(__dirname, '..', '..', 'bin', 'pkvm-check.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-cli-'));
});

describe('check', () => {
  it('the default check of the seed finds a violation, writes a trace, and prints the statistics', async () => {
    const trace = join(dir, 'default.json');
    const r = await run(['check', '--quiet', '--trace-out', trace]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/VIOLATION of /);
    expect(r.out).toMatch(/statistics: [\d,]+ distinct states, [\d,]+ transitions, depth \d+/);
    expect(r.out).toMatch(/reproduce: +pkvm-check replay /);
    const rep = await run(['replay', trace]);
    expect(rep.code).toBe(1);
    expect(rep.out).toMatch(/reproduced on rfc-v1: .* identical to the recording/);
  });

  it('--json prints one object with the stable field names', async () => {
    const trace = join(dir, 'json.json');
    const r = await run(['check', '--quiet', '--json', '--trace-out', trace]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.result).toBe('violation');
    expect(j.variant).toBe('rfc-v1');
    expect(j.config.host).toBe('driver');
    for (const k of ['distinctStates', 'transitions', 'depth', 'seconds', 'statesPerSecond', 'exhausted']) expect(j.stats).toHaveProperty(k);
    expect(j.stats.exhausted).toBe(false);
    expect(j.violation.trace).toBe(trace);
    expect(j.violation.length).toBe(JSON.parse(readFileSync(trace, 'utf8')).steps.length);
  });

  it('the fixed design: exit 0, exhausted, exact state count', async () => {
    const r = await run(['check', '--quiet', '--json', '--variant', 'rfc-v1-fixed']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.result).toBe('ok');
    expect(j.stats.exhausted).toBe(true);
    expect(j.stats.distinctStates).toBe(13196);
    expect(j.violation).toBeUndefined();
  });

  it('a bound that cuts the search says so, and exits 0 when nothing is violated', async () => {
    const r = await run(['check', '--quiet', '--json', '--variant', 'rfc-v1-fixed', '--depth', '3']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.stats.exhausted).toBe(false);
    expect(j.stats.cutBy).toBe('depth');
    expect(j.stats.depth).toBe(3);
    const t = await run(['check', '--quiet', '--variant', 'rfc-v1-fixed', '--max-states', '100']);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/not exhausted: the states bound cut the search/);
  });

  it('adversarial host: the seed with size below a page, is_ram on unbacked MMIO, and a saturated refcount, each with a shortest trace that replays', async () => {
    const base = join(dir, 'adv.json');
    const r = await run(['check', '--quiet', '--json', '--host', 'adversarial', '--refcount-bits', '2', '--all', '--depth', '2', '--trace-out', base]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    const find = (inv: string, msg: RegExp) => j.violations.find((v: { invariant: string; message: string }) => v.invariant === inv && msg.test(v.message));
    const uninit = find('no-uninitialised-return', /size \(0\) is below one page/);
    const halfPage = find('no-warn', /unaligned range/);
    const unbacked = find('no-vmemmap-fault', /hyp_page_ref_inc_return|is not backed/);
    const overflow = find('no-bug', /overflows/);
    expect(uninit?.length).toBe(1);
    expect(halfPage?.length).toBe(1);
    expect(unbacked?.length).toBe(1);
    expect(overflow?.length).toBe(2);
    for (const v of [uninit, halfPage, unbacked, overflow]) {
      const rep = await run(['replay', v.trace, '--json']);
      expect(rep.code).toBe(1);
      const rj = JSON.parse(rep.out);
      expect(rj.result).toBe('reproduced');
      expect(rj.identical).toBe(true);
    }
  });

  it('every trace written by check --all replays to its violation', async () => {
    const sub = mkdtempSync(join(dir, 'all-'));
    const r = await run(['check', '--quiet', '--host', 'iommu', '--all', '--depth', '2', '--trace-out', join(sub, 't.json')]);
    expect(r.code).toBe(1);
    const files = readdirSync(sub);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const rep = await run(['replay', join(sub, f), '--json']);
      expect(rep.code, f).toBe(1);
      expect(JSON.parse(rep.out).result, f).toBe('reproduced');
    }
  });

  it('replay on another variant answers "does the fix fix it"', async () => {
    const trace = join(dir, 'fix.json');
    await run(['check', '--quiet', '--host', 'iommu', '--invariant', 'no-hang', '--trace-out', trace]);
    const same = await run(['replay', trace]);
    expect(same.code).toBe(1);
    const fixed = await run(['replay', trace, '--variant', 'rfc-v1-fixed', '--json']);
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.out).result).toBe('not-reproduced');
  });

  it('random walks are reproducible from their seed and find the seed bugs', async () => {
    const args = ['check', '--quiet', '--json', '--random', '--seed', '7', '--runs', '300', '--depth', '12', '--host', 'iommu', '--no-trace'];
    const a = JSON.parse((await run(args)).out);
    const b = JSON.parse((await run(args)).out);
    expect(a.result).toBe('violation');
    expect(a.random.seed).toBe(7);
    expect(b.violation).toEqual(a.violation);
  });

  it('--invariant selects invariants and groups', async () => {
    const r = await run(['check', '--quiet', '--json', '--invariant', 'hyp-failure', '--host', 'iommu', '--no-trace']);
    const j = JSON.parse(r.out);
    expect(j.invariants).toEqual(['no-bug', 'no-vmemmap-fault', 'no-hang', 'no-warn', 'no-uninitialised-return', 'lock-discipline']);
  });
});

describe('list', () => {
  for (const what of ['variants', 'invariants', 'operations', 'pieces', 'hosts'])
    it(`list ${what}`, async () => {
      const r = await run(['list', what]);
      expect(r.code).toBe(0);
      expect(r.out.trim().split('\n').length).toBeGreaterThan(2);
    });
});

describe('bad input: exit 2 and one line on stderr', () => {
  const bad: [string, string[], RegExp][] = [
    ['unknown variant', ['check', '--variant', 'nope'], /unknown variant 'nope'/],
    ['unknown invariant', ['check', '--invariant', 'nope'], /unknown invariant 'nope'/],
    ['no RAM', ['check', '--ram-pages', '0'], /--ram-pages must be an integer from 1/],
    ['too many pages', ['check', '--ram-pages', '15', '--mmio-pages', '5'], /at most 16/],
    ['iovas not a power of two', ['check', '--iovas', '6'], /power of two/],
    ['more backed MMIO than MMIO', ['check', '--mmio-backed', '3'], /--mmio-backed must be an integer from 0 to 1/],
    ['refcount width', ['check', '--refcount-bits', '40'], /--refcount-bits/],
    ['negative depth', ['check', '--depth', '-1'], /--depth must be an integer of at least 0/],
    ['not a number', ['check', '--depth', 'deep'], /--depth must be an integer of at least 0/],
    ['fractional depth', ['check', '--depth', '2.5'], /--depth must be an integer/],
    ['no states at all', ['check', '--max-states', '0'], /--max-states must be an integer of at least 1/],
    ['no states at all (verify)', ['verify', '--max-states', '0'], /--max-states must be an integer of at least 1/],
    ['negative time', ['check', '--time-limit', '-5'], /--time-limit must be a non-negative number/],
    ['unknown host', ['check', '--host', 'nice'], /Invalid values|host/],
    ['unknown option', ['check', '--frobnicate'], /Unknown argument/],
    ['unknown command', ['frobnicate'], /unknown argument|unknown command/i],
    ['no command', [], /name a command/],
    ['missing trace file', ['replay', '/nonexistent/trace.json'], /cannot read trace file/],
  ];
  for (const [name, args, msg] of bad)
    it(name, async () => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    });

  // (edits of a valid trace: the shortest one of the seed)
  const valid = async () => {
    const f = join(dir, 'valid.json');
    expect((await run(['check', '--quiet', '--trace-out', f])).code).toBe(1);
    return JSON.parse(readFileSync(f, 'utf8'));
  };
  const malformed: [string, (t: Record<string, any>) => unknown, RegExp][] = [
    ['not JSON', () => '{ this is not json', /not valid JSON/],
    ['not an object', () => [1, 2, 3], /\/: must be object \(got \[1,2,3\]\)/],
    ['wrong format', (t) => ({ ...t, format: 'other' }), /\/format: must be "pkvm-check-trace" \(got "other"\)/],
    ['wrong version', () => ({ format: 'pkvm-check-trace', version: 99 }), /\/version: must be 1 \(got 99\)/],
    ['bad steps', (t) => ({ ...t, steps: [{ ...t.steps[0], action: 3 }] }), /\/steps\/0\/action: must be object \(got 3\)/],
    ['bad config', (t) => ({ ...t, config: { ...t.config, ramPages: 0 } }), /configuration is invalid/],
    ['unknown variant', (t) => ({ ...t, variant: 'nope' }), /unknown variant|not built in/],
  ];
  for (const [name, edit, msg] of malformed)
    it(`malformed trace file: ${name}`, async () => {
      const f = join(dir, `bad-${name.replace(/\W+/g, '-')}.json`);
      const t = edit(await valid());
      writeFileSync(f, typeof t === 'string' ? t : JSON.stringify(t));
      const r = await run(['replay', f]);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    });

  it('the installed binary: exit code 2, one line, no stack trace unless --debug', () => {
    const r = spawnSync(process.execPath, [BIN, 'check', '--variant', 'nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/pkvm-check: unknown variant 'nope'/);
    const d = spawnSync(process.execPath, [BIN, 'check', '--variant', 'nope', '--debug'], { encoding: 'utf8' });
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/\n\s+at /);
  });

  it('the installed binary runs a check end to end', () => {
    const out = execFileSync(process.execPath, [BIN, 'check', '--variant', 'rfc-v1-fixed', '--quiet', '--depth', '2'], { encoding: 'utf8' });
    expect(out).toMatch(/OK: no invariant is violated within the bounds/);
  });
});
