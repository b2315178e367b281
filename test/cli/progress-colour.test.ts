/**
 * Progress and colour through the Io: plain lines where stderr is not a terminal (their shape
 * as before, plus violations, memory and an ETA), a block redrawn in place on a (fake)
 * terminal, the violations so far filled by every search, and colour only where it is wanted.
 */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../checker/types.ts';
import { main } from '../../cli/main.ts';
import { colourWanted, type Io, type Terminal } from '../../cli/output.ts';
import { duration, eta, progressPrinter } from '../../cli/progress.ts';
import { runCli as run } from '../run-cli.ts';

const ESC = '\u001b';

/** An Io on a fake terminal: what goes to stdout, to stderr by lines, and raw to stderr (the redraws). */
function fakeTerminal(t: Partial<Terminal> = {}) {
  const got = { out: '', err: '', raw: '' };
  const io: Io = {
    out: (x) => void (got.out += `${x}\n`),
    err: (x) => void (got.err += `${x}\n`),
    terminal: { stdoutIsTTY: true, stderrIsTTY: true, columns: 100, rows: 40, writeErr: (x) => void (got.raw += x), env: {}, ...t },
  };
  return { io, got };
}

const PLAIN = /^pkvm-check(?: \(([a-z0-9-]+)\))?: depth \d+, [\d,]+ distinct states, [\d,]+ transitions, [\d,]+ queued, \d+ s, [\d,]+ states\/s, ([\d,]+) violations?, \d+ MiB RSS(?:, ETA (?:\d+ s|\d+ min \d\d s|\d+ h \d\d min) to (--[a-z-]+ \d+)(?: \(this variant\))?)?$/;

const lines = (err: string) => err.trim().split('\n').filter(Boolean);
const violationsOf = (line: string) => Number(PLAIN.exec(line)![2].replace(/,/g, ''));

describe('plain progress lines (stderr not a terminal)', () => {
  it('breadth-first: the shape of the older lines, then violations, memory and the ETA of --max-states; no escape codes', async () => {
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--max-states', '5000', '--progress-every', '0', '--no-trace']);
    expect(r.code).toBe(0);
    const ls = lines(r.err);
    expect(ls.length).toBeGreaterThan(1);
    for (const l of ls) expect(l).toMatch(PLAIN);
    expect(ls.some((l) => PLAIN.exec(l)![3] === '--max-states 5000')).toBe(true);
    expect(r.err).not.toContain(ESC);
    expect(r.out).not.toContain(ESC);
  });

  it('no ETA under a depth bound alone (the levels to come are of unknown size)', async () => {
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--depth', '6', '--progress-every', '0', '--no-trace']);
    const ls = lines(r.err);
    expect(ls.length).toBeGreaterThan(0);
    for (const l of ls) expect(l).toMatch(PLAIN);
    expect(r.err).not.toMatch(/ETA/);
  });

  it('--quiet: none', async () => {
    const r = await run(['check', '--variant', 'rfc-v1-fixed', '--depth', '4', '--progress-every', '0', '--quiet', '--no-trace']);
    expect(r.err).toBe('');
  });

  it('the violations so far grow to the ones reported, breadth-first and with workers', async () => {
    for (const workers of ['1', '2']) {
      const r = await run(['check', '--all', '--depth', '6', '--workers', workers, '--progress-every', '0', '--no-trace', '--json']);
      expect(r.code).toBe(1);
      const found = JSON.parse(r.out).violations.length;
      const counts = lines(r.err).map(violationsOf);
      expect(counts.length).toBeGreaterThan(0);
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]);
      expect(Math.max(...counts)).toBeGreaterThan(0);
      expect(Math.max(...counts)).toBeLessThanOrEqual(found);
    }
  });

  it('verify: one label per variant, the ETA of its bound for this variant', async () => {
    const r = await run(['verify', '--variant', 'rfc-v1-fixed', '--variant', 'rfc-v1', '--max-states', '3000', '--progress-every', '0']);
    const ls = lines(r.err);
    for (const l of ls) expect(l).toMatch(PLAIN);
    expect(new Set(ls.map((l) => PLAIN.exec(l)![1]))).toEqual(new Set(['rfc-v1-fixed', 'rfc-v1']));
    expect(ls.some((l) => l.endsWith('to --max-states 3000 (this variant)'))).toBe(true);
    // rfc-v1 is violated within 3,000 states: its count says so before the end
    expect(Math.max(...ls.filter((l) => l.startsWith('pkvm-check (rfc-v1):')).map(violationsOf))).toBeGreaterThan(0);
    expect(Math.max(...ls.filter((l) => l.startsWith('pkvm-check (rfc-v1-fixed):')).map(violationsOf))).toBe(0);
  });

  it('diff reports progress too', async () => {
    const r = await run(['diff', 'rfc-v1-fixed', 'vmemmap-state', '--depth', '4', '--progress-every', '0', '--no-trace']);
    const ls = lines(r.err);
    expect(ls.length).toBeGreaterThan(0);
    for (const l of ls) expect(l).toMatch(PLAIN);
  });

  it('random walks: walks done of those asked for, the ETA of --runs, and the shrinking once one fails', async () => {
    const ok = await run(['check', '--random', '--variant', 'rfc-v1-fixed', '--runs', '400', '--seed', '1', '--progress-every', '0', '--no-trace']);
    const ls = lines(ok.err);
    expect(ls.length).toBeGreaterThan(10);
    const walk = /^pkvm-check: walk ([\d,]+) of 400, [\d,]+ steps, longest walk \d+ steps, \d+ s, 0 violations, \d+ MiB RSS, ETA .* to --runs 400$/;
    for (const l of ls) expect(l).toMatch(walk);
    const done = ls.map((l) => Number(walk.exec(l)![1].replace(/,/g, '')));
    for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]);
    const bad = await run(['check', '--random', '--runs', '400', '--seed', '1', '--progress-every', '0', '--no-trace']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/, 1 violation, \d+ MiB RSS, shrinking the failing walk$/m);
  });
});

