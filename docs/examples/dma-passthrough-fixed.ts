/**
 * The fix of dma-passthrough.ts: a page in the passthrough window cannot change hands. It derives
 * from the first example (a Variant object as `base`) and replaces one piece of the base code,
 * host_request_owned_transition(), the check every host-initiated share and donation goes
 * through.
 *
 *   node bin/pkvm-check.js check --variant docs/examples/dma-passthrough-fixed.ts --host driver
 */
import type { VariantApi } from '../../cli/variants.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import type { Out, PkvmMemTransition } from '../../model/kernel/mem_protect.ts';
import type { VariantSpec } from '../../model/variant.ts';
import passthrough from './dma-passthrough.ts';

export default (api: VariantApi): VariantSpec => {
  const { defineVariant, variants, constants } = api;
  const first = passthrough(api);
  // a spec object whose base is a name becomes a Variant with defineVariant({ ...spec, base })
  const base = defineVariant({ ...first, base: variants[first.base as keyof typeof variants] });
  return {
    name: 'dma-passthrough-fixed',
    description: 'dma-passthrough, with host_request_owned_transition() refusing (-EBUSY) any page in the passthrough window.',
    base,
    replace: {
      host_request_owned_transition(this: Hyp, completer_addr: Out<number>, tx: PkvmMemTransition): number {
        const pfn = this.hyp_phys_to_pfn(tx.initiator.addr);
        for (let i = 0; i < tx.nr_pages; i++)
          if (pfn + i < this.nrPages && this.mem.ext('dma_passthrough', pfn + i)) {
            this.branch('host_request_owned_transition: page in the passthrough window (-EBUSY)');
            return -constants.EBUSY;
          }
        // the base's own code for the rest
        return base.hyp.prototype.host_request_owned_transition.call(this, completer_addr, tx);
      },
    },
  };
};
