/**
 * arch/arm64/kvm/hyp/nvhe/mem_protect.c at the seed's base (pKVM tree with guests), with the seed
 * (RFC 15/45) applied: the PKVM_ID_IOMMU completer and __pkvm_host_{share,unshare}_dma.
 * Every function keeps its kernel name and, where it matters, its order of effects.
 */
import {
  EBUSY,
  E2BIG,
  EFAULT,
  EINVAL,
  EPERM,
  HOST_PAGE_NEED_POISONING,
  HOST_PAGE_PENDING_RECLAIM,
  PAGE_SHIFT,
  PAGE_SIZE,
  PKVM_ID_GUEST,
  PKVM_ID_HOST,
  PKVM_ID_HYP,
  PKVM_ID_IOMMU,
  PKVM_NOPAGE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_PAGE_SHARED_OWNED,
  RET_HYP_PANIC,
  RET_UNINITIALISED,
  type ComponentId,
  type PageState,
} from '../constants.ts';
import type { GuestPte, HostPte } from '../state.ts';
import { IoPgtableArm } from './io_pgtable.ts';

/** enum kvm_pgtable_prot values that the transitions pass around. */
export type Prot = 'PAGE_HYP' | 'KVM_PGTABLE_PROT_RWX' | 'PKVM_HOST_MEM_PROT' | 'none';

/** struct pkvm_mem_transition */
export interface PkvmMemTransition {
  readonly nr_pages: number;
  readonly initiator: {
    readonly id: ComponentId;
    /** Address in the initiator's address space. */
    readonly addr: number;
    /** Address in the completer's address space (host and hyp initiators). */
    readonly completer_addr?: number;
    /** The initiating guest (guest initiators). */
    readonly vm?: number;
  };
  readonly completer: {
    readonly id: ComponentId;
    readonly vm?: number;
    readonly phys?: number;
  };
}

/** struct pkvm_mem_share */
export interface PkvmMemShare {
  readonly tx: PkvmMemTransition;
  readonly completer_prot: Prot;
}

/** struct pkvm_mem_donation */
export interface PkvmMemDonation {
  readonly tx: PkvmMemTransition;
}

/** An out-parameter (`u64 *completer_addr`). */
export interface Out<T> {
  v: T;
}

export class MemProtect extends IoPgtableArm {
  // ------------------------------------------------------------ reading page states

  /** host_get_page_state(pte, addr) at the seed's base. */
  host_get_page_state(pte: HostPte, addr: number): PageState {
    if (!this.addr_is_allowed_memory(addr)) return PKVM_NOPAGE;
    if (pte.kind === 'annot') return PKVM_NOPAGE;
    if (pte.kind === 'zero') return PKVM_PAGE_OWNED;
    return pte.state;
  }

  hyp_get_page_state(phys: number): PageState {
    const st = this.hyp_s1_leaf(phys);
    return st === null ? PKVM_NOPAGE : st;
  }

  guest_get_page_state(pte: GuestPte | null): PageState {
    return pte === null ? PKVM_NOPAGE : pte.state;
  }

  /** __host_check_page_state_range: every leaf in the range is in `state`, else -EPERM. */
  __host_check_page_state_range(addr: number, size: number, state: PageState): number {
    this.hyp_assert_lock_held('host_mmu.lock', '__host_check_page_state_range');
    for (let a = addr; a < addr + size; a += PAGE_SIZE)
      if (this.host_get_page_state(this.host_s2_leaf(a), a) !== state) return -EPERM;
    return 0;
  }

  /** __hyp_check_page_state_range on the hyp's linear map (the model indexes it by physical address). */
  __hyp_check_page_state_range(phys: number, size: number, state: PageState): number {
    this.hyp_assert_lock_held('pkvm_pgd_lock', '__hyp_check_page_state_range');
    for (let a = phys; a < phys + size; a += PAGE_SIZE) if (this.hyp_get_page_state(a) !== state) return -EPERM;
    return 0;
  }

