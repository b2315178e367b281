/**
 * A reviewer's "what if": a hypercall that puts one host page in a device's passthrough window
 * (the SMMU lets the device reach that physical page untranslated), checking only that the host
 * owns the page. Written as a function of the modelling API, on top of rfc-v1-fixed.
 *
 *   node bin/pkvm-check.js check --variant docs/examples/dma-passthrough.ts --host driver
 */
import type { VariantApi } from '../../cli/variants.ts';
import type { PkvmConfig } from '../../model/config.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';
import type { StateReader } from '../../model/memory.ts';
import type { Args, OperationSpec } from '../../model/operations.ts';
import type { VariantSpec } from '../../model/variant.ts';
import type { DmaMapping } from '../../model/views.ts';

/** The hypervisor of this variant: the built-in pieces plus the two it adds. */
type PtHyp = Hyp & {
  __pkvm_host_passthrough_dma(pfn: number): number;
  __pkvm_host_unpassthrough_dma(pfn: number): number;
};

/** A host hypercall with one pfn argument (any RAM page). */
function hostCall(name: '__pkvm_host_passthrough_dma' | '__pkvm_host_unpassthrough_dma', description: string, inWindow: boolean): OperationSpec {
  return {
    name,
    actor: 'host',
    hosts: ['driver', 'iommu', 'adversarial'],
    description,
    argFormats: { pfn: 'num' },
    staticArgs: (c: PkvmConfig) => Array.from({ length: c.ramPages }, (_, pfn) => ({ pfn })),
    // offered only when it changes something: map a page not in the window, unmap one that is
    enabled: (r: StateReader, a: Args) => r.ext('dma_passthrough', a.pfn as number) === (inWindow ? 1 : 0),
    run: (hyp: Hyp, a: Args) => (hyp as PtHyp)[name](a.pfn as number),
  };
}

export default ({ constants }: VariantApi): Omit<VariantSpec, 'base'> & { base: string } => ({
  name: 'dma-passthrough',
  description:
    'rfc-v1-fixed plus a passthrough window: __pkvm_host_passthrough_dma(pfn) lets devices reach a host page untranslated once the host state of the page is PKVM_PAGE_OWNED; __pkvm_host_unpassthrough_dma(pfn) closes it again. Nothing else changes.',
  base: 'rfc-v1-fixed',

  // one bit per page of the model: is the page in the passthrough window?
  state: {
    dma_passthrough: { size: 'pages', max: 1, describe: (v: number) => (v ? 'in the passthrough window' : null) },
  },

  // new pieces: the two hypercalls, named and written as the kernel would
  add: {
    __pkvm_host_passthrough_dma(this: Hyp, pfn: number): number {
      const phys = this.hyp_pfn_to_phys(pfn);
      this.host_lock_component();
      const ret = this.__host_check_page_state_range(phys, constants.PAGE_SIZE, constants.PKVM_PAGE_OWNED);
      if (!ret) this.mem.setExt('dma_passthrough', pfn, 1);
      this.host_unlock_component();
      return ret;
    },
    __pkvm_host_unpassthrough_dma(this: Hyp, pfn: number): number {
      this.host_lock_component();
      this.mem.setExt('dma_passthrough', pfn, 0);
      this.host_unlock_component();
      return 0;
    },
  },

  // where devices reach memory besides the io-pgtables: domain -1 is an identity map acting
  // for the host, so dma-isolation flags any page in it that the host itself may not access
  views: {
    extraDeviceMappings(r: StateReader): DmaMapping[] {
      const out: DmaMapping[] = [];
      for (let pfn = 0; pfn < r.nrPages; pfn++) if (r.ext('dma_passthrough', pfn)) out.push({ domain: -1, slot: pfn, pfn });
      return out;
    },
  },

  // the entry points the host can call
  addOperations: [
    hostCall('__pkvm_host_passthrough_dma', 'Put a host page in the passthrough window of the devices.', false),
    hostCall('__pkvm_host_unpassthrough_dma', 'Take a page out of the passthrough window.', true),
  ],
});
