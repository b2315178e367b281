/**
 * Mutants of rfc-v1-fixed in the SMMU domain lifecycle: each puts back one thing RFC v1 does.
 * They differ from rfc-v1-fixed only with --domain-lifecycle (docs/fidelity-iommu.md).
 */
import { ENODEV } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import { STE } from '../lifecycle.ts';
import { defineVariant, type Variant } from '../variant.ts';
import { RFC_V1_FIXED } from './fixed.ts';

export const LIFECYCLE_MUTANTS: readonly Variant[] = [
  defineVariant({
    name: 'free-domain-keeps-pages',
    base: RFC_V1_FIXED,
    description:
      "kvm_iommu_free_domain frees the domain's io-pgtable as RFC v1's kvm_arm_io_pgtable_free does ('Free all tables but the pgd'): what the domain still maps is neither unmapped nor unshared, so those pages stay PKVM_PAGE_SHARED_OWNED with the references their maps took, for a domain that no longer exists. Only with --domain-lifecycle.",
    replace: {
      kvm_iommu_free_iopt(this: Hyp, domain: number): number {
        return this.kvm_arm_io_pgtable_free(domain);
      },
    },
  }),
  defineVariant({
    name: 'detach-dev-any-ste',
    base: RFC_V1_FIXED,
    description:
      "smmu_detach_dev clears the stream's STE whichever domain it points to, as RFC v1's SMMUv3 driver does, while kvm_iommu_detach_dev drops a reference of the domain named: a host that names the wrong domain leaves one domain with a reference nobody holds and another with an endpoint it does not count, which can then be freed under the endpoint. Only with --domain-lifecycle.",
    replace: {
      smmu_detach_dev(this: Hyp, _domain: number, sid: number): number {
        if (!this.smmu_ste_valid(sid)) return -ENODEV;
        this.mem.setExt(STE, sid, 0);
        return 0;
      },
    },
  }),
];
