/**
 * npm run bench:peers: pkvm-check against SPIN on the same sequential configurations of
 * pkvm-check's model (rfc-v1-fixed, host driver). SPIN checks the Promela twin that
 * bench/promela.ts generates for each configuration; both must find the same number of distinct
 * states, or the script fails (exit 1). Installs nothing: without `spin` and `gcc` on the PATH it
 * runs pkvm-check alone.
 *
 *   npm run bench:peers                          small, medium, large
 *   npm run bench:peers -- --only medium         one configuration
 *   npm run bench:peers -- --time-limit 600      stop pkvm-check after 600 s (its rate is still
 *                                                measured; SPIN's count is then compared with the
 *                                                validated count of the configuration)
 *   npm run bench:peers -- --validate            the validation list (small configurations, both
 *                                                tools exhaustive, counts compared)
 *   npm run bench:peers -- --keep DIR            keep the twins, pan.c and pan's output in DIR
 *   npm run bench:peers -- --engine readable     pkvm-check's engine (default: its own choice)
 *
 * Times are search times: pkvm-check's stats.seconds (no Node start-up) and pan's "elapsed
 * time" (no spin -a, no gcc: printed separately as "build s"). Peak memory is the peak RSS of
 * each child process (GNU time) where /usr/bin/time exists, else what each tool reports.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_CONFIG } from '../model/config.ts';
import { boundFlags, promelaTwin, twinActionCount, type TwinConfig } from './promela.ts';

const ROOT = resolve(import.meta.dirname, '..');

interface PeerConfig {
  readonly name: string;
  readonly what: string;
  readonly bounds: Partial<TwinConfig>;
  /** Distinct states both tools found when the configuration was validated (bench/README-peers.md). */
  readonly expected?: number;
}

const BENCHES: readonly PeerConfig[] = [
  { name: 'small', what: 'default bounds: 2 RAM + 1 MMIO, 2 domains x 2 IOVAs, 1 guest x 1 IPA', bounds: {}, expected: 13_196 },
  { name: 'medium', what: '3 RAM pages (else default)', bounds: { ramPages: 3 }, expected: 132_780 },
  { name: 'large', what: '4 RAM pages, 2 IPAs (else default)', bounds: { ramPages: 4, guestIpas: 2 }, expected: 2_273_428 },
];

/** Small configurations on which the twin was validated (both tools exhaustive, states equal). */
const VALIDATION: readonly PeerConfig[] = [
  { name: 'default', what: 'default bounds', bounds: {}, expected: 13_196 },
  { name: 'no-mmio', what: '--mmio-pages 0', bounds: { mmioPages: 0 }, expected: 1_482 },
  { name: 'dom1', what: '--domains 1', bounds: { domains: 1 }, expected: 1_812 },
  { name: 'dom3-ram1', what: '--ram-pages 1 --max-range 1 --domains 3', bounds: { ramPages: 1, maxRange: 1, domains: 3 }, expected: 8_000 },
  { name: 'iova4', what: '--domains 1 --iovas 4', bounds: { domains: 1, iovas: 4 }, expected: 13_196 },
  { name: 'range4', what: '--ram-pages 3 --domains 1 --iovas 4 --max-range 4 --guests 0', bounds: { ramPages: 3, domains: 1, iovas: 4, maxRange: 4, guests: 0 }, expected: 31_728 },
  { name: 'no-guest', what: '--guests 0', bounds: { guests: 0 }, expected: 3_898 },
  { name: 'guests2', what: '--guests 2 --domains 1', bounds: { guests: 2, domains: 1 }, expected: 5_514 },
  { name: 'ipas2', what: '--guest-ipas 2 --domains 1', bounds: { guestIpas: 2, domains: 1 }, expected: 2_502 },
  { name: 'mmio-backed', what: '--mmio-pages 2 --mmio-backed 1 --domains 1', bounds: { mmioPages: 2, mmioBacked: 1, domains: 1 }, expected: 7_368 },
  { name: 'pins2', what: '--max-pins 2 --domains 1', bounds: { maxPins: 2, domains: 1 }, expected: 2_232 },
  { name: 'pins0', what: '--max-pins 0', bounds: { maxPins: 0 }, expected: 10_896 },
  { name: 'range3-ram4', what: '--ram-pages 4 --mmio-pages 0 --domains 1 --iovas 4 --max-range 3 --guests 0', bounds: { ramPages: 4, mmioPages: 0, domains: 1, iovas: 4, maxRange: 3, guests: 0 }, expected: 38_314 },
  { name: 'mmio-range4', what: '--mmio-pages 2 --mmio-backed 2 --domains 1 --iovas 4 --max-range 4 --guests 0', bounds: { mmioPages: 2, mmioBacked: 2, domains: 1, iovas: 4, maxRange: 4, guests: 0 }, expected: 28_196 },
  { name: 'ram3', what: '--ram-pages 3', bounds: { ramPages: 3 }, expected: 132_780 },
];

