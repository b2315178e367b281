/**
 * vmemmap-state: the host's page state kept in struct hyp_page (the hyp vmemmap) instead of the
 * host stage-2 software bits, with the seed's DMA refcounting (as fixed in rfc-v1-fixed) on top.
 */
import {
  EINVAL,
  EPERM,
  PAGE_SIZE,
  PKVM_ID_HOST,
  PKVM_NOPAGE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_PAGE_SHARED_OWNED,
  type ComponentId,
  type PageState,
} from '../constants.ts';
import type { PkvmConfig } from '../config.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { StateReader } from '../memory.ts';
import { isBacked, type HostPte } from '../state.ts';
import { defineVariant } from '../variant.ts';
import { RFC_V1_FIXED } from './fixed.ts';

/** hyp_page.host_state encoding (U614): OWNED 0, SHARED_OWNED 1, SHARED_BORROWED 2, NOPAGE 3. */
export const HOST_STATE_NOPAGE = 3;
const HOST_STATE_NAMES = ['PKVM_PAGE_OWNED', 'PKVM_PAGE_SHARED_OWNED', 'PKVM_PAGE_SHARED_BORROWED', 'PKVM_NOPAGE'];

export function decodeHostState(v: number): PageState {
  return v === HOST_STATE_NOPAGE ? PKVM_NOPAGE : (v as PageState);
}

function encodeHostState(st: PageState): number {
  return st === PKVM_NOPAGE ? HOST_STATE_NOPAGE : st;
}

/** The host state the PTE-based model derives, used for pages without a vmemmap state (MMIO). */
function pteHostState(pte: HostPte): PageState {
  return pte.kind === 'annot' ? PKVM_NOPAGE : pte.kind === 'zero' ? PKVM_PAGE_OWNED : pte.state;
}

/** The hypervisor of this variant, with the pieces it adds. */
type VHyp = Hyp & {
  get_host_state(phys: number): PageState;
  __host_update_page_state(phys: number, size: number, state: PageState): void;
};
const v = (h: Hyp) => h as VHyp;

const base = RFC_V1_FIXED.hyp.prototype;

export const VMEMMAP_STATE = defineVariant({
  name: 'vmemmap-state',
  base: RFC_V1_FIXED,
  description:
    "The design JPB proposed in the seed's review thread (answer to Mostafa Saleh, 10 Feb 2023: 'move more information into the vmemmap, because struct hyp_page still has some space for page state'), as upstream later did for the host state in v6.14 (Quentin Perret's np-guest series, commit e94a7dea2972, read in gregkh/linux mem_protect.c: get_host_state/set_host_state, check_range_allowed_memory, __host_set_page_state_range, host_stage2_set_owner_locked updating the vmemmap): the host's page state lives in hyp_page.host_state (state 'host_state': OWNED, SHARED_OWNED, SHARED_BORROWED, NOPAGE; MMIO has none). host_get_page_state and __host_check_page_state_range read it (the range must be memory, else -EINVAL), __host_set_page_state_range writes it and leaves the host stage-2 a plain default mapping, host_stage2_set_owner_locked writes annotations in the host stage-2 as upstream kept them and sets the vmemmap state to OWNED (owner host) or NOPAGE. The DMA refcounting is rfc-v1-fixed's, so share/unshare_dma mark the vmemmap state. One deviation: upstream installs the default mapping only when the page was NOPAGE (a shared page may stay lazily unmapped); the model always installs it, because host-s2-coherent reads a zero host stage-2 entry as 'the host owns it exclusively'.",
  state: {
    host_state: {
      size: 'pages',
      max: 3,
      initial: (i: number, c: PkvmConfig) => (i < c.ramPages ? PKVM_PAGE_OWNED : HOST_STATE_NOPAGE),
      describe: (value: number) => `host_state ${HOST_STATE_NAMES[value] ?? value}`,
      // written and read under the host lock, as the host stage-2 was
      lock: 'host_mmu.lock',
    },
  },
  add: {
    /** get_host_state(hyp_phys_to_page(phys)): the vmemmap entry must be backed. */
    get_host_state(this: Hyp, phys: number): PageState {
      const pfn = this.hyp_phys_to_pfn(phys);
      if (!isBacked(this.config, pfn)) {
        this.page_flags(pfn); // the same hyp_page access: an EL2 translation fault
        return PKVM_NOPAGE;
      }
      return decodeHostState(this.mem.ext('host_state', pfn));
    },
    /** __host_update_page_state(): for_each_hyp_page set_host_state(). */
    __host_update_page_state(this: Hyp, phys: number, size: number, state: PageState): void {
      for (let a = phys; a < phys + size; a += PAGE_SIZE) {
        const pfn = this.hyp_phys_to_pfn(a);
        if (!isBacked(this.config, pfn)) {
          this.page_flags(pfn);
          return;
        }
        this.mem.setExt('host_state', pfn, encodeHostState(state));
      }
    },
  },
  replace: {
    host_get_page_state(this: Hyp, _pte: HostPte, addr: number): PageState {
      if (!this.addr_is_allowed_memory(addr)) return PKVM_NOPAGE;
      return v(this).get_host_state(addr);
    },
    __host_check_page_state_range(this: Hyp, addr: number, size: number, state: PageState): number {
      /* check_range_allowed_memory(): one memblock region, not NOMAP */
      if (!this.range_is_memory(addr, addr + size)) return -EINVAL;
      this.hyp_assert_lock_held('host_mmu.lock', '__host_check_page_state_range');
      for (let a = addr; a < addr + size; a += PAGE_SIZE) if (v(this).get_host_state(a) !== state) return -EPERM;
      return 0;
    },
    __host_set_page_state_range(this: Hyp, addr: number, size: number, state: typeof PKVM_PAGE_OWNED | typeof PKVM_PAGE_SHARED_OWNED | typeof PKVM_PAGE_SHARED_BORROWED): number {
      /* upstream: only if get_host_state(addr) == PKVM_NOPAGE (see the description) */
      const ret = this.host_stage2_idmap_locked(addr, size, PKVM_PAGE_OWNED);
      if (ret) return ret;
      v(this).__host_update_page_state(addr, size, state);
      return 0;
    },
    host_stage2_set_owner_locked(this: Hyp, addr: number, size: number, owner: ComponentId): number {
      if (!this.range_is_memory(addr, addr + size)) return -EPERM;
      const ret = base.host_stage2_set_owner_locked.call(this, addr, size, owner);
      if (ret) return ret;
      /* Don't forget to update the vmemmap tracking for the host */
      v(this).__host_update_page_state(addr, size, owner === PKVM_ID_HOST ? PKVM_PAGE_OWNED : PKVM_NOPAGE);
      return 0;
    },
  },
  views: {
    hostState(r: StateReader, pfn: number): PageState {
      if (pfn < r.config.ramPages) return decodeHostState(r.ext('host_state', pfn));
      return pteHostState(r.hostPte(pfn));
    },
  },
});
