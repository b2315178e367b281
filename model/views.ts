/**
 * Read-only views of a state, shared by the operations (what a well-behaved driver may do) and
 * the invariants: what each IOVA translates to, and who holds which page. They read through a
 * StateReader, so they work on both the readable and the packed representation.
 */
import {
  HOST_PAGE_PENDING_RECLAIM,
  IOPT_BLOCK_PAGES,
  PKVM_ID_GUEST,
  PKVM_ID_HYP,
  PKVM_NOPAGE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_PAGE_SHARED_OWNED,
  type PageState,
} from './constants.ts';
import type { PkvmConfig } from './config.ts';
import type { StateReader } from './memory.ts';

/** The page an IOVA slot maps to as software sees it (arm_lpae_iova_to_phys, offset OR-ed in), or null. */
export function softwareTranslate(r: StateReader, domain: number, slot: number): number | null {
  const n = r.ioEntries(domain);
  const pte = r.ioPgd(domain, Math.floor(slot / IOPT_BLOCK_PAGES) % n);
  if (pte === null) return null;
  const k = slot % IOPT_BLOCK_PAGES;
  if (pte.type === 'block') return pte.pfn | k;
  return pte.ptes[k];
}

/**
 * The page a device reaches at an IOVA slot. A block descriptor's output-address bits below the
 * block size are RES0: the model's SMMU ignores them, so an unaligned block reaches the aligned
 * block that contains the address written.
 */
export function deviceTranslate(r: StateReader, domain: number, slot: number): number | null {
  const n = r.ioEntries(domain);
  if (slot >= n * IOPT_BLOCK_PAGES) return null;
  const pte = r.ioPgd(domain, Math.floor(slot / IOPT_BLOCK_PAGES));
  if (pte === null) return null;
  const k = slot % IOPT_BLOCK_PAGES;
  if (pte.type === 'block') return pte.pfn - (pte.pfn % IOPT_BLOCK_PAGES) + k;
  return pte.ptes[k];
}

export interface DmaMapping {
  readonly domain: number;
  readonly slot: number;
  readonly pfn: number;
  /** The translation is cached in the domain's IOTLB (it may be stale). */
  readonly cached?: boolean;
}

/** Where a variant keeps what the invariants read, when it is not where the seed keeps it. */
export interface ViewHooks {
  /** Pages devices reach besides the domains' io-pgtables (e.g. an SMMU stage-2 identity map); domain -1 if none. */
  extraDeviceMappings?(r: StateReader): DmaMapping[];
  /** The host's page state, when it is not kept in the host stage-2 (e.g. in the vmemmap). */
  hostState?(r: StateReader, pfn: number): PageState;
}

/** Every (domain, IOVA slot) a device can use through the domains' io-pgtables, with the page it reaches. */
export function iommuMappings(r: StateReader): DmaMapping[] {
  const out: DmaMapping[] = [];
  for (let domain = 0; domain < r.config.domains; domain++) {
    const slots = r.ioEntries(domain) * IOPT_BLOCK_PAGES;
    for (let slot = 0; slot < slots; slot++) {
      const pfn = deviceTranslate(r, domain, slot);
      if (pfn !== null) out.push({ domain, slot, pfn });
    }
  }
  return out;
}

/** Translations the IOTLBs cache (they outlive the io-pgtable entry until an invalidation). */
export function iotlbMappings(r: StateReader): DmaMapping[] {
  const out: DmaMapping[] = [];
  if (!r.config.iotlb) return out;
  for (let domain = 0; domain < r.config.domains; domain++)
    for (let slot = 0; slot < r.config.iovas; slot++) {
      const pfn = r.iotlb(domain, slot);
      if (pfn !== null) out.push({ domain, slot, pfn, cached: true });
    }
  return out;
}

/** Everything a device can reach: the io-pgtables (`own`, when already known), the IOTLBs, and what the variant adds. */
export function dmaMappings(r: StateReader, hooks?: ViewHooks, own: DmaMapping[] = iommuMappings(r)): DmaMapping[] {
  const cached = iotlbMappings(r);
  const all = cached.length ? [...own, ...cached] : own;
  return hooks?.extraDeviceMappings ? [...hooks.extraDeviceMappings(r), ...all] : all;
}

/** Number of IOVA slots, over all domains' io-pgtables, through which a device reaches each page. */
export function iommuMappingCounts(r: StateReader, maps: readonly DmaMapping[] = iommuMappings(r)): number[] {
  const counts = new Array<number>(r.nrPages).fill(0);
  for (const m of maps) if (m.pfn >= 0 && m.pfn < counts.length) counts[m.pfn] += 1;
  return counts;
}

/** One component's view of a page, from its own page table. */
export interface PageView {
  readonly pfn: number;
  readonly ram: boolean;
  /** The host's state as host_get_page_state would read it, without the memory check. */
  readonly host: PageState;
  /** Annotation owner when the host PTE is invalid and annotated. */
  readonly hostAnnotation: number | null;
  readonly hyp: PageState;
  /** Guests mapping the page, with the state of each mapping. */
  readonly guests: readonly { vm: number; ipa: number; state: PageState }[];
  /** A dead guest's page awaiting __pkvm_host_reclaim_page. */
  readonly pendingReclaim: boolean;
}

const NO_GUESTS: readonly { vm: number; ipa: number; state: PageState }[] = Object.freeze([]);

