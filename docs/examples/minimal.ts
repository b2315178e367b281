// What if __host_check_page_dma_shared() only looked at the host's side of the page?
import type { Hyp } from '../../model/kernel/hyp.ts';

export default {
  name: 'what-if-host-side-only',
  description: "rfc-v1-fixed whose __host_check_page_dma_shared() accepts any page the host holds PKVM_PAGE_SHARED_OWNED, without checking the hypervisor's side.",
  base: 'rfc-v1-fixed',
  replace: {
    __host_check_page_dma_shared(this: Hyp, phys_addr: number): number {
      this.hyp_assert_lock_held('host_mmu.lock', '__host_check_page_dma_shared');
      return this.__host_check_page_state_range(phys_addr, 4096, 1 /* PKVM_PAGE_SHARED_OWNED */);
    },
  },
};