  __guest_check_page_state_range(vm: number, ipa: number, size: number, state: PageState): number {
    this.hyp_assert_lock_held(`vm[${vm}].lock`, '__guest_check_page_state_range');
    for (let a = ipa; a < ipa + size; a += PAGE_SIZE)
      if (this.guest_get_page_state(this.guest_s2_leaf(vm, a)) !== state) return -EPERM;
    return 0;
  }

  __host_set_page_state_range(addr: number, size: number, state: typeof PKVM_PAGE_OWNED | typeof PKVM_PAGE_SHARED_OWNED | typeof PKVM_PAGE_SHARED_BORROWED): number {
    return this.host_stage2_idmap_locked(addr, size, state);
  }

  // ------------------------------------------------------------ host as initiator / completer

  host_request_owned_transition(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    const size = tx.nr_pages * PAGE_SIZE;
    const addr = tx.initiator.addr;
    /* We don't support donating device memory at the moment */
    if (!this.range_is_memory(addr, addr + size)) {
      this.branch('host_request_owned_transition: not memory');
      return -EINVAL;
    }
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.__host_check_page_state_range(addr, size, PKVM_PAGE_OWNED);
  }

  host_request_unshare(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.__host_check_page_state_range(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_OWNED);
  }

  host_initiate_share(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.__host_set_page_state_range(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_OWNED);
  }

  host_initiate_unshare(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.__host_set_page_state_range(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_OWNED);
  }

  host_initiate_donation(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.host_stage2_set_owner_locked(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, tx.completer.id);
  }

  /** The host's acks check the page tables only in debug builds or when the hyp initiates. */
  __host_ack_skip_pgtable_check(tx: PkvmMemTransition): boolean {
    return !(false /* CONFIG_NVHE_EL2_DEBUG */ || tx.initiator.id !== PKVM_ID_HYP);
  }

