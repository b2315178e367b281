/**
 * A variant of the protocol replaces named pieces of the model, at the granularity of the
 * kernel's functions, in a subclass of the hypervisor. It may add pieces of its own, state of
 * its own (arrays of small integers, e.g. page state bits in struct hyp_page), operations of its
 * own, and tell the invariants where it keeps what they read (view hooks). Pieces that throw are
 * reported with the variant's and the piece's name: a TypeScript exception is a bug of the
 * variant, never a modelled outcome.
 */
import { Hyp, type HypClass, pieceNames } from './kernel/hyp.ts';
import type { OperationSpec } from './operations.ts';
import type { StateExtensions } from './state.ts';
import type { ViewHooks } from './views.ts';
import { CallTooLong, SUSPEND } from './concurrent/cpu-memory.ts';
import { OVER_BUDGET } from './memory.ts';

/** The replaceable pieces: every method of the hypervisor, typed with `this` bound to it. */
export type Pieces = {
  [K in keyof Hyp as Hyp[K] extends (...args: never[]) => unknown ? K : never]?: Hyp[K] extends (...args: infer P) => infer R
    ? (this: Hyp, ...args: P) => R
    : never;
};

/** New pieces a variant adds (called from its replacements and operations as `this.name(...)`). */
export type NewPieces = Record<string, (this: Hyp & Record<string, (...args: never[]) => unknown>, ...args: never[]) => unknown>;

export interface Variant {
  readonly name: string;
  /** One paragraph: where it comes from and what it changes. */
  readonly description: string;
  /** Names of the pieces it replaces (empty for the seed). */
  readonly replaces: readonly string[];
  /** Names of the pieces it adds. */
  readonly adds: readonly string[];
  /** The variant this one derives from, if any. */
  readonly base?: string;
  readonly hyp: HypClass;
  readonly state: StateExtensions;
  readonly views: ViewHooks;
  /** Operations removed from the model (the design has no such entry point). */
  readonly removeOperations: readonly string[];
  /** Operations added to the model. */
  readonly addOperations: readonly OperationSpec[];
}

export class VariantError extends Error {
  override readonly name = 'VariantError';
  constructor(
    readonly variant: string,
    readonly piece: string | null,
    message: string,
  ) {
    super(piece ? `variant '${variant}', piece '${piece}': ${message}` : `variant '${variant}': ${message}`);
  }
}

export interface VariantSpec {
  readonly name: string;
  readonly description: string;
  /** Base variant (default: the seed as posted). */
  readonly base?: Variant;
  /** Replacements of existing pieces. */
  readonly replace?: Pieces;
  /** New pieces. */
  readonly add?: NewPieces;
  /** State the variant adds (merged with its base's). */
  readonly state?: StateExtensions;
  /** View hooks (merged with its base's). */
  readonly views?: ViewHooks;
  readonly removeOperations?: readonly string[];
  readonly addOperations?: readonly OperationSpec[];
}

/** The seed as posted, on the base it was written for: the model's reference design. */
export const RFC_V1: Variant = {
  name: 'rfc-v1',
  description:
    'The seed as posted (RFC 15/45, February 2023) on the pKVM tree with guests it was written for: host pages mapped in the SMMU are marked PKVM_PAGE_SHARED_OWNED in the host stage-2 and refcounted in hyp_page.refcount; kvm_iommu_map_pages/unmap_pages of the same series call __pkvm_host_share_dma/unshare_dma around the io-pgtable operations.',
  replaces: [],
  adds: [],
  hyp: Hyp,
  state: {},
  views: {},
  removeOperations: [],
  addOperations: [],
};

function wrap(variant: string, piece: string, impl: (...args: unknown[]) => unknown) {
  const wrapped = function (this: Hyp, ...args: unknown[]) {
    try {
      return impl.apply(this, args);
    } catch (e) {
      // (a CPU's step ending at an interleaving point, and the model's own errors, pass through)
      if (e instanceof VariantError || e === SUSPEND || e === OVER_BUDGET || e instanceof CallTooLong) throw e;
      throw new VariantError(variant, piece, `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
  };
  // the replacement's own source, for coverage
  Object.defineProperty(wrapped, '__original', { value: impl });
  return wrapped;
}

export function defineVariant(spec: VariantSpec): Variant {
  const name = typeof spec?.name === 'string' ? spec.name : '(unnamed)';
  if (!spec || typeof spec !== 'object') throw new VariantError(name, null, 'a variant is an object with a name, a description and pieces');
  if (!/^[a-z0-9][a-z0-9._+-]*$/i.test(name)) throw new VariantError(name, null, 'a variant name is letters, digits, dots, dashes, pluses and underscores');
  if (typeof spec.description !== 'string' || !spec.description.trim()) throw new VariantError(name, null, 'it needs a description (one paragraph: where it comes from, what it changes)');
  const base = spec.base ?? RFC_V1;
  const known = new Set(pieceNames(base.hyp));
  const replace = (spec.replace ?? {}) as Record<string, unknown>;
  const add = (spec.add ?? {}) as Record<string, unknown>;
  for (const [piece, fn] of Object.entries(replace)) {
    if (!known.has(piece)) throw new VariantError(name, piece, `no such piece of the model (see 'pkvm-check list pieces'; new pieces go in 'add')`);
    if (typeof fn !== 'function') throw new VariantError(name, piece, 'a replacement must be a function');
  }
  for (const [piece, fn] of Object.entries(add)) {
    if (known.has(piece)) throw new VariantError(name, piece, `already a piece of the model: replace it instead of adding it`);
    if (typeof fn !== 'function') throw new VariantError(name, piece, 'a new piece must be a function');
  }
  for (const [k, e] of Object.entries(spec.state ?? {})) {
    if (!e || (e.size !== 'pages' && !(Number.isInteger(e.size) && e.size > 0)) || !(Number.isInteger(e.max) && e.max > 0 && e.max <= 0xffff))
      throw new VariantError(name, null, `state '${k}' needs size ('pages' or a positive integer) and max (1..65535)`);
    if (e.lock !== undefined && !['host_mmu.lock', 'pkvm_pgd_lock', 'iommu_lock', 'hyp_pool.lock'].includes(e.lock))
      throw new VariantError(name, null, `state '${k}': lock must be host_mmu.lock, pkvm_pgd_lock, iommu_lock or hyp_pool.lock (got ${String(e.lock)})`);
  }
  const cls = class extends base.hyp {};
  Object.defineProperty(cls, 'name', { value: `Hyp_${name.replace(/[^a-z0-9_]/gi, '_')}` });
  for (const [piece, fn] of [...Object.entries(replace), ...Object.entries(add)])
    Object.defineProperty(cls.prototype, piece, { configurable: true, writable: true, value: wrap(name, piece, fn as (...args: unknown[]) => unknown) });
  const removed = new Set([...base.removeOperations, ...(spec.removeOperations ?? [])]);
  return {
    name,
    description: spec.description,
    replaces: [...new Set([...base.replaces, ...Object.keys(replace)])],
    adds: [...new Set([...base.adds, ...Object.keys(add)])],
    base: base.name,
    hyp: cls,
    state: { ...base.state, ...(spec.state ?? {}) },
    views: { ...base.views, ...(spec.views ?? {}) },
    removeOperations: [...removed],
    addOperations: [...base.addOperations.filter((o) => !(spec.addOperations ?? []).some((n) => n.name === o.name)), ...(spec.addOperations ?? [])],
  };
}