describe('the status block on a terminal', () => {
  it('a fake terminal gets the block redrawn in place (cursor codes), no plain lines, and the block cleared at the end', async () => {
    const { io, got } = fakeTerminal();
    const code = await main(['check', '--variant', 'rfc-v1-fixed', '--max-states', '5000', '--progress-every', '0', '--no-trace'], io);
    expect(code).toBe(0);
    expect(got.err).toBe('');
    const frames = got.raw.split(`${ESC}[?2026h`).filter(Boolean);
    expect(frames.length).toBeGreaterThan(2);
    expect(got.raw).toMatch(/pkvm-check: [\d,]+ states, [\d,]+ states\/s, depth \d+, [\d,]+ queued\n {2}0 violations so far, memory \d+ MiB RSS, elapsed \d+ s\n {2}ETA \d+ s to --max-states 5000\n/);
    // a redraw erases the previous block (erase line, cursor up) before writing the next
    expect(frames[1]).toMatch(new RegExp(`^\\u001b\\[2K\\u001b\\[1A`));
    // the last write erases the block
    expect(frames.at(-1)).not.toMatch(/states/);
    expect(got.out).toMatch(/OK: /);
  });

  it('a note (Ctrl-C) goes between redraws, above the block', () => {
    const { io, got } = fakeTerminal();
    const p = progressPrinter(io, {}, () => 2 ** 20 * 50);
    const at: Progress = { depth: 3, distinctStates: 1000, transitions: 9000, queued: 400, seconds: 4, statesPerSecond: 250, violations: 2 };
    p(at);
    p.note('pkvm-check: interrupted');
    expect(got.err).toBe('pkvm-check: interrupted\n');
    expect(got.raw.match(/2 violations so far, memory 50 MiB RSS, elapsed 4 s/g)).toHaveLength(2);
    p.done();
  });

  it('plain lines when only stdout is a terminal', () => {
    const { io, got } = fakeTerminal({ stderrIsTTY: false });
    progressPrinter(io, { timeLimit: 60 }, () => 2 ** 20 * 10)({ depth: 2, distinctStates: 50, transitions: 200, queued: 20, seconds: 15, statesPerSecond: 3.3, violations: 1 }, 'rfc-v1');
    expect(got.raw).toBe('');
    expect(got.err).toBe('pkvm-check (rfc-v1): depth 2, 50 distinct states, 200 transitions, 20 queued, 15 s, 3 states/s, 1 violation, 10 MiB RSS, ETA 45 s to --time-limit 60\n');
  });
});

