/**
 * The SMMU io-pgtable as the hypervisor's embedded copy of io-pgtable-arm drives it
 * (drivers/iommu/io-pgtable-arm-common.c): a two-level table, level 1 holding blocks of
 * IOPT_BLOCK_PAGES pages or pointers to level-2 tables of page leaves.
 *
 * Indexes wrap as the hardware's do (ARM_LPAE_LVL_IDX masks the IOVA), the input-address check
 * (`iova >> ias`) is kept, and a block entry keeps whatever address the caller wrote, so that an
 * unaligned physical address is modelled as the hardware sees it (RES0 bits set).
 */
import { IOMMU_READ, IOMMU_WRITE, IOPT_BLOCK_PAGES, IOPT_BLOCK_SIZE, PAGE_SHIFT, PAGE_SIZE, EEXIST, EINVAL, ENOMEM, ERANGE } from '../constants.ts';
import { ioBlockOf, ioTableOf } from '../memory.ts';
import type { IoPte } from '../state.ts';
import { HypBase } from './base.ts';
import { deviceTranslate } from '../views.ts';
import { IOPT_TABLE, ioptTableIndex } from '../pool.ts';

/** Levels of the model's table: 1 (blocks) and 2 (pages); ARM_LPAE_MAX_LEVELS is then 3. */
const START_LEVEL = 1;
const MAX_LEVELS = 3;
const PTES_PER_L2_TABLE = IOPT_BLOCK_PAGES;

/** __arm_lpae_alloc_pages() returned NULL. */
export const NO_TABLE_PAGE = -1;
/** A table page that the model does not track (--memcache 0: table pages are always available). */
export const UNTRACKED_TABLE_PAGE = -2;

export const PGSIZE_BITMAP = PAGE_SIZE | IOPT_BLOCK_SIZE;

function blockSize(lvl: number): number {
  return lvl === 1 ? IOPT_BLOCK_SIZE : lvl === 2 ? PAGE_SIZE : PAGE_SIZE >> 9;
}

/** A pointer to a table: the level-1 pgd of a domain, or one level-2 table below it. */
interface TableRef {
  readonly domain: number;
  readonly lvl: number;
  /** Index of the level-1 entry that points to this table (level 2 only). */
  readonly parent: number;
}

export class IoPgtableArm extends HypBase {
  /** IOVA space of a domain, in bytes (1 << ias). */
  iova_space(): number {
    return this.config.iovas * PAGE_SIZE;
  }

  private ptesPerTable(t: TableRef): number {
    return t.lvl === START_LEVEL ? this.mem.ioEntries(t.domain) : PTES_PER_L2_TABLE;
  }

  private lvlIdx(iova: number, t: TableRef): number {
    const size = t.lvl === 1 ? IOPT_BLOCK_SIZE : PAGE_SIZE;
    return Math.floor(iova / size) & (this.ptesPerTable(t) - 1);
  }

  /** Read entry `idx` of a table: level 1 entries are IoPte, level 2 entries pfns. */
  private readPte(t: TableRef, idx: number): IoPte | number | null {
    if (t.lvl === START_LEVEL) return this.mem.ioPgd(t.domain, idx);
    const parent = this.mem.ioPgd(t.domain, t.parent);
    return parent && parent.type === 'table' ? parent.ptes[idx] : null;
  }

  private writePte(t: TableRef, idx: number, v: IoPte | number | null): void {
    if (this.watchTlb()) this.noteTranslations(t, idx);
    if (t.lvl === START_LEVEL) {
      // a level-1 entry that no longer points to a table loses the table's address with it
      if (this.config.memcache && (v === null || typeof v !== 'object' || v.type !== 'table') && this.iopte_deref(t.domain, idx) !== UNTRACKED_TABLE_PAGE)
        this.mem.setExt(IOPT_TABLE, ioptTableIndex(this.config, t.domain, idx), 0);
      this.mem.setIoPgd(t.domain, idx, v as IoPte);
    } else this.mem.setIoLeaf(t.domain, t.parent, idx, v as number | null);
  }

  // ---------------------------------------------------------------- table pages

  /**
   * __arm_lpae_alloc_pages(): a page for a level-2 table, or NO_TABLE_PAGE (NULL). The hyp's
   * io-pgtable takes it from kvm_iommu_donate_page() (kernel/memcache.ts); without --memcache
   * table pages are not modelled and always available.
   */
  __arm_lpae_alloc_pages(): number {
    return UNTRACKED_TABLE_PAGE;
  }