interface Run {
  readonly distinct: number;
  readonly transitions: number;
  readonly depth: number;
  readonly seconds: number;
  readonly statesPerSecond: number;
  readonly peakBytes: number;
  readonly exhausted: boolean;
  readonly note?: string;
  /** The transition count is rounded (pan prints counts above 10^8 with 8 significant digits). */
  readonly approxTransitions?: number;
  /** pkvm-check's engine (packed, readable), as its JSON reports it. */
  readonly engine?: string;
}

interface SpinRun extends Run {
  readonly buildSeconds: number;
  readonly errors: number;
  readonly actions: number;
  readonly vectorBytes: number;
  readonly panMemoryBytes: number;
}

const fmt = (x: number) => x.toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const GNU_TIME = '/usr/bin/time';

function fail(message: string): never {
  console.log(`\nFAILED: ${message}`);
  process.exit(1);
}

function onPath(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return !r.error;
}

/** Runs a command, under GNU time when it exists (peak RSS in KiB written to rssFile). */
function timed(cmd: string, args: string[], cwd: string, rssFile: string) {
  const useTime = existsSync(GNU_TIME);
  const r = useTime
    ? spawnSync(GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args], { cwd, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 })
    : spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  let rss: number | null = null;
  if (useTime && existsSync(rssFile)) {
    const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    if (Number.isFinite(kib) && kib > 0) rss = kib * 1024;
  }
  return { ...r, rss };
}

function config(b: PeerConfig): TwinConfig {
  return { ...DEFAULT_CONFIG, ...b.bounds };
}

function runPkvmCheck(b: PeerConfig, dir: string, timeLimit: number | null, engine: string | null): Run {
  const args = ['bin/pkvm-check.js', 'check', '--variant', 'rfc-v1-fixed', '--host', 'driver', '--json', '--quiet', '--no-trace', ...boundFlags(config(b))];
  if (timeLimit !== null) args.push('--time-limit', String(timeLimit));
  if (engine !== null) args.push('--engine', engine);
  const r = timed(process.execPath, args, ROOT, join(dir, `${b.name}.pkvm.rss`));
  if (r.error) fail(`pkvm-check on ${b.name}: ${r.error.message}`);
  let j: { result: string; engine?: string; stats: { distinctStates: number; transitions: number; depth: number; seconds: number; statesPerSecond: number; peakMemoryBytes: number; exhausted: boolean; cutBy: string | null } };
  try {
    j = JSON.parse(r.stdout);
  } catch {
    fail(`pkvm-check on ${b.name} exited ${r.status} without JSON: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 5).join(' | ')}`);
  }
  if (j.result !== 'ok') fail(`pkvm-check found a violation in rfc-v1-fixed on ${b.name} (result ${j.result})`);
  const s = j.stats;
  return {
    distinct: s.distinctStates,
    transitions: s.transitions,
    depth: s.depth,
    seconds: s.seconds,
    statesPerSecond: s.distinctStates / Math.max(s.seconds, 1e-9),
    peakBytes: r.rss ?? s.peakMemoryBytes,
    exhausted: s.exhausted,
    note: s.exhausted ? undefined : `stopped by ${s.cutBy ?? 'a bound'}`,
    engine: j.engine,
  };
}

/** pan's hash table: 2^w slots, about twice the states expected. */
function hashBits(expected: number): number {
  return Math.min(30, Math.max(18, Math.ceil(Math.log2(Math.max(expected, 1))) + 1));
}