describe('the ETA', () => {
  const p = (x: Partial<Progress>): Progress => ({ depth: 1, distinctStates: 1000, transitions: 0, queued: 0, seconds: 10, statesPerSecond: 100, violations: 0, ...x });

  it('is for the nearest bound that gives one, and says which', () => {
    expect(eta(p({}), { maxStates: 5000 })).toEqual({ seconds: 40, bound: '--max-states 5000' });
    expect(eta(p({}), { timeLimit: 30 })).toEqual({ seconds: 20, bound: '--time-limit 30' });
    expect(eta(p({}), { maxStates: 5000, timeLimit: 30 })).toEqual({ seconds: 20, bound: '--time-limit 30' });
    expect(eta(p({}), { maxStates: 2000, timeLimit: 30 })).toEqual({ seconds: 10, bound: '--max-states 2000' });
    expect(eta(p({ walks: { done: 100, requested: 400 } }), { runs: 400 })).toEqual({ seconds: 30, bound: '--runs 400' });
  });

  it('is none without such a bound, and never a fake one', () => {
    expect(eta(p({}), {})).toBeNull();
    expect(eta(p({ statesPerSecond: 0 }), { maxStates: 5000 })).toBeNull();
    expect(eta(p({ walks: { done: 100, requested: 400 }, violations: 1 }), { runs: 400 })).toBeNull();
    expect(eta(p({ seconds: 50 }), { timeLimit: 30 })).toEqual({ seconds: 0, bound: '--time-limit 30' });
  });

  it('durations read as a person would', () => {
    expect([duration(0.4), duration(59), duration(61), duration(3599), duration(7300)]).toEqual(['0 s', '59 s', '1 min 01 s', '59 min 59 s', '2 h 01 min']);
  });
});

describe('colour', () => {
  it('whether: --color/--no-color first, then NO_COLOR (any value), FORCE_COLOR, a terminal that is not dumb', () => {
    const t = (stdoutIsTTY: boolean, env: Record<string, string>): Terminal => ({ stdoutIsTTY, stderrIsTTY: stdoutIsTTY, writeErr: () => {}, env });
    expect(colourWanted(t(true, {}), undefined)).toBe(true);
    expect(colourWanted(t(true, { NO_COLOR: '' }), undefined)).toBe(false);
    expect(colourWanted(t(true, { NO_COLOR: '1', FORCE_COLOR: '1' }), undefined)).toBe(false);
    expect(colourWanted(t(false, {}), undefined)).toBe(false);
    expect(colourWanted(t(false, { FORCE_COLOR: '1' }), undefined)).toBe(true);
    expect(colourWanted(t(false, { FORCE_COLOR: '' }), undefined)).toBe(false);
    expect(colourWanted(t(true, { TERM: 'dumb' }), undefined)).toBe(false);
    expect(colourWanted(t(true, {}), false)).toBe(false);
    expect(colourWanted(t(false, { NO_COLOR: '1' }), true)).toBe(true);
    expect(colourWanted(undefined, undefined)).toBe(false);
  });

  const args = ['check', '--variant', 'rfc-v1-fixed', '--depth', '2', '--quiet', '--no-trace'];

  it('verdicts and headers are coloured on a terminal, and the text is the same without the codes', async () => {
    const { io, got } = fakeTerminal();
    expect(await main(args, io)).toBe(0);
    expect(got.out).toContain(`${ESC}[1mpkvm-check: variant rfc-v1-fixed`);
    expect(got.out).toMatch(new RegExp(`\\u001b\\[32mOK: no invariant is violated within the bounds`));
    const plain = await run(args);
    const strip = (t: string) => t.replace(/\u001b\[\d+m/g, '').replace(/\d+\.\d s, [\d,]+ states\/s, peak memory \d+ MiB/, '');
    expect(strip(got.out)).toBe(strip(plain.out));
  });

  it('a violation is red', async () => {
    const { io, got } = fakeTerminal();
    expect(await main(['check', '--quiet', '--no-trace', '--depth', '4'], io)).toBe(1);
    expect(got.out).toMatch(new RegExp(`\\u001b\\[1m\\u001b\\[31mVIOLATION of `));
  });

  for (const [name, argv, env] of [
    ['NO_COLOR set (empty)', args, { NO_COLOR: '' }],
    ['NO_COLOR set', args, { NO_COLOR: '1' }],
    ['--no-color', [...args, '--no-color'], {}],
  ] as const)
    it(`none with ${name}`, async () => {
      const { io, got } = fakeTerminal({ env });
      expect(await main([...argv], io)).toBe(0);
      expect(got.out).not.toContain(ESC);
      expect(got.out).toMatch(/^pkvm-check: variant rfc-v1-fixed/);
    });

  it('none when stdout is not a terminal, unless FORCE_COLOR', async () => {
    const piped = fakeTerminal({ stdoutIsTTY: false });
    await main(args, piped.io);
    expect(piped.got.out).not.toContain(ESC);
    const forced = fakeTerminal({ stdoutIsTTY: false, env: { FORCE_COLOR: '1' } });
    await main(args, forced.io);
    expect(forced.got.out).toContain(ESC);
  });

  it('--json is never coloured', async () => {
    const { io, got } = fakeTerminal({ env: { FORCE_COLOR: '1' } });
    await main([...args, '--json'], io);
    expect(got.out).not.toContain(ESC);
    expect(JSON.parse(got.out).result).toBe('ok');
  });
});
