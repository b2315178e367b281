/**
 * host-recoverable: from every reachable state, every RAM page can come back to the host, plain:
 * the host holds it PKVM_PAGE_OWNED, nobody else maps or borrows it (hypervisor, guests, SMMU
 * domains), its hyp_page.refcount is 0 and its flags are clear. A page that is not so is an
 * obligation; the property holds when some sequence of legal calls (host, guests, the
 * hypervisor's own activity) discharges each obligation from every state where it is pending:
 * AG(page p not clean -> EF page p clean). A page leaked to a state nobody can undo (a reference
 * nobody can drop, a share nobody can end) breaks it. A stopped hypervisor (a panic) has no
 * obligations: no-bug and its kin report it.
 */
import type { RecoverableProperty } from '../checker/types.ts';
import { PKVM_NOPAGE, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_BORROWED, PKVM_PAGE_SHARED_OWNED } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { StateReader } from '../model/memory.ts';
import type { DmaMapping, PageView } from '../model/views.ts';

export const HOST_RECOVERABLE = 'host-recoverable';

const phys = (pfn: number) => `0x${(0x8000_0000 + pfn * 4096).toString(16)}`;

/** The key of page pfn's obligation. */
export const pageKey = (pfn: number): string => `page ${pfn} (${phys(pfn)})`;

/** The mask of the RAM pages that are clean in a state (see the module's comment); `dma` is what devices reach. */
export function cleanPages(r: StateReader, views: readonly PageView[], dma: readonly DmaMapping[]): number {
  let clean = 0;
  for (let pfn = 0; pfn < r.config.ramPages; pfn++) {
    const v = views[pfn];
    if (v.host === PKVM_PAGE_OWNED && v.hyp === PKVM_NOPAGE && v.guests.length === 0 && r.refcount(pfn) === 0 && r.pageFlags(pfn) === 0) clean |= 1 << pfn;
  }
  // a domain's mapping (or a cached translation) keeps a page lent to a device; the SMMU identity map acting for the host (domain -1) does not
  for (const m of dma) if (m.domain >= 0 && m.pfn < r.config.ramPages) clean &= ~(1 << m.pfn);
  return clean;
}

export function hostRecoverable<S>(config: PkvmConfig, read: (s: S) => StateReader, views: (r: StateReader) => PageView[], dma: (r: StateReader) => DmaMapping[]): RecoverableProperty<S> {
  if (config.ramPages > 32) throw new Error(`${HOST_RECOVERABLE} names at most 32 RAM pages (got ${config.ramPages})`);
  const all = config.ramPages === 32 ? 0xffffffff : (1 << config.ramPages) - 1;
  // pending and discharged read the same state one after the other: its clean mask is computed once
  let lastS: S | undefined;
  let lastClean = 0;
  let lastPanic = false;
  const judge = (s: S): void => {
    if (s === lastS) return;
    const r = read(s);
    lastS = s;
    lastPanic = r.panic() !== null;
    lastClean = lastPanic ? 0 : cleanPages(r, views(r), dma(r));
  };
  return {
    kind: 'recoverable',
    name: HOST_RECOVERABLE,
    description:
      'From every reachable state, each RAM page can be brought back to the host by legal calls: host PKVM_PAGE_OWNED, mapped and borrowed by nobody else (hypervisor, guests, SMMU domains), hyp_page.refcount 0, no page flags (AG EF, decided on the explored graph; off by default).',
    keys: Array.from({ length: config.ramPages }, (_, pfn) => pageKey(pfn)),
    pending(s) {
      judge(s);
      return lastPanic ? 0 : all & ~lastClean;
    },
    discharged(s) {
      judge(s);
      return lastClean;
    },
  };
}

const stateName = (st: number) => (st === PKVM_PAGE_OWNED ? 'OWNED' : st === PKVM_PAGE_SHARED_OWNED ? 'SHARED_OWNED' : st === PKVM_PAGE_SHARED_BORROWED ? 'SHARED_BORROWED' : 'NOPAGE');

/** How a page stands in a state, for the witness of a stuck one. */
export function describePage(r: StateReader, views: readonly PageView[], dma: readonly DmaMapping[], pfn: number): string {
  const v = views[pfn];
  const maps = dma.filter((m) => m.pfn === pfn && m.domain >= 0);
  const parts = [`host ${stateName(v.host)}`, `hypervisor ${stateName(v.hyp)}`];
  for (const g of v.guests) parts.push(`guest ${g.vm} ${stateName(g.state)} at IPA ${g.ipa}`);
  parts.push(`hyp_page.refcount ${r.refcount(pfn)}`);
  if (r.pageFlags(pfn)) parts.push(`flags 0x${r.pageFlags(pfn).toString(16)}`);
  parts.push(maps.length ? `reached by DMA through ${maps.map((m) => `domain ${m.domain} IOVA 0x${(m.slot * 4096).toString(16)}${m.cached ? ' (IOTLB)' : ''}`).join(', ')}` : 'no SMMU mapping');
  const pins = r.ghost('pins', pfn);
  const refs = r.ghost('dmaRefs', pfn);
  const pool = r.ghost('pool', pfn);
  if (pins || refs || pool) parts.push(`${pins} pin(s), ${refs} direct DMA share(s), ${pool} allocator reference(s)`);
  return parts.join(', ');
}
