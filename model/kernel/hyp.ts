/**
 * The whole hypervisor of the model: mem_protect.c (with the seed), the io-pgtable and the IOMMU
 * hypercalls, and where the SMMU code gets its table pages (memcache.ts). A variant of the protocol is a subclass that replaces some of these methods.
 */
import { HypMemcache } from './memcache.ts';

export class Hyp extends HypMemcache {}

/** The constructor type variants extend. */
export type HypClass = new (...args: ConstructorParameters<typeof Hyp>) => Hyp;

/** Names of the pieces (kernel functions) a variant may replace. */
export function pieceNames(cls: HypClass = Hyp): string[] {
  const names = new Set<string>();
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (desc && typeof desc.value === 'function') names.add(name);
    }
  }
  return [...names].sort();
}