function runSpin(b: PeerConfig, dir: string, expected: number): SpinRun {
  const d = join(dir, b.name);
  mkdirSync(d, { recursive: true });
  const twin = promelaTwin(config(b));
  writeFileSync(join(d, 'twin.pml'), twin);
  const memlimMb = Math.floor((totalmem() * 0.75) / 2 ** 20);
  const t0 = Date.now();
  const a = spawnSync('spin', ['-a', 'twin.pml'], { cwd: d, encoding: 'utf8' });
  if (a.status !== 0) fail(`spin -a on ${b.name}: ${(a.stderr || a.stdout).trim()}`);
  const g = spawnSync('gcc', ['-O2', '-DSAFETY', '-DNOREDUCE', '-DBFS', `-DMEMLIM=${memlimMb}`, '-o', 'pan', 'pan.c'], { cwd: d, encoding: 'utf8' });
  if (g.status !== 0) fail(`gcc pan.c on ${b.name}: ${g.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  const buildSeconds = (Date.now() - t0) / 1000;
  // -n: no unreached-code report; -m: depth bound far above any BFS depth of the model
  const p = timed('./pan', [`-w${hashBits(expected)}`, '-m100000', '-n'], d, join(d, 'pan.rss'));
  writeFileSync(join(d, 'pan.out'), p.stdout + p.stderr);
  if (p.error) fail(`pan on ${b.name}: ${p.error.message}`);
  const out = p.stdout + p.stderr;
  const text = (re: RegExp, what: string): string => {
    const m = out.match(re);
    if (!m) fail(`pan on ${b.name}: no "${what}" in its output (see ${join(d, 'pan.out')}):\n${out.slice(0, 2000)}`);
    return m[1];
  };
  const num = (re: RegExp, what: string): number => Number(text(re, what));
  /** Half a unit of the last digit pan printed: 0 for an integer, e.g. 5 for 1.3754469e+08. */
  const rounding = (printed: string): number => {
    const m = printed.match(/^\d+(?:\.(\d+))?e\+(\d+)$/);
    return m ? 10 ** (Number(m[2]) - (m[1]?.length ?? 0)) / 2 : 0;
  };
  // pan exits 0 even when it finds an error: its "errors:" line is what counts
  const errors = num(/errors:\s*(\d+)/, 'errors:');
  if (errors !== 0)
    fail(`pan found ${errors} error(s) in the twin of ${b.name} (an assertion: an invariant of rfc-v1-fixed, or a twin bug):\n${out.split('\n').filter((l) => /pan:|assert|error/i.test(l)).slice(0, 10).join('\n')}`);
  if (/MEMLIM|out of memory|max search depth too small/i.test(out)) fail(`pan on ${b.name} did not finish its search:\n${out.split('\n').filter((l) => /pan:|error|MEMLIM|memory/i.test(l)).slice(0, 10).join('\n')}`);
  const storedText = text(/([\d.e+]+) states, stored/, 'states, stored');
  if (rounding(storedText) > 0) fail(`pan on ${b.name} printed its state count rounded (${storedText}): the count cannot be compared exactly`);
  const stored = Number(storedText);
  const transitionsText = text(/([\d.e+]+) transitions \(= stored\+matched\)/, 'transitions');
  const transitions = Number(transitionsText);
  const seconds = num(/elapsed time ([\d.e+]+) seconds/, 'elapsed time');
  const panMb = num(/([\d.]+)\s+total actual memory usage/, 'total actual memory usage');
  return {
    distinct: stored,
    // each state also takes the invariant self-loop, and pan counts the initial state once
    transitions: transitions - stored - 1,
    approxTransitions: rounding(transitionsText) || undefined,
    depth: num(/depth reached (\d+)/, 'depth reached'),
    seconds,
    statesPerSecond: stored / Math.max(seconds, 0.01),
    peakBytes: p.rss ?? panMb * 2 ** 20,
    exhausted: true,
    buildSeconds,
    errors,
    actions: twinActionCount(twin),
    vectorBytes: num(/State-vector (\d+) byte/, 'State-vector'),
    panMemoryBytes: panMb * 2 ** 20,
  };
}

function row(what: string, tool: string, r: Run, build = ''): string {
  return `| ${what} | ${tool} | ${fmt(r.distinct)}${r.exhausted ? '' : ` (${r.note ?? 'partial'})`} | ${r.approxTransitions ? '~' : ''}${fmt(r.transitions)} | ${r.depth} | ${r.seconds.toFixed(2)} | ${build} | ${fmt(Math.round(r.statesPerSecond))} | ${mib(r.peakBytes)} |`;
}

function main(): void {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | null => {
    const i = argv.indexOf(name);
    if (i < 0) return null;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`);
    return v;
  };
  const only = opt('--only');
  const tl = opt('--time-limit');
  const timeLimit = tl === null ? null : Number(tl);
  if (timeLimit !== null && !(timeLimit > 0)) fail('--time-limit needs a positive number of seconds');
  const keep = opt('--keep');
  const engine = opt('--engine');
  const validate = argv.includes('--validate');
  const list = validate ? VALIDATION : BENCHES;
  const chosen = list.filter((b) => !only || b.name === only);
  if (chosen.length === 0) fail(`--only ${only}: no such configuration (${list.map((b) => b.name).join(', ')})`);

  const haveSpin = onPath('spin', ['-V']) && onPath('gcc', ['--version']);
  const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'pkvm-peers-'));
  mkdirSync(dir, { recursive: true });
  const spinVersion = haveSpin ? (spawnSync('spin', ['-V'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? 'spin') : '';

  console.log(`# pkvm-check vs SPIN${validate ? ' (validation)' : ''}: rfc-v1-fixed, host driver, sequential; node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
  console.log(haveSpin ? `# ${spinVersion}; pan built with gcc -O2 -DSAFETY -DNOREDUCE -DBFS -DMEMLIM` : '# SPIN is missing (spin and gcc must be on the PATH; Debian: apt-get install spin): pkvm-check only');
  if (timeLimit !== null) console.log(`# pkvm-check time limit: ${timeLimit} s`);
  console.log('');
  console.log('| configuration | tool | distinct states | transitions | depth | search s | build s | states/s | peak memory |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');

  const ratios: string[] = [];
  const problems: string[] = [];
  for (const b of chosen) {
    process.stderr.write(`[${b.name}] pkvm-check ${boundFlags(config(b)).join(' ')} ...\n`);
    const pk = runPkvmCheck(b, dir, timeLimit, engine);
    const what = `${b.name}: ${b.what}`;
    console.log(row(what, `pkvm-check${pk.engine ? ` (${pk.engine} engine)` : ''}`, pk));
    if (!haveSpin) {
      ratios.push(`${b.name}: pkvm-check ${fmt(Math.round(pk.statesPerSecond))} states/s; SPIN missing`);
      continue;
    }
    process.stderr.write(`[${b.name}] SPIN (twin, spin -a, gcc, pan) ...\n`);
    const expected = pk.exhausted ? pk.distinct : (b.expected ?? pk.distinct * 4);
    const sp = runSpin(b, dir, expected);
    console.log(row(what, `SPIN (${sp.actions} actions, ${sp.vectorBytes}-byte vector)`, sp, sp.buildSeconds.toFixed(1)));
    if (pk.exhausted) {
      if (pk.distinct !== sp.distinct) problems.push(`${b.name}: distinct states differ: pkvm-check ${fmt(pk.distinct)}, SPIN ${fmt(sp.distinct)}`);
      else if (Math.abs(pk.transitions - sp.transitions) > (sp.approxTransitions ?? 0)) console.error(`WARNING ${b.name}: equal states but transitions differ: pkvm-check ${fmt(pk.transitions)}, SPIN ${fmt(sp.transitions)} (after removing the invariant self-loops)`);
      if (pk.depth !== sp.depth) problems.push(`${b.name}: BFS depth differs: pkvm-check ${pk.depth}, SPIN ${sp.depth}`);
    } else if (b.expected !== undefined && sp.distinct !== b.expected) {
      problems.push(`${b.name}: SPIN found ${fmt(sp.distinct)} distinct states, the validated count is ${fmt(b.expected)} (pkvm-check was stopped: ${pk.note})`);
    }
    if (validate && b.expected !== undefined && sp.distinct !== b.expected) problems.push(`${b.name}: ${fmt(sp.distinct)} states, README-peers.md records ${fmt(b.expected)}`);
    if (problems.some((x) => x.startsWith(`${b.name}:`))) {
      ratios.push(`${b.name}: the two tools disagree (see below): no ratio`);
      continue;
    }
    const ratio = pk.statesPerSecond / sp.statesPerSecond;
    ratios.push(
      `${b.name}: pkvm-check ${fmt(Math.round(pk.statesPerSecond))} states/s${pk.exhausted ? '' : ` (${pk.note} after ${fmt(pk.distinct)} states: a partial run, whose early BFS levels are cheaper per state, so not comparable)`}, SPIN ${fmt(Math.round(sp.statesPerSecond))} states/s, ratio=${ratio.toFixed(2)}`,
    );
  }
  console.log('');
  console.log('SPIN transitions exclude the invariant self-loop the twin takes once per state (~: pan printed the count rounded to 8 digits); times are search times.');
  console.log('');
  for (const r of ratios) console.log(r);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`\ntwins, pan.c and pan output kept in ${dir}`);
  if (problems.length) fail(problems.join('\n'));
}

main();
