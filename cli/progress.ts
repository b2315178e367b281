/**
 * Progress of a running search on stderr. On a terminal one status block is redrawn in place
 * (log-update); elsewhere (a CI log, a pipe) a plain line is written each time the search
 * reports, every 2 s by default (--progress-every). The printer reads the process's memory
 * itself; an ETA is given only where a bound makes the end foreseeable, and names that bound.
 */
import { createLogUpdate } from 'log-update';
import type { Progress } from '../checker/types.ts';
import type { Io } from './output.ts';

/** The bounds an ETA can be given for. */
export interface EtaBounds {
  readonly maxStates?: number;
  readonly timeLimit?: number;
  /** Random walks: the walks asked for. */
  readonly runs?: number;
  /** What the bounds apply to, when it is not the whole run (verify: "this variant"). */
  readonly scope?: string;
}

export interface ProgressPrinter {
  (p: Progress, label?: string): void;
  /** A message that must not be drawn over (Ctrl-C's notice). */
  note(text: string): void;
  /** The search is over: the status block goes (the result says the rest). */
  done(): void;
}

const n = (x: number) => x.toLocaleString('en-US');
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** 42 s, 3 min 05 s, 2 h 07 min. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * When the search will reach a bound, at its rate so far, and which bound: the nearest of the
 * ones given. None for a depth bound (the size of the levels to come is unknown), none without
 * a bound, none once random walks found a violation (fast-check then only shrinks it).
 */
export function eta(p: Progress, b: EtaBounds): { seconds: number; bound: string } | null {
  const found: { seconds: number; bound: string }[] = [];
  if (b.timeLimit !== undefined) found.push({ seconds: b.timeLimit - p.seconds, bound: `--time-limit ${b.timeLimit}` });
  if (p.walks) {
    if (p.violations > 0) return null;
    const rate = p.walks.done / Math.max(p.seconds, 1e-9);
    if (p.walks.done > 0) found.push({ seconds: (p.walks.requested - p.walks.done) / rate, bound: `--runs ${p.walks.requested}` });
  } else if (b.maxStates !== undefined && p.statesPerSecond > 0) found.push({ seconds: (b.maxStates - p.distinctStates) / p.statesPerSecond, bound: `--max-states ${b.maxStates}` });
  if (!found.length) return null;
  const first = found.reduce((x, y) => (y.seconds < x.seconds ? y : x));
  return { seconds: Math.max(0, first.seconds), bound: first.bound };
}

function etaText(p: Progress, b: EtaBounds): string | null {
  const e = eta(p, b);
  if (e) return `ETA ${duration(e.seconds)} to ${e.bound}${b.scope ? ` (${b.scope})` : ''}`;
  return p.walks && p.violations > 0 ? 'shrinking the failing walk' : null;
}

const violationsText = (k: number) => `${n(k)} violation${k === 1 ? '' : 's'}`;

/** The plain line (a log, a pipe): the fields of the older one, then violations, memory and the ETA. */
export function progressLine(p: Progress, label: string | undefined, rss: number, b: EtaBounds): string {
  const head = `pkvm-check${label ? ` (${label})` : ''}: `;
  const what = p.walks
    ? `walk ${n(p.walks.done)} of ${n(p.walks.requested)}, ${n(p.transitions)} steps, longest walk ${n(p.depth)} steps, ${p.seconds.toFixed(0)} s`
    : `depth ${p.depth}, ${n(p.distinctStates)} distinct states, ${n(p.transitions)} transitions, ${n(p.queued)} queued, ${p.seconds.toFixed(0)} s, ${n(Math.round(p.statesPerSecond))} states/s`;
  const end = etaText(p, b);
  return `${head}${what}, ${violationsText(p.violations)}, ${mib(rss)} RSS${end ? `, ${end}` : ''}`;
}

/** The status block a terminal redraws. */
export function progressBlock(p: Progress, label: string | undefined, rss: number, b: EtaBounds): string {
  const head = `pkvm-check${label ? ` (${label})` : ''}`;
  const first = p.walks
    ? `${head}: walk ${n(p.walks.done)} of ${n(p.walks.requested)}, ${n(p.transitions)} steps (${n(Math.round(p.transitions / Math.max(p.seconds, 1e-9)))}/s), longest walk ${n(p.depth)} steps`
    : `${head}: ${n(p.distinctStates)} states, ${n(Math.round(p.statesPerSecond))} states/s, depth ${p.depth}, ${n(p.queued)} queued`;
  const end = etaText(p, b);
  return `${first}\n  ${violationsText(p.violations)} so far, memory ${mib(rss)} RSS, elapsed ${duration(p.seconds)}${end ? `\n  ${end}` : ''}`;
}

/**
 * The progress printer of a run on `io`: a redrawn block when stderr is a terminal, plain lines
 * otherwise. `rss` reads the process's resident memory (every thread's, workers included).
 */
export function progressPrinter(io: Io, bounds: EtaBounds = {}, rss: () => number = () => process.memoryUsage.rss()): ProgressPrinter {
  const t = io.terminal;
  if (!t?.stderrIsTTY) {
    const plain = (p: Progress, label?: string) => io.err(progressLine(p, label, rss(), bounds));
    return Object.assign(plain, { note: (text: string) => io.err(text), done: () => {} });
  }
  // the cursor stays shown: hiding it would write to the process's stderr behind the Io's back
  const stream = { isTTY: true, get columns() { return t.columns; }, get rows() { return t.rows; }, write: (s: string) => (t.writeErr(s), true) };
  const draw = createLogUpdate(stream as unknown as NodeJS.WriteStream, { showCursor: true });
  let last: string | null = null;
  const block = (p: Progress, label?: string) => {
    last = progressBlock(p, label, rss(), bounds);
    draw(last);
  };
  return Object.assign(block, {
    note(text: string) {
      draw.clear();
      io.err(text);
      if (last !== null) draw(last);
    },
    done() {
      if (last !== null) draw.clear();
      draw.done();
      last = null;
    },
  });
}
