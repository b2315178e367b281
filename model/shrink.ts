/**
 * The configurations one entity smaller than a given one, and how the actions of a run map onto
 * each: the actions that name the entity taken away are left out, the others renamed (the pages,
 * domains, guests, CPUs and slots after it move down by one). Which argument names what follows
 * the operations' own names (ARG_ROLES); an argument of another name (a variant's operation) is
 * kept as it is.
 */
import { PAGE_SIZE } from './constants.ts';
import { validateConfig, type PkvmConfig } from './config.ts';
import type { Args, PkvmAction } from './operations.ts';

/** What the arguments of the operations name. */
export const ARG_ROLES = {
  /** A page frame (RAM, then MMIO), first of a range of `rangeOf` pages. */
  page: ['pfn', 'paddr', 'phys'],
  /** An IOVA, in bytes, first of a range of `rangeOf` slots. */
  iova: ['iova'],
  domain: ['domain'],
  guest: ['vm'],
  /** A guest IPA page slot. */
  ipa: ['gfn', 'ipa'],
} as const;

export interface ConfigReduction {
  /** What is taken away, e.g. "page 2". */
  readonly label: string;
  readonly config: PkvmConfig;
  map(actions: readonly PkvmAction[]): readonly PkvmAction[];
}

/** How many pages (or IOVA slots) an action's range covers: its page count, or its size in bytes rounded up; at least 1. */
export function rangeOf(args: Args): number {
  const num = (k: string) => (typeof args[k] === 'number' ? (args[k] as number) : undefined);
  const pages = num('npages') ?? num('nr_pages') ?? (num('pgsize') !== undefined ? Math.ceil((num('pgsize')! * (num('pgcount') ?? 1)) / PAGE_SIZE) : undefined) ?? (num('size') !== undefined ? Math.ceil(num('size')! / PAGE_SIZE) : undefined);
  return Math.max(1, pages ?? 1);
}

/**
 * Renames one kind of entity in an action: `rename(first, count)` gives the new number of the
 * range [first, first + count), or null when the range names the entity taken away.
 */
function renameArgs(action: PkvmAction, names: readonly string[], scale: number, ranged: boolean, rename: (first: number, count: number) => number | null): PkvmAction | null {
  let args: Record<string, number | boolean> | null = null;
  for (const k of names) {
    const v = action.args[k];
    if (typeof v !== 'number') continue;
    const to = rename(v / scale, ranged ? rangeOf(action.args) : 1);
    if (to === null) return null;
    (args ??= { ...action.args })[k] = to * scale;
  }
  return args ? { ...action, args } : action;
}

/** Removes the entity `gone` of `count` (a range that covers it names it): the ones after it move down. */
const without = (gone: number) => (first: number, n: number) => (first <= gone && gone < first + n ? null : first > gone ? first - 1 : first);

/** Drops `entry` (an index among the operations of the larger model) so that the action is matched by its key. */
function plain(a: PkvmAction): PkvmAction {
  if (a.entry === undefined) return a;
  const { entry: _entry, ...rest } = a;
  return rest;
}

function mapAll(actions: readonly PkvmAction[], f: (a: PkvmAction) => PkvmAction | null): readonly PkvmAction[] {
  const out: PkvmAction[] = [];
  for (const a of actions) {
    const m = f(plain(a));
    if (m) out.push(m);
  }
  return out;
}

/** The reduction to `changes` (null when that configuration is not a valid one). */
function reduction(config: PkvmConfig, label: string, changes: Partial<PkvmConfig>, f: (a: PkvmAction) => PkvmAction | null): ConfigReduction | null {
  let smaller: PkvmConfig;
  try {
    smaller = validateConfig({ ...config, ...changes });
  } catch {
    return null;
  }
  return { label, config: smaller, map: (actions) => mapAll(actions, f) };
}

