/**
 * rfc-v1-base-fix: the seed exactly as posted, on its base with one upstream fix backported, so
 * that a review of the seed is not drowned by a bug of the base.
 */
import { EBUSY, PAGE_SIZE, PKVM_ID_HOST, PKVM_PAGE_SHARED_BORROWED } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { PkvmMemTransition } from '../kernel/mem_protect.ts';
import { defineVariant } from '../variant.ts';

export const RFC_V1_BASE_FIX = defineVariant({
  name: 'rfc-v1-base-fix',
  description:
    "The seed as posted, on its base with upstream commit 985bb51f17ab (Dec 2024) backported: hyp_ack_unshare() checks that the hypervisor really borrows the page even in production builds. Without it, __pkvm_host_unshare_hyp() on a page the host shared with a guest makes the host owner again while the guest still maps it (found by this model from the generic invariants).",
  replace: {
    hyp_ack_unshare(this: Hyp, addr: number, tx: PkvmMemTransition): number {
      if (tx.initiator.id === PKVM_ID_HOST && this.hyp_page_count(this.hyp_phys_to_page(addr))) return -EBUSY;
      return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
    },
  },
});
