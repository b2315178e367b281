/**
 * A variant of the protocol replaces named pieces of the model, at the granularity of the
 * kernel's functions, in a subclass of the hypervisor. Pieces that throw are reported with the
 * variant's and the piece's name (a TypeScript exception is a bug of the variant, not an outcome).
 */
import { Hyp, type HypClass, pieceNames } from './kernel/hyp.ts';

/** The replaceable pieces: every method of the hypervisor, typed with `this` bound to it. */
export type Pieces = {
  [K in keyof Hyp as Hyp[K] extends (...args: never[]) => unknown ? K : never]?: Hyp[K] extends (...args: infer P) => infer R
    ? (this: Hyp, ...args: P) => R
    : never;
};

export interface Variant {
  readonly name: string;
  /** One paragraph: where it comes from and what it changes. */
  readonly description: string;
  /** Names of the pieces it replaces (empty for a base design). */
  readonly replaces: readonly string[];
  /** The variant this one derives from, if any. */
  readonly base?: string;
  readonly hyp: HypClass;
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
  readonly replace?: Pieces;
}

/** The seed as posted, on the base it was written for: the model's reference design. */
export const RFC_V1: Variant = {
  name: 'rfc-v1',
  description:
    'The seed as posted (RFC 15/45, February 2023) on the pKVM tree with guests it was written for: host pages mapped in the SMMU are marked PKVM_PAGE_SHARED_OWNED in the host stage-2 and refcounted in hyp_page.refcount; kvm_iommu_map_pages/unmap_pages of the same series call __pkvm_host_share_dma/unshare_dma around the io-pgtable operations.',
  replaces: [],
  hyp: Hyp,
};

export function defineVariant(spec: VariantSpec): Variant {
  const base = spec.base ?? RFC_V1;
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(spec.name)) throw new VariantError(spec.name, null, 'a variant name is letters, digits, dots, dashes and underscores');
  const known = new Set(pieceNames(base.hyp));
  const replace = (spec.replace ?? {}) as Record<string, unknown>;
  for (const [piece, fn] of Object.entries(replace)) {
    if (!known.has(piece)) throw new VariantError(spec.name, piece, `no such piece of the model (see 'pkvm-check list pieces')`);
    if (typeof fn !== 'function') throw new VariantError(spec.name, piece, 'a replacement must be a function');
  }
  const cls = class extends base.hyp {};
  Object.defineProperty(cls, 'name', { value: `Hyp_${spec.name.replace(/[^a-z0-9_]/gi, '_')}` });
  for (const [piece, fn] of Object.entries(replace)) {
    const impl = fn as (...args: unknown[]) => unknown;
    Object.defineProperty(cls.prototype, piece, {
      configurable: true,
      writable: true,
      value: function (this: Hyp, ...args: unknown[]) {
        try {
          return impl.apply(this, args);
        } catch (e) {
          if (e instanceof VariantError) throw e;
          throw new VariantError(spec.name, piece, `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      },
    });
  }
  return { name: spec.name, description: spec.description, replaces: Object.keys(replace), base: base.name, hyp: cls };
}
