/**
 * rfc-v1-u62: the seed exactly as posted, on the older upstream base (torvalds/linux ~v6.2/6.3,
 * before Will Deacon's 09cce60bddd6 of May 2023). Three functions of the base differ from the pKVM
 * tree the seed was written for; everything else (the seed itself, the IOMMU hypercalls, the
 * guests the model needs) is unchanged.
 */
import { EAGAIN, EINVAL, EPERM, PAGE_SIZE, PKVM_NOPAGE, PKVM_PAGE_OWNED, type PageState } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { Out, PkvmMemTransition } from '../kernel/mem_protect.ts';
import type { HostPte } from '../state.ts';
import { defineVariant } from '../variant.ts';

export const RFC_V1_U62 = defineVariant({
  name: 'rfc-v1-u62',
  description:
    "The seed as posted (RFC 15/45, Feb 2023), applied to the upstream base of its time instead of the pKVM tree (torvalds/linux arch/arm64/kvm/hyp/nvhe/mem_protect.c ~v6.2/6.3, read before Will Deacon's 09cce60bddd6 'Prevent unconditional donation of unmapped regions from the host', May 2023, whose diff shows the old code): host_get_page_state() has no addr_is_allowed_memory() check, so a never-faulted host stage-2 entry reads as PKVM_PAGE_OWNED for any address, MMIO included (only the page-state walker rejects, with -EINVAL, a valid entry that maps non-memory); host_request_owned_transition() has no range_is_memory() check; and handle_host_mem_abort() BUGs on anything but 0/-EAGAIN (touching a donated page panics the hypervisor; abort injection came later). U62 had no guest support (host and hyp components only, no __pkvm_host_reclaim_page): the model keeps the seed base's guests so that the same operations run, and the base bug of 985bb51f17ab that needs a guest is reachable here only because of them.",
  replace: {
    /** U62: no address check; a zero entry is host-owned whatever it maps. */
    host_get_page_state(this: Hyp, pte: HostPte, _addr: number): PageState {
      if (pte.kind === 'annot') return PKVM_NOPAGE;
      if (pte.kind === 'zero') return PKVM_PAGE_OWNED;
      return pte.state;
    },
    /** U62 __check_page_state_visitor: -EINVAL for a valid leaf mapping non-memory, then the state. */
    __host_check_page_state_range(this: Hyp, addr: number, size: number, state: PageState): number {
      this.hyp_assert_lock_held('host_mmu.lock', '__host_check_page_state_range');
      for (let a = addr; a < addr + size; a += PAGE_SIZE) {
        const pte = this.host_s2_leaf(a);
        if (pte.kind === 'valid' && !this.addr_is_allowed_memory(a)) {
          this.branch('__check_page_state_visitor: valid leaf maps non-memory (-EINVAL)');
          return -EINVAL;
        }
        if (this.host_get_page_state(pte, a) !== state) return -EPERM;
      }
      return 0;
    },
    /** U62: no range_is_memory() check ("We don't support donating device memory" came later). */
    host_request_owned_transition(this: Hyp, completer_addr: Out<number>, tx: PkvmMemTransition): number {
      completer_addr.v = tx.initiator.completer_addr ?? 0;
      return this.__host_check_page_state_range(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_OWNED);
    },
    /** U62: BUG_ON(ret && ret != -EAGAIN); no host_inject_abort(). */
    handle_host_mem_abort(this: Hyp, addr: number): number {
      const ret = this.host_stage2_idmap(addr);
      this.BUG_ON(ret !== 0 && ret !== -EAGAIN, 'handle_host_mem_abort', `host_stage2_idmap returned ${ret} (U62 has no abort injection)`);
      return ret;
    },
  },
});