/** One CPU fewer: its steps go; with one CPU left, calls run whole (their later steps go, their starts become calls). */
function withoutCpu(config: PkvmConfig, c: number): ConfigReduction | null {
  const left = config.cpus - 1;
  const sequential = left === 1;
  return reduction(config, `CPU ${c}`, { cpus: left, ...(sequential ? { preemptions: -1 } : {}) }, (a) => {
    if (a.cpu === undefined) return a;
    if (a.cpu === c) return null;
    if (sequential) return a.op === 'step' ? null : { op: a.op, args: a.args };
    return a.cpu > c ? { ...a, cpu: a.cpu - 1 } : a;
  });
}

const down = (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i);

/**
 * Every configuration one entity smaller, in a fixed order: a CPU, a guest, a domain, a RAM page,
 * an MMIO page, a guest IPA slot (the last first in each kind, so that nothing after it is
 * renamed), half of the IOVA space (the lower half, then the upper one: it stays a power of two
 * and block-aligned), the largest range.
 */
export function configReductions(config: PkvmConfig): ConfigReduction[] {
  const out: (ConfigReduction | null)[] = [];
  const total = config.ramPages + config.mmioPages;
  for (const c of down(config.cpus)) if (config.cpus > 1) out.push(withoutCpu(config, c));
  for (const g of down(config.guests)) out.push(reduction(config, `guest ${g}`, { guests: config.guests - 1 }, (a) => renameArgs(a, ARG_ROLES.guest, 1, false, without(g))));
  for (const d of down(config.domains)) out.push(reduction(config, `domain ${d}`, { domains: config.domains - 1 }, (a) => renameArgs(a, ARG_ROLES.domain, 1, false, without(d))));
  for (const p of down(total)) {
    const ram = p < config.ramPages;
    const mmioIndex = p - config.ramPages;
    const changes = ram ? { ramPages: config.ramPages - 1 } : { mmioPages: config.mmioPages - 1, mmioBacked: config.mmioBacked - (mmioIndex < config.mmioBacked ? 1 : 0) };
    out.push(reduction(config, `${ram ? 'RAM' : 'MMIO'} page ${p}`, changes, (a) => renameArgs(a, ARG_ROLES.page, 1, true, without(p))));
  }
  for (const i of down(config.guestIpas)) out.push(reduction(config, `IPA slot ${i}`, { guestIpas: config.guestIpas - 1 }, (a) => renameArgs(a, ARG_ROLES.ipa, 1, false, without(i))));
  const half = config.iovas / 2;
  if (half >= 2)
    for (const upper of [false, true])
      out.push(
        reduction(config, `IOVA slots ${upper ? `0-${half - 1}` : `${half}-${config.iovas - 1}`}`, { iovas: half }, (a) =>
          renameArgs(a, ARG_ROLES.iova, PAGE_SIZE, true, (first, n) => {
            const last = Math.min(first + n, config.iovas) - 1;
            if (upper) return first >= half ? first - half : null;
            return last < half ? first : null;
          }),
        ),
      );
  if (config.maxRange > 1) out.push(reduction(config, `ranges of ${config.maxRange} pages`, { maxRange: config.maxRange - 1 }, (a) => a));
  return out.filter((r): r is ConfigReduction => r !== null);
}

/** The entities of a configuration, as a shrunk trace reports them. */
export interface ConfigSize {
  readonly pages: number;
  readonly domains: number;
  readonly guests: number;
  readonly cpus: number;
  readonly iovas: number;
  readonly guestIpas: number;
  readonly maxRange: number;
}

export function configSize(c: PkvmConfig): ConfigSize {
  return { pages: c.ramPages + c.mmioPages, domains: c.domains, guests: c.guests, cpus: c.cpus, iovas: c.iovas, guestIpas: c.guestIpas, maxRange: c.maxRange };
}

/** A measure every reduction makes smaller: the entities counted together. */
export function configMeasure(c: PkvmConfig): number {
  return Object.values(configSize(c)).reduce((x, y) => x + y, 0);
}
