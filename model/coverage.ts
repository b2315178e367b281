/**
 * Coverage of a variant's code over a run: how often each piece (kernel function) was called,
 * what it returned, which errno its source can return but never did, and which named branches
 * (`this.branch('...')`) were taken or never were. The instrumented variant behaves exactly as
 * the original; only the counting is added.
 */
import { retName } from './constants.ts';
import { pieceNames } from './kernel/hyp.ts';
import type { Hyp } from './kernel/hyp.ts';
import type { Variant } from './variant.ts';

export interface PieceCoverage {
  readonly piece: string;
  readonly calls: number;
  /** Return values seen (printed as the kernel would), with counts. */
  readonly returns: Readonly<Record<string, number>>;
  /** Errno names in the piece's source that it never returned. */
  readonly errnosNeverReturned: readonly string[];
}

export interface CoverageReport {
  readonly variant: string;
  readonly pieces: readonly PieceCoverage[];
  /** Pieces with checks (errnos or named branches) that were never called. */
  readonly neverCalled: readonly string[];
  readonly branches: readonly { readonly name: string; readonly taken: number }[];
}

/** Infrastructure pieces that are not worth a coverage line. */
const SKIP = new Set(['branch', 'fail', 'BUG_ON', 'WARN_ON', 'uninitialised', 'hang', 'hyp_spin_lock', 'hyp_spin_unlock', 'constructor']);

const ERRNO = /\bE(PERM|NOENT|2BIG|AGAIN|NOMEM|FAULT|BUSY|EXIST|INVAL|RANGE|OVERFLOW)\b/g;
const BRANCH = /branch\(\s*(['"`])((?:(?!\1).)+)\1\s*\)/g;

function methodSource(cls: Variant['hyp'], name: string): string {
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d && typeof d.value === 'function') {
      const fn = d.value as Function & { __original?: Function };
      return (fn.__original ?? fn).toString();
    }
  }
  return '';
}

export function instrument(variant: Variant): { variant: Variant; report(): CoverageReport } {
  const names = pieceNames(variant.hyp).filter((n) => !SKIP.has(n));
  const calls = new Map<string, number>();
  const returns = new Map<string, Map<string, number>>();
  const branches = new Map<string, number>();
  const cls = class extends variant.hyp {};
  for (const name of names) {
    const orig = (variant.hyp.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    Object.defineProperty(cls.prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: Hyp, ...args: unknown[]) {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        const r = orig.apply(this, args);
        if (typeof r === 'number') {
          const m = returns.get(name) ?? new Map<string, number>();
          const k = retName(r);
          m.set(k, (m.get(k) ?? 0) + 1);
          returns.set(name, m);
        }
        return r;
      },
    });
  }
  const origBranch = variant.hyp.prototype.branch;
  Object.defineProperty(cls.prototype, 'branch', {
    configurable: true,
    writable: true,
    value: function (this: Hyp, name: string) {
      branches.set(name, (branches.get(name) ?? 0) + 1);
      return origBranch.call(this, name);
    },
  });
  const instrumented: Variant = { ...variant, hyp: cls };
  return {
    variant: instrumented,
    report(): CoverageReport {
      const universe = new Map<string, number>();
      const pieces: PieceCoverage[] = [];
      const neverCalled: string[] = [];
      for (const name of names) {
        const src = methodSource(variant.hyp, name);
        for (const m of src.matchAll(BRANCH)) universe.set(m[2], 0);
        const errnos = [...new Set([...src.matchAll(ERRNO)].map((m) => `-${m[0]}`))];
        const n = calls.get(name) ?? 0;
        if (n === 0) {
          if (errnos.length || BRANCH.test(src)) neverCalled.push(name);
          BRANCH.lastIndex = 0;
          continue;
        }
        const rets = Object.fromEntries(returns.get(name) ?? []);
        pieces.push({ piece: name, calls: n, returns: rets, errnosNeverReturned: errnos.filter((e) => !(e in rets)) });
      }
      for (const [b, n] of branches) universe.set(b, n);
      return {
        variant: variant.name,
        pieces: pieces.sort((a, b) => a.piece.localeCompare(b.piece)),
        neverCalled: neverCalled.sort(),
        branches: [...universe].map(([name, taken]) => ({ name, taken })).sort((a, b) => a.name.localeCompare(b.name)),
      };
    },
  };
}