  /** __arm_lpae_free_pages(): give a table page back (kvm_iommu_reclaim_page()). */
  __arm_lpae_free_pages(_pfn: number): void {}

  /** __arm_lpae_free_pgtable() of a level-2 table: its leaves need no freeing, its page does. */
  __arm_lpae_free_pgtable(pfn: number): void {
    if (pfn !== UNTRACKED_TABLE_PAGE) this.__arm_lpae_free_pages(pfn);
  }

  /** iopte_deref() of a level-1 table entry: the page holding the table (UNTRACKED_TABLE_PAGE without --memcache). */
  iopte_deref(domain: number, idx: number): number {
    if (!this.config.memcache) return UNTRACKED_TABLE_PAGE;
    const v = this.mem.ext(IOPT_TABLE, ioptTableIndex(this.config, domain, idx));
    return v === 0 ? UNTRACKED_TABLE_PAGE : v - 1;
  }

  /** arm_lpae_install_table(): point a level-1 entry at a table held by page `pfn`. */
  arm_lpae_install_table(domain: number, idx: number, table: IoPte, pfn: number): void {
    this.writePte({ domain, lvl: START_LEVEL, parent: -1 }, idx, table);
    if (pfn !== UNTRACKED_TABLE_PAGE) this.mem.setExt(IOPT_TABLE, ioptTableIndex(this.config, domain, idx), pfn + 1);
  }

  private isLeaf(t: TableRef, pte: IoPte | number | null): boolean {
    if (pte === null) return false;
    if (t.lvl === 2) return true;
    return typeof pte === 'object' && pte.type === 'block';
  }

  private isTable(t: TableRef, pte: IoPte | number | null): boolean {
    return t.lvl === START_LEVEL && pte !== null && typeof pte === 'object' && pte.type === 'table';
  }

  private leafPfn(pte: IoPte | number | null): number {
    if (typeof pte === 'number') return pte;
    return pte && pte.type === 'block' ? pte.pfn : -1;
  }

  /** __arm_lpae_init_pte: write `n` leaves mapping consecutive physical addresses. */
  private __arm_lpae_init_pte(t: TableRef, paddr: number, n: number, idx: number): void {
    const sz = blockSize(t.lvl);
    for (let i = 0; i < n; i++) {
      const pfn = this.hyp_phys_to_pfn(paddr + i * sz);
      this.writePte(t, idx + i, t.lvl === START_LEVEL ? ioBlockOf(pfn) : pfn);
    }
  }

  /** arm_lpae_init_pte: refuse to overwrite a leaf, free a table that a block replaces. */
  private arm_lpae_init_pte(t: TableRef, iova: number, paddr: number, n: number, idx: number): number {
    for (let i = 0; i < n; i++) {
      const pte = this.readPte(t, idx + i);
      if (this.isLeaf(t, pte)) {
        this.WARN_ON(true, 'arm_lpae_init_pte', () => `IOVA ${hexs(iova + i * blockSize(t.lvl))} is already mapped ("We require an unmap first")`);
        return -EEXIST;
      } else if (this.isTable(t, pte)) {
        this.branch('arm_lpae_init_pte: block replaces a table');
        const sz = blockSize(t.lvl);
        if (this.__arm_lpae_unmap(iova + i * sz, sz, 1, t) !== sz) {
          this.WARN_ON(true, 'arm_lpae_init_pte', 'could not free the table a block replaces');
          return -EINVAL;
        }
      }
    }
    this.__arm_lpae_init_pte(t, paddr, n, idx);
    return 0;
  }

  private __arm_lpae_map(iova: number, paddr: number, size: number, pgcount: number, t: TableRef, mapped: { v: number }): number {
    const idx = this.lvlIdx(iova, t);
    if (size === blockSize(t.lvl)) {
      const n = Math.min(pgcount, this.ptesPerTable(t) - idx);
      const ret = this.arm_lpae_init_pte(t, iova, paddr, n, idx);
      if (!ret) mapped.v += n * size;
      return ret;
    }
    if (this.WARN_ON(t.lvl >= MAX_LEVELS - 1, '__arm_lpae_map', () => `no leaf size matches pgsize ${hexs(size)}`)) return -EINVAL;
    let pte = this.readPte(t, idx);
    if (pte === null) {
      const cptep = this.__arm_lpae_alloc_pages();
      if (cptep === NO_TABLE_PAGE) return -ENOMEM;
      this.arm_lpae_install_table(t.domain, idx, ioTableOf(null, null), cptep);
      pte = this.readPte(t, idx);
    }
    if (pte !== null && !this.isLeaf(t, pte)) return this.__arm_lpae_map(iova, paddr, size, pgcount, { domain: t.domain, lvl: t.lvl + 1, parent: idx }, mapped);
    this.WARN_ON(true, '__arm_lpae_map', () => `IOVA ${hexs(iova)} is inside a block mapping ("We require an unmap first")`);
    return -EEXIST;
  }