export function pageViews(r: StateReader, hooks?: ViewHooks): PageView[] {
  const config: PkvmConfig = r.config;
  const n = r.nrPages;
  // guests mapping each page (most pages: none, so no array for them)
  let guests: { vm: number; ipa: number; state: PageState }[][] | null = null;
  for (let vm = 0; vm < config.guests; vm++)
    for (let ipa = 0; ipa < config.guestIpas; ipa++) {
      const pte = r.guestPte(vm, ipa);
      if (pte && pte.pfn >= 0 && pte.pfn < n) {
        guests ??= new Array(n);
        (guests[pte.pfn] ??= []).push({ vm, ipa, state: pte.state });
      }
    }
  const out: PageView[] = new Array(n);
  for (let pfn = 0; pfn < n; pfn++) {
    const pte = r.hostPte(pfn);
    out[pfn] = {
      pfn,
      ram: pfn < config.ramPages,
      host: hooks?.hostState ? hooks.hostState(r, pfn) : pte.kind === 'annot' ? PKVM_NOPAGE : pte.kind === 'zero' ? PKVM_PAGE_OWNED : pte.state,
      hostAnnotation: pte.kind === 'annot' ? pte.owner : null,
      hyp: r.hypPte(pfn) ?? PKVM_NOPAGE,
      guests: guests?.[pfn] ?? NO_GUESTS,
      pendingReclaim: (r.pageFlags(pfn) & HOST_PAGE_PENDING_RECLAIM) !== 0,
    };
  }
  return out;
}

export type Owner = 'host' | 'hyp' | `guest ${number}` | 'dead guest';

/** A component holding the page in this state owns it (OWNED or SHARED_OWNED). */
const owns = (s: PageState): boolean => s === PKVM_PAGE_OWNED || s === PKVM_PAGE_SHARED_OWNED;

/** Components that hold the page OWNED or SHARED_OWNED. */
export function owners(v: PageView): Owner[] {
  const out: Owner[] = [];
  if (owns(v.host)) out.push('host');
  if (owns(v.hyp)) out.push('hyp');
  for (const g of v.guests) if (owns(g.state)) out.push(`guest ${g.vm}`);
  if (out.length === 0 && v.pendingReclaim) out.push('dead guest');
  return out;
}

/** Components that hold the page SHARED_BORROWED. */
export function borrowers(v: PageView): Owner[] {
  const out: Owner[] = [];
  if (v.host === PKVM_PAGE_SHARED_BORROWED) out.push('host');
  if (v.hyp === PKVM_PAGE_SHARED_BORROWED) out.push('hyp');
  for (const g of v.guests) if (g.state === PKVM_PAGE_SHARED_BORROWED) out.push(`guest ${g.vm}`);
  return out;
}

/*
 * The same, counted without building the lists (the invariants read every page of every state;
 * the lists are built for their messages).
 */
/** owners(v).length. */
export function ownerCount(v: PageView): number {
  let n = (owns(v.host) ? 1 : 0) + (owns(v.hyp) ? 1 : 0);
  for (let k = 0; k < v.guests.length; k++) if (owns(v.guests[k].state)) n++;
  return n === 0 && v.pendingReclaim ? 1 : n;
}

/** borrowers(v).length. */
export function borrowerCount(v: PageView): number {
  let n = (v.host === PKVM_PAGE_SHARED_BORROWED ? 1 : 0) + (v.hyp === PKVM_PAGE_SHARED_BORROWED ? 1 : 0);
  for (let k = 0; k < v.guests.length; k++) if (v.guests[k].state === PKVM_PAGE_SHARED_BORROWED) n++;
  return n;
}

/** The state in which the first of owners(v) holds the page: PKVM_NOPAGE for a dead guest, or nobody. */
export function ownerState(v: PageView): PageState {
  if (owns(v.host)) return v.host;
  if (owns(v.hyp)) return v.hyp;
  for (let k = 0; k < v.guests.length; k++) if (owns(v.guests[k].state)) return v.guests[k].state;
  return PKVM_NOPAGE;
}

/** Is the page owned by, or lent to, the hypervisor or a guest? */
export function heldByHypOrGuest(v: PageView): string | null {
  if (v.hostAnnotation === PKVM_ID_HYP) return 'owned by the hypervisor (host stage-2 annotated PKVM_ID_HYP)';
  if (v.hostAnnotation === PKVM_ID_GUEST) return 'owned by a guest (host stage-2 annotated PKVM_ID_GUEST)';
  if (v.hyp !== PKVM_NOPAGE) return `mapped by the hypervisor (${v.hyp === PKVM_PAGE_OWNED ? 'OWNED' : v.hyp === PKVM_PAGE_SHARED_BORROWED ? 'SHARED_BORROWED' : 'SHARED_OWNED'})`;
  if (v.guests.length) return `mapped by guest ${v.guests[0].vm} at IPA page ${v.guests[0].ipa}`;
  return null;
}

/** Is the page one the host cannot access (owned exclusively by the hypervisor or a guest)? */
export function inaccessibleToHost(v: PageView): string | null {
  if (v.hostAnnotation === PKVM_ID_HYP) return 'owned by the hypervisor (host stage-2 annotated PKVM_ID_HYP)';
  if (v.hostAnnotation === PKVM_ID_GUEST) return 'owned by a guest (host stage-2 annotated PKVM_ID_GUEST)';
  if (v.host === PKVM_NOPAGE) return 'not accessible to the host';
  if (v.hyp === PKVM_PAGE_OWNED) return 'owned by the hypervisor';
  const g = v.guests.find((x) => x.state === PKVM_PAGE_OWNED);
  return g ? `owned by guest ${g.vm}` : null;
}
