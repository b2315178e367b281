/**
 * The page-table pages invariant (--memcache N): every io-pgtable table lives in a page the
 * hypervisor owns and hands out once, and every page the SMMU code took for a table is used by
 * exactly one table until it is given back. (A page on a memcache may be anything: the memcache
 * is the host's memory, and a page the host may not give is refused when it is admitted.)
 * Without --memcache it is not among the properties.
 */
import type { StateProperty } from '../checker/types.ts';
import { PKVM_ID_HYP, PKVM_PAGE_OWNED } from '../model/constants.ts';
import type { StateReader } from '../model/memory.ts';
import { IOMMU_PAGES, IOPT_TABLE, ioptTableIndex } from '../model/pool.ts';

const page = (pfn: number) => `page ${pfn} (0x${(0x8000_0000 + pfn * 4096).toString(16)})`;

/** Which table uses each page (domain * 1024 + level-1 index), -1 for none: reused by every check (no allocation per state). */
let usedByScratch = new Int32Array(16);

const tableWhere = (d: number, idx: number) => `the level-2 table of domain ${d} at IOVA 0x${(idx * 0x2000).toString(16)}`;

/** Why the state breaks the invariant, or null. */
export function checkTablePages(r: StateReader): string | null {
  const c = r.config;
  if (usedByScratch.length < r.nrPages) usedByScratch = new Int32Array(r.nrPages);
  const usedBy = usedByScratch.fill(-1, 0, r.nrPages);
  for (let d = 0; d < c.domains; d++)
    for (let idx = 0; idx < r.ioEntries(d); idx++) {
      const pte = r.ioPgd(d, idx);
      const rec = r.ext(IOPT_TABLE, ioptTableIndex(c, d, idx));
      if (pte === null || pte.type !== 'table') {
        if (rec !== 0) return `level-1 entry ${idx} of domain ${d} holds no table but still points to ${page(rec - 1)}`;
        continue;
      }
      if (rec === 0) return `${tableWhere(d, idx)} lives in no page`;
      const pfn = rec - 1;
      const other = pfn < r.nrPages ? usedBy[pfn] : -1;
      if (other >= 0) return `${page(pfn)} holds both ${tableWhere(other >> 10, other & 1023)} and ${tableWhere(d, idx)}`;
      if (pfn < r.nrPages) usedBy[pfn] = (d << 10) | idx;
      if (pfn >= c.ramPages) return `${tableWhere(d, idx)} lives in ${page(pfn)}, which is not RAM`;
      const host = r.hostPte(pfn);
      if (r.hypPte(pfn) !== PKVM_PAGE_OWNED || host.kind !== 'annot' || host.owner !== PKVM_ID_HYP)
        return `${tableWhere(d, idx)} lives in ${page(pfn)}, which the hypervisor does not own (host stage-2 ${host.kind === 'annot' ? `annotated ${host.owner}` : host.kind}, hyp ${r.hypPte(pfn) === null ? 'unmapped' : 'not OWNED'})`;
      if (r.ext(IOMMU_PAGES, pfn) !== 1) return `${tableWhere(d, idx)} lives in ${page(pfn)}, which the SMMU code never took from its memcache`;
    }
  for (let pfn = 0; pfn < r.nrPages; pfn++)
    if (r.ext(IOMMU_PAGES, pfn) === 1 && usedBy[pfn] < 0) return `${page(pfn)} was taken for an io-pgtable table that no table uses any more and was never given back (leaked)`;
  return null;
}

export function tablePages<S>(read: (s: S) => StateReader): StateProperty<S> {
  return {
    kind: 'state',
    name: 'pgtable-pages',
    description:
      'Every io-pgtable table lives in a RAM page the hypervisor owns, took from the memcache, and uses for that table only; every page taken for a table is used by one until it is given back (--memcache).',
    check(s) {
      const r = read(s);
      if (r.panic()) return null;
      const why = checkTablePages(r);
      return why ? { message: why } : null;
    },
  };
}