  /** iopt_map_pages → arm_lpae_map_pages. `mapped` accumulates, as the C `*mapped +=` does. */
  iopt_map_pages(domain: number, iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: { v: number }): number {
    if (this.WARN_ON(!pgsize || (pgsize & PGSIZE_BITMAP) !== pgsize, 'arm_lpae_map_pages', () => `pgsize ${hexs(pgsize)} is not a supported page size`))
      return -EINVAL;
    if (this.WARN_ON(iova >= this.iova_space(), 'arm_lpae_map_pages', () => `IOVA ${hexs(iova)} is beyond the input address size`)) return -ERANGE;
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) {
      this.branch('arm_lpae_map_pages: no access, nothing to do');
      return 0;
    }
    return this.__arm_lpae_map(iova, paddr, pgsize, pgcount, { domain, lvl: START_LEVEL, parent: -1 }, mapped);
  }

  /** arm_lpae_split_blk_unmap: replace a block by a table of the pages it keeps. */
  private arm_lpae_split_blk_unmap(iova: number, size: number, blkPfn: number, lvl: number, parentIdx: number, domain: number, pgcount: number): number {
    if (this.WARN_ON(lvl === MAX_LEVELS, 'arm_lpae_split_blk_unmap', 'ran out of page-table levels')) return 0;
    this.branch('arm_lpae_split_blk_unmap');
    const tablep = this.__arm_lpae_alloc_pages();
    if (tablep === NO_TABLE_PAGE) {
      this.branch('arm_lpae_split_blk_unmap: no table page (-ENOMEM), nothing unmapped');
      return 0; /* Bytes unmapped */
    }
    const t: TableRef = { domain, lvl, parent: parentIdx };
    const splitSz = blockSize(lvl);
    let start = -1;
    let n = 0;
    if (size === splitSz) {
      start = this.lvlIdx(iova, t);
      n = Math.min(pgcount, PTES_PER_L2_TABLE - start);
    }
    const ptes: (number | null)[] = [];
    for (let i = 0; i < PTES_PER_L2_TABLE; i++) ptes.push(i >= start && i < start + n ? null : blkPfn + i);
    this.arm_lpae_install_table(domain, parentIdx, ioTableOf(ptes[0], ptes[1]), tablep);
    if (start >= 0) {
      for (let i = 0; i < n; i++) this.io_pgtable_tlb_add_page(domain, parentIdx * IOPT_BLOCK_SIZE + (start + i) * splitSz, splitSz);
      return n * size;
    }
    return this.__arm_lpae_unmap(iova, size, pgcount, t);
  }

  /** __arm_lpae_unmap: returns the bytes unmapped. */
  __arm_lpae_unmap(iova: number, size: number, pgcount: number, t: TableRef): number {
    if (this.WARN_ON(t.lvl === MAX_LEVELS, '__arm_lpae_unmap', 'ran out of page-table levels')) return 0;
    const idx = this.lvlIdx(iova, t);
    let pte = this.readPte(t, idx);
    if (this.WARN_ON(pte === null, '__arm_lpae_unmap', () => `IOVA ${hexs(iova)} is not mapped`)) return 0;
    if (size === blockSize(t.lvl)) {
      const n = Math.min(pgcount, this.ptesPerTable(t) - idx);
      let i = 0;
      while (i < n) {
        pte = this.readPte(t, idx + i);
        if (this.WARN_ON(pte === null, '__arm_lpae_unmap', () => `IOVA ${hexs(iova + i * size)} is not mapped`)) break;
        const table = this.isTable(t, pte);
        if (table) this.branch('__arm_lpae_unmap: frees a whole table');
        const tablePage = table ? this.iopte_deref(t.domain, idx + i) : UNTRACKED_TABLE_PAGE;
        this.writePte(t, idx + i, null);
        // a table: also flush any partial walks, then free its page; a leaf: the page's
        // invalidation (the driver does both at once, with no gather)
        if (table) {
          this.io_pgtable_tlb_flush_walk(t.domain, this.entryIova(t, idx + i), size);
          this.__arm_lpae_free_pgtable(tablePage);
        } else this.io_pgtable_tlb_add_page(t.domain, this.entryIova(t, idx + i), size);
        i++;
      }
      return i * size;
    } else if (this.isLeaf(t, pte)) {
      return this.arm_lpae_split_blk_unmap(iova, size, this.leafPfn(pte), t.lvl + 1, idx, t.domain, pgcount);
    }
    return this.__arm_lpae_unmap(iova, size, pgcount, { domain: t.domain, lvl: t.lvl + 1, parent: idx });
  }

  /** iopt_unmap_pages → arm_lpae_unmap_pages. */
  iopt_unmap_pages(domain: number, iova: number, pgsize: number, pgcount: number): number {
    if (this.WARN_ON(!pgsize || (pgsize & PGSIZE_BITMAP) !== pgsize || !pgcount, 'arm_lpae_unmap_pages', () => `pgsize ${hexs(pgsize)}, pgcount ${pgcount}`))
      return 0;
    if (this.WARN_ON(iova >= this.iova_space(), 'arm_lpae_unmap_pages', () => `IOVA ${hexs(iova)} is beyond the input address size`)) return 0;
    return this.__arm_lpae_unmap(iova, pgsize, pgcount, { domain, lvl: START_LEVEL, parent: -1 });
  }

  /** The IOVA an entry of a table translates (indexes do not alias here). */
  private entryIova(t: TableRef, idx: number): number {
    return t.lvl === START_LEVEL ? idx * IOPT_BLOCK_SIZE : t.parent * IOPT_BLOCK_SIZE + idx * PAGE_SIZE;
  }

  /** IOVA ranges whose invalidation is deferred (a driver that gathers, then syncs). */
  protected gathered: { domain: number; iova: number; size: number }[] = [];
  /** Set by code that defers TLB invalidation to an explicit iotlb_sync (the gather). */
  tlbGather = false;

  protected override resetStep(): void {
    super.resetStep();
    this.gathered = [];
    this.tlbGather = false;
    this.translationsBefore = null;
  }

  /**
   * With one CPU and no IOTLB in the state, each call runs atomically, so a device can have
   * cached any translation valid when the call began (the worst case), and nothing in between.
   * The IOTLB then changes a verdict only through a call that returns with a translation removed
   * or changed and not invalidated: the model notes, per IOVA slot the call's io-pgtable writes
   * touch, the translation before the call (first write), and the slots it invalidates.
   */
  private watchTlb(): boolean {
    return this.config.cpus === 1 && !this.config.iotlb && !this.quiet;
  }

  /** Per slot (domain * iovas + slot) the call wrote: the pfn it translated to before the call, -1 for none, -2 once invalidated. */
  private translationsBefore: Map<number, number> | null = null;

  private noteTranslations(t: TableRef, idx: number): void {
    const [first, n] = t.lvl === START_LEVEL ? [idx * IOPT_BLOCK_PAGES, IOPT_BLOCK_PAGES] : [t.parent * IOPT_BLOCK_PAGES + idx, 1];
    const m = (this.translationsBefore ??= new Map());
    for (let slot = first; slot < first + n && slot < this.config.iovas; slot++) {
      const code = t.domain * this.config.iovas + slot;
      if (!m.has(code)) m.set(code, this.slotTranslation(t.domain, slot) ?? -1);
    }
  }

  /** The page a device reaches at a slot through the io-pgtable, as dma-isolation reads it. */
  private slotTranslation(domain: number, slot: number): number | null {
    return deviceTranslate(this.mem, domain, slot);
  }

  /** At the end of a call: the translations it removed or changed and did not invalidate (recorded as staleTlb). */
  smmu_note_stale_translations(): void {
    const m = this.translationsBefore;
    if (!m) return;
    for (const [code, before] of m) {
      if (before < 0) continue;
      const domain = Math.floor(code / this.config.iovas);
      const slot = code % this.config.iovas;
      if (this.slotTranslation(domain, slot) !== before) this.recordStaleTranslation({ domain, slot, pfn: before });
    }
  }

  /**
   * The SMMU driver's TLB invalidation (TLBI by IOVA + CMD_SYNC): the IOTLB drops what it cached
   * for the range. With tlbGather, the range waits for iotlb_sync.
   */
  smmu_tlb_inv_range(domain: number, iova: number, size: number): void {
    if (this.tlbGather) {
      this.gathered.push({ domain, iova, size });
      return;
    }
    const first = Math.floor(iova / PAGE_SIZE);
    const n = Math.max(1, Math.ceil(size / PAGE_SIZE));
    if (!this.config.iotlb) {
      const m = this.translationsBefore;
      if (m) for (let slot = first; slot < first + n && slot < this.config.iovas; slot++) if (m.has(domain * this.config.iovas + slot)) m.set(domain * this.config.iovas + slot, -2);
      return;
    }
    // one command to the SMMU (with several CPUs: one interleaving point, the IOTLB being the SMMU's)
    this.mem.atomicBegin?.(`the TLBI of domain ${domain}, IOVA ${hexs(iova)} + ${hexs(size)}`);
    for (let slot = first; slot < first + n && slot < this.config.iovas; slot++) if (this.mem.iotlb(domain, slot) !== null) this.mem.setIotlb(domain, slot, null);
    this.mem.atomicEnd?.();
  }

  /** io_pgtable_tlb_add_page: the invalidation of an unmapped leaf (the SMMU driver's tlb_add_page). */
  io_pgtable_tlb_add_page(domain: number, iova: number, size: number): void {
    this.smmu_tlb_inv_range(domain, iova, size);
  }

  /** io_pgtable_tlb_flush_walk: the invalidation of a freed table's range, walk caches included. */
  io_pgtable_tlb_flush_walk(domain: number, iova: number, size: number): void {
    this.smmu_tlb_inv_range(domain, iova, size);
  }

  /** iommu_iotlb_sync: performs the gathered invalidations. */
  iotlb_sync(): void {
    const pending = this.gathered;
    this.gathered = [];
    this.tlbGather = false;
    for (const g of pending) this.smmu_tlb_inv_range(g.domain, g.iova, g.size);
  }

  /**
   * kvm_arm_io_pgtable_alloc (--domain-lifecycle): the host donates the pgd page with the call
   * (its ownership is not modelled, as table pages are not) and it starts empty.
   */
  kvm_arm_io_pgtable_alloc(_domain: number): number {
    return 0;
  }

  /**
   * kvm_arm_io_pgtable_free of RFC v1: "Free all tables but the pgd" (__arm_lpae_free_pgtable
   * frees the table pages and skips leaves), then the pgd goes back to the host. Nothing is
   * unmapped one leaf at a time: no TLB invalidation, and the pages the leaves mapped keep the
   * references their maps took.
   */
  kvm_arm_io_pgtable_free(domain: number): number {
    for (let idx = 0, n = this.mem.ioEntries(domain); idx < n; idx++) {
      const pte = this.mem.ioPgd(domain, idx);
      if (pte === null) continue;
      // a table's page goes back (kvm_iommu_reclaim_page, with --memcache), a block is skipped
      if (pte.type === 'table') {
        const pfn = this.iopte_deref(domain, idx);
        this.__arm_lpae_free_pgtable(pfn);
        if (pfn !== UNTRACKED_TABLE_PAGE) this.mem.setExt(IOPT_TABLE, ioptTableIndex(this.config, domain, idx), 0);
      }
      this.mem.setIoPgd(domain, idx, null);
    }
    return 0;
  }

  /** iopt_iova_to_phys → arm_lpae_iova_to_phys: 0 when unmapped; the offset is OR-ed in, as in C. */
  iopt_iova_to_phys(domain: number, iova: number): number {
    let t: TableRef = { domain, lvl: START_LEVEL, parent: -1 };
    for (;;) {
      const idx = this.lvlIdx(iova, t);
      const pte = this.readPte(t, idx);
      if (pte === null) return 0;
      if (this.isLeaf(t, pte)) {
        const base = this.leafPfn(pte) * PAGE_SIZE;
        return this.hyp_pfn_to_phys(0) + (base | (iova & (blockSize(t.lvl) - 1)));
      }
      t = { domain, lvl: t.lvl + 1, parent: idx };
    }
  }
}

function hexs(n: number): string {
  return `0x${n.toString(16)}`;
}