  __host_ack_transition(addr: number, tx: PkvmMemTransition, state: PageState): number {
    if (this.__host_ack_skip_pgtable_check(tx)) return 0;
    return this.__host_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, state);
  }

  host_ack_share(addr: number, tx: PkvmMemTransition, perms: Prot): number {
    if (perms !== 'PKVM_HOST_MEM_PROT') return -EPERM;
    return this.__host_ack_transition(addr, tx, PKVM_NOPAGE);
  }

  host_ack_donation(addr: number, tx: PkvmMemTransition): number {
    return this.__host_ack_transition(addr, tx, PKVM_NOPAGE);
  }

  host_ack_unshare(addr: number, tx: PkvmMemTransition): number {
    return this.__host_ack_transition(addr, tx, PKVM_PAGE_SHARED_BORROWED);
  }

  host_complete_share(addr: number, tx: PkvmMemTransition, _perms: Prot): number {
    return this.__host_set_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
  }

  host_complete_unshare(addr: number, tx: PkvmMemTransition): number {
    return this.host_stage2_set_owner_locked(addr, tx.nr_pages * PAGE_SIZE, tx.initiator.id);
  }

  host_complete_donation(addr: number, tx: PkvmMemTransition): number {
    return this.host_stage2_set_owner_locked(addr, tx.nr_pages * PAGE_SIZE, tx.completer.id);
  }

  // ------------------------------------------------------------ hyp as initiator / completer

  hyp_request_donation(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    return this.__hyp_check_page_state_range(tx.initiator.addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_OWNED);
  }

  hyp_initiate_donation(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    const size = tx.nr_pages * PAGE_SIZE;
    completer_addr.v = tx.initiator.completer_addr ?? 0;
    const ret = this.hyp_s1_unmap(tx.initiator.addr, size);
    return ret !== size ? -EFAULT : 0;
  }

  __hyp_ack_skip_pgtable_check(tx: PkvmMemTransition): boolean {
    return !(false /* CONFIG_NVHE_EL2_DEBUG */ || tx.initiator.id !== PKVM_ID_HOST);
  }

  hyp_ack_share(addr: number, tx: PkvmMemTransition, perms: Prot): number {
    if (perms !== 'PAGE_HYP') return -EPERM;
    if (this.__hyp_ack_skip_pgtable_check(tx)) return 0;
    return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_NOPAGE);
  }

  hyp_ack_unshare(addr: number, tx: PkvmMemTransition): number {
    if (tx.initiator.id === PKVM_ID_HOST && this.hyp_page_count(this.hyp_phys_to_page(addr))) {
      this.branch('hyp_ack_unshare: page is pinned (-EBUSY)');
      return -EBUSY;
    }
    if (this.__hyp_ack_skip_pgtable_check(tx)) return 0;
    return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
  }

  hyp_ack_donation(addr: number, tx: PkvmMemTransition): number {
    if (this.__hyp_ack_skip_pgtable_check(tx)) return 0;
    return this.__hyp_check_page_state_range(addr, tx.nr_pages * PAGE_SIZE, PKVM_NOPAGE);
  }

  hyp_complete_share(addr: number, tx: PkvmMemTransition, _perms: Prot): number {
    return this.hyp_s1_map(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
  }

  hyp_complete_unshare(addr: number, tx: PkvmMemTransition): number {
    const size = tx.nr_pages * PAGE_SIZE;
    return this.hyp_s1_unmap(addr, size) !== size ? -EFAULT : 0;
  }

  hyp_complete_donation(addr: number, tx: PkvmMemTransition): number {
    return this.hyp_s1_map(addr, tx.nr_pages * PAGE_SIZE, PKVM_PAGE_OWNED);
  }

  // ------------------------------------------------------------ guest as initiator / completer

  guest_ack_share(addr: number, tx: PkvmMemTransition, perms: Prot): number {
    if (perms !== 'KVM_PGTABLE_PROT_RWX') return -EPERM;
    return this.__guest_check_page_state_range(tx.completer.vm ?? 0, addr, tx.nr_pages * PAGE_SIZE, PKVM_NOPAGE);
  }

  guest_ack_donation(addr: number, tx: PkvmMemTransition): number {
    return this.__guest_check_page_state_range(tx.completer.vm ?? 0, addr, tx.nr_pages * PAGE_SIZE, PKVM_NOPAGE);
  }

  guest_complete_share(addr: number, tx: PkvmMemTransition, _perms: Prot): number {
    return this.guest_s2_map(tx.completer.vm ?? 0, addr, tx.completer.phys ?? 0, PKVM_PAGE_SHARED_BORROWED);
  }

  guest_complete_donation(addr: number, tx: PkvmMemTransition): number {
    return this.guest_s2_map(tx.completer.vm ?? 0, addr, tx.completer.phys ?? 0, PKVM_PAGE_OWNED);
  }

  __guest_get_completer_addr(completer_addr: Out<number>, phys: number, tx: PkvmMemTransition): number {
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        completer_addr.v = phys;
        return 0;
      case PKVM_ID_HYP:
        completer_addr.v = phys; // __hyp_va(phys): the model indexes the hyp linear map by phys
        return 0;
      default:
        return -EINVAL;
    }
  }

  __guest_request_page_transition(completer_addr: Out<number>, tx: PkvmMemTransition, desired: PageState): number {
    const vm = tx.initiator.vm ?? 0;
    if (tx.nr_pages !== 1) return -E2BIG;
    const pte = this.guest_s2_leaf(vm, tx.initiator.addr);
    const state = this.guest_get_page_state(pte);
    if (state === PKVM_NOPAGE) return -EFAULT;
    if (state !== desired) return -EPERM;
    const phys = this.hyp_pfn_to_phys(pte!.pfn);
    if (!this.addr_is_allowed_memory(phys)) return -EINVAL;
    return this.__guest_get_completer_addr(completer_addr, phys, tx);
  }

  guest_request_share(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    return this.__guest_request_page_transition(completer_addr, tx, PKVM_PAGE_OWNED);
  }

  guest_request_unshare(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    return this.__guest_request_page_transition(completer_addr, tx, PKVM_PAGE_SHARED_OWNED);
  }

  __guest_initiate_page_transition(completer_addr: Out<number>, tx: PkvmMemTransition, state: typeof PKVM_PAGE_OWNED | typeof PKVM_PAGE_SHARED_OWNED): number {
    const vm = tx.initiator.vm ?? 0;
    const pte = this.guest_s2_leaf(vm, tx.initiator.addr);
    if (!pte) return -EFAULT;
    const phys = this.hyp_pfn_to_phys(pte.pfn);
    const ret = this.guest_s2_map(vm, tx.initiator.addr, phys, state);
    if (ret) return ret;
    return this.__guest_get_completer_addr(completer_addr, phys, tx);
  }

  guest_initiate_share(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    return this.__guest_initiate_page_transition(completer_addr, tx, PKVM_PAGE_SHARED_OWNED);
  }

  guest_initiate_unshare(completer_addr: Out<number>, tx: PkvmMemTransition): number {
    return this.__guest_initiate_page_transition(completer_addr, tx, PKVM_PAGE_OWNED);
  }

  // ------------------------------------------------------------ the IOMMU completer (seed)

  /** check_share, case PKVM_ID_IOMMU (seed): nothing to check. */
  iommu_ack_share(_addr: number, _tx: PkvmMemTransition, _perms: Prot): number {
    return 0;
  }

  /** __do_share, case PKVM_ID_IOMMU (seed): nothing to do. */
  iommu_complete_share(_addr: number, _tx: PkvmMemTransition, _perms: Prot): number {
    return 0;
  }

  /** check_unshare, case PKVM_ID_IOMMU (seed). */
  iommu_ack_unshare(_addr: number, _tx: PkvmMemTransition): number {
    return 0;
  }

  /** __do_unshare, case PKVM_ID_IOMMU (seed). */
  iommu_complete_unshare(_addr: number, _tx: PkvmMemTransition): number {
    return 0;
  }

  // ------------------------------------------------------------ generic transitions

  check_share(share: PkvmMemShare): number {
    const tx = share.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_request_owned_transition(completer_addr, tx);
        break;
      case PKVM_ID_GUEST:
        ret = this.guest_request_share(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_ack_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_HYP:
        return this.hyp_ack_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_GUEST:
        return this.guest_ack_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_IOMMU:
        return this.iommu_ack_share(completer_addr.v, tx, share.completer_prot);
      default:
        return -EINVAL;
    }
  }

  __do_share(share: PkvmMemShare): number {
    const tx = share.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_initiate_share(completer_addr, tx);
        break;
      case PKVM_ID_GUEST:
        ret = this.guest_initiate_share(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_complete_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_HYP:
        return this.hyp_complete_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_GUEST:
        return this.guest_complete_share(completer_addr.v, tx, share.completer_prot);
      case PKVM_ID_IOMMU:
        return this.iommu_complete_share(completer_addr.v, tx, share.completer_prot);
      default:
        return -EINVAL;
    }
  }

  /** do_share(): check everything, then do it; a failed "do" is WARNed. */
  do_share(share: PkvmMemShare): number {
    const ret = this.check_share(share);
    if (ret) return ret;
    const done = this.__do_share(share);
    return this.WARN_ON(done !== 0, 'do_share', () => `__do_share failed (${done}) after check_share passed`) ? 1 : 0;
  }

  check_unshare(share: PkvmMemShare): number {
    const tx = share.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_request_unshare(completer_addr, tx);
        break;
      case PKVM_ID_GUEST:
        ret = this.guest_request_unshare(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_ack_unshare(completer_addr.v, tx);
      case PKVM_ID_HYP:
        return this.hyp_ack_unshare(completer_addr.v, tx);
      case PKVM_ID_IOMMU:
        return this.iommu_ack_unshare(completer_addr.v, tx);
      default:
        return -EINVAL;
    }
  }

  __do_unshare(share: PkvmMemShare): number {
    const tx = share.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_initiate_unshare(completer_addr, tx);
        break;
      case PKVM_ID_GUEST:
        ret = this.guest_initiate_unshare(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_complete_unshare(completer_addr.v, tx);
      case PKVM_ID_HYP:
        return this.hyp_complete_unshare(completer_addr.v, tx);
      case PKVM_ID_IOMMU:
        return this.iommu_complete_unshare(completer_addr.v, tx);
      default:
        return -EINVAL;
    }
  }

  do_unshare(share: PkvmMemShare): number {
    const ret = this.check_unshare(share);
    if (ret) return ret;
    const done = this.__do_unshare(share);
    return this.WARN_ON(done !== 0, 'do_unshare', () => `__do_unshare failed (${done}) after check_unshare passed`) ? 1 : 0;
  }

  check_donation(donation: PkvmMemDonation): number {
    const tx = donation.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_request_owned_transition(completer_addr, tx);
        break;
      case PKVM_ID_HYP:
        ret = this.hyp_request_donation(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_ack_donation(completer_addr.v, tx);
      case PKVM_ID_HYP:
        return this.hyp_ack_donation(completer_addr.v, tx);
      case PKVM_ID_GUEST:
        return this.guest_ack_donation(completer_addr.v, tx);
      default:
        return -EINVAL;
    }
  }

  __do_donate(donation: PkvmMemDonation): number {
    const tx = donation.tx;
    const completer_addr: Out<number> = { v: 0 };
    let ret: number;
    switch (tx.initiator.id) {
      case PKVM_ID_HOST:
        ret = this.host_initiate_donation(completer_addr, tx);
        break;
      case PKVM_ID_HYP:
        ret = this.hyp_initiate_donation(completer_addr, tx);
        break;
      default:
        ret = -EINVAL;
    }
    if (ret) return ret;
    switch (tx.completer.id) {
      case PKVM_ID_HOST:
        return this.host_complete_donation(completer_addr.v, tx);
      case PKVM_ID_HYP:
        return this.hyp_complete_donation(completer_addr.v, tx);
      case PKVM_ID_GUEST:
        return this.guest_complete_donation(completer_addr.v, tx);
      default:
        return -EINVAL;
    }
  }

  do_donate(donation: PkvmMemDonation): number {
    const ret = this.check_donation(donation);
    if (ret) return ret;
    const done = this.__do_donate(donation);
    return this.WARN_ON(done !== 0, 'do_donate', () => `__do_donate failed (${done}) after check_donation passed`) ? 1 : 0;
  }

  // ------------------------------------------------------------ host <-> hyp

  private hostHypTx(pfn: number, nr_pages: number, initiator: ComponentId, completer: ComponentId): PkvmMemTransition {
    const phys = this.hyp_pfn_to_phys(pfn);
    return { nr_pages, initiator: { id: initiator, addr: phys, completer_addr: phys }, completer: { id: completer } };
  }

  __pkvm_host_share_hyp(pfn: number): number {
    const share: PkvmMemShare = { tx: this.hostHypTx(pfn, 1, PKVM_ID_HOST, PKVM_ID_HYP), completer_prot: 'PAGE_HYP' };
    this.host_lock_component();
    this.hyp_lock_component();
    const ret = this.do_share(share);
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  __pkvm_host_unshare_hyp(pfn: number): number {
    const share: PkvmMemShare = { tx: this.hostHypTx(pfn, 1, PKVM_ID_HOST, PKVM_ID_HYP), completer_prot: 'PAGE_HYP' };
    this.host_lock_component();
    this.hyp_lock_component();
    const ret = this.do_unshare(share);
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  __pkvm_host_donate_hyp(pfn: number, nr_pages: number): number {
    const donation: PkvmMemDonation = { tx: this.hostHypTx(pfn, nr_pages, PKVM_ID_HOST, PKVM_ID_HYP) };
    this.host_lock_component();
    this.hyp_lock_component();
    const ret = this.do_donate(donation);
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  __pkvm_hyp_donate_host(pfn: number, nr_pages: number): number {
    const donation: PkvmMemDonation = { tx: this.hostHypTx(pfn, nr_pages, PKVM_ID_HYP, PKVM_ID_HOST) };
    this.host_lock_component();
    this.hyp_lock_component();
    const ret = this.do_donate(donation);
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  /** hyp_pin_shared_mem(from, to) for one page. */
  hyp_pin_shared_mem(pfn: number): number {
    const phys = this.hyp_pfn_to_phys(pfn);
    this.host_lock_component();
    this.hyp_lock_component();
    let ret = this.__host_check_page_state_range(phys, PAGE_SIZE, PKVM_PAGE_SHARED_OWNED);
    if (!ret) ret = this.__hyp_check_page_state_range(phys, PAGE_SIZE, PKVM_PAGE_SHARED_BORROWED);
    if (!ret) this.hyp_page_ref_inc(this.hyp_phys_to_page(phys));
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  /** hyp_unpin_shared_mem(from, to) for one page: no check at all. */
  hyp_unpin_shared_mem(pfn: number): void {
    this.host_lock_component();
    this.hyp_lock_component();
    this.hyp_page_ref_dec(this.hyp_phys_to_page(this.hyp_pfn_to_phys(pfn)));
    this.hyp_unlock_component();
    this.host_unlock_component();
  }

  // ------------------------------------------------------------ host <-> guest

  private hostGuestTx(pfn: number, gfn: number, vm: number): PkvmMemTransition {
    const host_addr = this.hyp_pfn_to_phys(pfn);
    const guest_addr = gfn << PAGE_SHIFT;
    return {
      nr_pages: 1,
      initiator: { id: PKVM_ID_HOST, addr: host_addr, completer_addr: guest_addr },
      completer: { id: PKVM_ID_GUEST, vm, phys: host_addr },
    };
  }

  __pkvm_host_share_guest(pfn: number, gfn: number, vm: number): number {
    const share: PkvmMemShare = { tx: this.hostGuestTx(pfn, gfn, vm), completer_prot: 'KVM_PGTABLE_PROT_RWX' };
    this.host_lock_component();
    this.guest_lock_component(vm);
    const ret = this.do_share(share);
    this.guest_unlock_component(vm);
    this.host_unlock_component();
    return ret;
  }

  __pkvm_host_donate_guest(pfn: number, gfn: number, vm: number): number {
    const donation: PkvmMemDonation = { tx: this.hostGuestTx(pfn, gfn, vm) };
    this.host_lock_component();
    this.guest_lock_component(vm);
    const ret = this.do_donate(donation);
    this.guest_unlock_component(vm);
    this.host_unlock_component();
    return ret;
  }

  private guestHostShare(vm: number, ipa: number): PkvmMemShare {
    return {
      tx: { nr_pages: 1, initiator: { id: PKVM_ID_GUEST, addr: ipa, vm }, completer: { id: PKVM_ID_HOST } },
      completer_prot: 'PKVM_HOST_MEM_PROT',
    };
  }

  __pkvm_guest_share_host(vm: number, ipa: number): number {
    this.host_lock_component();
    this.guest_lock_component(vm);
    const ret = this.do_share(this.guestHostShare(vm, ipa));
    this.guest_unlock_component(vm);
    this.host_unlock_component();
    return ret;
  }

  __pkvm_guest_unshare_host(vm: number, ipa: number): number {
    this.host_lock_component();
    this.guest_lock_component(vm);
    const ret = this.do_unshare(this.guestHostShare(vm, ipa));
    this.guest_unlock_component(vm);
    this.host_unlock_component();
    return ret;
  }

  /** reclaim_guest_pages(): flag every page the guest maps, then destroy its stage-2. */
  reclaim_guest_pages(vm: number): void {
    this.host_lock_component();
    this.guest_lock_component(vm);
    for (let ipa = 0; ipa < this.config.guestIpas; ipa++) {
      const pte = this.mem.guestPte(vm, ipa);
      if (!pte) continue;
      let flags = this.page_flags(pte.pfn);
      switch (pte.state) {
        case PKVM_PAGE_OWNED:
          flags |= HOST_PAGE_NEED_POISONING;
        // fallthrough
        case PKVM_PAGE_SHARED_BORROWED:
        case PKVM_PAGE_SHARED_OWNED:
          flags |= HOST_PAGE_PENDING_RECLAIM;
          break;
      }
      this.set_page_flags(pte.pfn, flags);
    }
    for (let ipa = 0; ipa < this.config.guestIpas; ipa++) if (this.mem.guestPte(vm, ipa)) this.mem.setGuestPte(vm, ipa, null); // kvm_pgtable_stage2_destroy
    this.mem.setVmDying(vm, true);
    this.guest_unlock_component(vm);
    this.host_unlock_component();
  }

  /** __pkvm_teardown_vm(handle) as far as memory ownership goes. */
  __pkvm_teardown_vm(vm: number): number {
    if (this.mem.vmDying(vm)) return -EINVAL;
    this.reclaim_guest_pages(vm);
    return 0;
  }

  /** hyp_zero_page(): the model has no page contents; poisoning is the flag it clears. */
  hyp_zero_page(_phys: number): number {
    return 0;
  }

  __pkvm_host_reclaim_page(pfn: number): number {
    const addr = this.hyp_pfn_to_phys(pfn);
    let ret = 0;
    this.host_lock_component();
    out: {
      if (this.host_get_page_state(this.host_s2_leaf(addr), addr) === PKVM_PAGE_OWNED) break out;
      const flags = this.page_flags(pfn);
      if (!(flags & HOST_PAGE_PENDING_RECLAIM)) {
        ret = -EPERM;
        break out;
      }
      if (flags & HOST_PAGE_NEED_POISONING) {
        ret = this.hyp_zero_page(addr);
        if (ret) break out;
        this.set_page_flags(pfn, this.page_flags(pfn) & ~HOST_PAGE_NEED_POISONING);
      }
      ret = this.host_stage2_set_owner_locked(addr, PAGE_SIZE, PKVM_ID_HOST);
      if (ret) break out;
      this.set_page_flags(pfn, this.page_flags(pfn) & ~HOST_PAGE_PENDING_RECLAIM);
    }
    this.host_unlock_component();
    return ret;
  }

  // ------------------------------------------------------------ host stage-2 faults

  /** host_stage2_adjust_range + host_stage2_idmap (page granular in the model). */
  host_stage2_idmap(addr: number): number {
    this.host_lock_component();
    let ret: number;
    const pte = this.host_s2_leaf(addr);
    if (pte.kind === 'valid') ret = -11; /* -EAGAIN: raced with another CPU */
    else if (pte.kind === 'annot') ret = -EPERM;
    else ret = this.host_stage2_idmap_locked(addr, PAGE_SIZE, PKVM_PAGE_OWNED);
    this.host_unlock_component();
    return ret;
  }

  /** handle_host_mem_abort(): -EPERM injects an abort into the host, anything but 0/-EAGAIN BUGs. */
  handle_host_mem_abort(addr: number): number {
    const ret = this.host_stage2_idmap(addr);
    if (ret === -EPERM) {
      this.branch('handle_host_mem_abort: abort injected into the host');
      return ret;
    }
    this.BUG_ON(ret !== 0 && ret !== -11, 'handle_host_mem_abort', `host_stage2_idmap returned ${ret}`);
    return ret;
  }

  /** host_stage2_try() falling back to host_stage2_unmap_dev_all() under memory pressure. */
  host_stage2_memory_pressure(): number {
    this.host_lock_component();
    const ret = this.host_stage2_unmap_dev_all();
    this.host_unlock_component();
    return ret;
  }

  // ------------------------------------------------------------ the seed: DMA sharing

  __host_check_page_dma_shared(phys_addr: number): number {
    /* The page is already refcounted: owned by the host, and not part of the hyp pool. */
    const ret = this.__host_check_page_state_range(phys_addr, PAGE_SIZE, PKVM_PAGE_SHARED_OWNED);
    if (ret) return ret;
    /* Refcounted and owned by host: mapped in the SMMU, or VM state shared with the hyp. */
    return this.__hyp_check_page_state_range(phys_addr, PAGE_SIZE, PKVM_NOPAGE);
  }

  dmaShare(phys_addr: number): PkvmMemShare {
    return {
      tx: { nr_pages: 1, initiator: { id: PKVM_ID_HOST, addr: phys_addr }, completer: { id: PKVM_ID_IOMMU } },
      completer_prot: 'none',
    };
  }

  __pkvm_host_share_dma_page(phys_addr: number, is_ram: boolean): number {
    const p = this.hyp_phys_to_page(phys_addr);
    const share = this.dmaShare(phys_addr);
    this.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_share_dma_page');
    this.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_share_dma_page');
    /* 'is_ram' is only a hint provided by the host: make sure of it. */
    if (!is_ram) {
      this.branch('__pkvm_host_share_dma_page: !is_ram');
      return this.addr_is_memory(phys_addr) ? -EINVAL : 0;
    }
    let ret = this.hyp_page_ref_inc_return(p);
    if (ret === RET_HYP_PANIC) return ret;
    if (this.BUG_ON(ret === 0, '__pkvm_host_share_dma_page', 'refcount is 0 after an increment')) return RET_HYP_PANIC;
    if (ret < 0) return ret;
    else if (ret === 1) {
      this.branch('__pkvm_host_share_dma_page: first reference, do_share');
      ret = this.do_share(share);
    } else {
      this.branch('__pkvm_host_share_dma_page: already refcounted, check it is DMA-shared');
      ret = this.__host_check_page_dma_shared(phys_addr);
    }
    if (ret) this.hyp_page_ref_dec(p);
    return ret;
  }

  __pkvm_host_unshare_dma_page(phys_addr: number): number {
    const p = this.hyp_phys_to_page(phys_addr);
    const share = this.dmaShare(phys_addr);
    this.hyp_assert_lock_held('host_mmu.lock', '__pkvm_host_unshare_dma_page');
    this.hyp_assert_lock_held('pkvm_pgd_lock', '__pkvm_host_unshare_dma_page');
    if (!this.addr_is_memory(phys_addr)) return 0;
    if (!this.hyp_page_ref_dec_and_test(p)) return 0;
    this.branch('__pkvm_host_unshare_dma_page: last reference, do_unshare');
    return this.do_unshare(share);
  }

  /** __pkvm_host_share_dma(): mark host memory as used for DMA (refcounted, host SHARED_OWNED). */
  __pkvm_host_share_dma(phys_addr: number, size: number, is_ram: boolean): number {
    const nr_pages = Math.floor(size / PAGE_SIZE);
    let ret = RET_UNINITIALISED;
    if (this.WARN_ON(!this.PAGE_ALIGNED(phys_addr) || !this.PAGE_ALIGNED(size), '__pkvm_host_share_dma', () => `unaligned range (phys ${phys_addr.toString(16)}, size ${size.toString(16)})`))
      return -EINVAL;
    this.host_lock_component();
    this.hyp_lock_component();
    let i: number;
    for (i = 0; i < nr_pages; i++) {
      ret = this.__pkvm_host_share_dma_page(phys_addr + i * PAGE_SIZE, is_ram);
      if (ret) break;
    }
    if (ret === RET_UNINITIALISED) this.uninitialised('__pkvm_host_share_dma', () => `ret is never assigned when size (${size}) is below one page`);
    if (ret && !this.fatal) {
      this.branch('__pkvm_host_share_dma: rollback');
      for (--i; i >= 0; --i) this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
    }
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }

  __pkvm_host_unshare_dma(phys_addr: number, size: number): number {
    const nr_pages = Math.floor(size / PAGE_SIZE);
    let ret = RET_UNINITIALISED;
    this.host_lock_component();
    this.hyp_lock_component();
    /* "We end up here after the caller successfully unmapped the page ... there can be no failure." */
    for (let i = 0; i < nr_pages; i++) {
      ret = this.__pkvm_host_unshare_dma_page(phys_addr + i * PAGE_SIZE);
      if (ret) break;
    }
    if (ret === RET_UNINITIALISED) this.uninitialised('__pkvm_host_unshare_dma', () => `ret is never assigned when size (${size}) is below one page`);
    this.hyp_unlock_component();
    this.host_unlock_component();
    return ret;
  }
}
