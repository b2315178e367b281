/**
 * Page-table pages as physical pages (--memcache N): the memcache the host tops up, io-pgtable
 * tables allocated from it and freed back, -ENOMEM and its unwinds, the pgtable-pages invariant
 * and the mutants it (and the older invariants) kill, on every engine and with two CPUs.
 * Without --memcache the model is what it was: no pool state, no pool operation.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/index.ts';
import { searchFor, ENGINES } from '../../cli/engine.ts';
import { pkvmProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, type PkvmConfig } from '../../model/config.ts';
import { ENOMEM, EINVAL, IOMMU_READ, IOMMU_WRITE, PAGE_SIZE, PKVM_ID_HYP, PKVM_PAGE_OWNED } from '../../model/constants.ts';
import { IOMMU_PAGES, IOPT_TABLE, NEEDS_PAGE, memcachePages } from '../../model/pool.ts';
import { PkvmModel } from '../../model/system.ts';
import { POOL_MUTANTS, RFC_V1, RFC_V1_BASE_FIX, RFC_V1_FIXED, builtinVariant } from '../../model/variants/index.ts';
import { makeModel, reader, run, shortest, step, verdict, messageOf } from './../variants/util.ts';

const RW = IOMMU_READ | IOMMU_WRITE;
const mutant = (name: string) => POOL_MUTANTS.find((v) => v.name === name)!;

describe('without --memcache nothing changes', () => {
  it('no pool state, no pool operation, no pgtable-pages invariant', () => {
    const plain = makeModel(RFC_V1);
    expect(Object.keys(plain.initialStates()[0].ext)).toEqual([]);
    expect(plain.actions(plain.initialStates()[0]).some((a) => a.op.startsWith('kvm_arm_smmu_'))).toBe(false);
    expect(pkvmProperties(DEFAULT_CONFIG).map((p) => p.name)).not.toContain('pgtable-pages');
    const pooled = makeModel(RFC_V1, { memcache: 1 });
    expect(Object.keys(pooled.initialStates()[0].ext).sort()).toEqual(['iommu_memcache', 'iommu_memcache.needs_page', 'iommu_pages', 'iopt_table']);
    expect(pkvmProperties({ ...DEFAULT_CONFIG, memcache: 1 }).map((p) => p.name)).toContain('pgtable-pages');
  });
});

describe('the driver: -ENOMEM, top-up, retry', () => {
  const model = makeModel(RFC_V1, { memcache: 1 });
  it('a 1-page map needs a table page: -ENOMEM with needs_page, then the host tops up and maps again', () => {
    const rs = run(model, [
      ['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 1 }],
      ['kvm_arm_smmu_topup_memcache', { pfn: 1 }],
      ['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 1 }],
    ]);
    expect(rs[0].ret).toBe(-ENOMEM);
    const r0 = reader(model, rs[0].state);
    expect(r0.ext(NEEDS_PAGE, 0)).toBe(1);
    // nothing else changed: the unwind unshared the page (mapped OWNED again, as the host sees a zero entry)
    expect(r0.hostPte(0)).toEqual({ kind: 'valid', state: PKVM_PAGE_OWNED });
    expect(r0.refcount(0)).toBe(0);
    expect(memcachePages(reader(model, rs[1].state), 0)).toEqual([1]);
    expect(rs[2].ret).toBe(0);
    const r = reader(model, rs[2].state);
    // page 1 now holds domain 0's level-2 table: donated to the hypervisor, off the memcache
    expect(r.ext(IOPT_TABLE, 0)).toBe(2);
    expect(r.ext(IOMMU_PAGES, 1)).toBe(1);
    expect(r.hostPte(1)).toEqual({ kind: 'annot', owner: PKVM_ID_HYP });
    expect(r.hypPte(1)).toBe(PKVM_PAGE_OWNED);
    expect(r.refcount(1)).toBe(0); // io-pgtable-arm counts nothing in its table pages
    expect(memcachePages(r, 0)).toEqual([]);
    // the honest driver tops up only when asked, with a page it does not use
    expect(model.actions(rs[2].state).some((a) => a.op === 'kvm_arm_smmu_topup_memcache')).toBe(false);
  });

  it('a block needs no table page', () => {
    const [r] = run(model, [['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 2 }]]);
    expect(r.ret).toBe(0);
    expect(reader(model, r.state).ext(NEEDS_PAGE, 0)).toBe(0);
  });
});

describe('the untrusted host: frees, admission, split', () => {
  const model = makeModel(RFC_V1_BASE_FIX, { memcache: 1, host: 'iommu' });
  it('a block unmap over a table frees its page back to the host through the memcache, which the host then reclaims', () => {
    const rs = run(model, [
      ['kvm_arm_smmu_topup_memcache', { pfn: 0 }],
      ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 1, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
      ['kvm_iommu_unmap_pages', { domain: 0, iova: 0, pgsize: 2 * PAGE_SIZE, pgcount: 1 }],
    ]);
    expect(rs.map((x) => x.ret)).toEqual([0, 0, 0]);
    expect(reader(model, rs[1].state).ext(IOMMU_PAGES, 0)).toBe(1);
    const r = reader(model, rs[2].state);
    expect(r.ioPgd(0, 0)).toBeNull();
    expect(r.ext(IOPT_TABLE, 0)).toBe(0);
    expect(r.ext(IOMMU_PAGES, 0)).toBe(0);
    expect(r.hostPte(0).kind).toBe('zero'); // __pkvm_hyp_donate_host: the host's again
    expect(r.hypPte(0)).toBeNull();
    expect(memcachePages(r, 0)).toEqual([0]);
    const back = step(model, rs[2].state, 'kvm_arm_smmu_reclaim_memcache');
    expect(memcachePages(reader(model, back.state), 0)).toEqual([]);
  });

  it('a page the host may not donate is not admitted: -ENOMEM, needs_page clear, the page stays on the memcache', () => {
    const rs = run(model, [
      ['__pkvm_host_share_hyp', { pfn: 1 }],
      ['kvm_arm_smmu_topup_memcache', { pfn: 1 }],
      ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 0, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
    ]);
    expect(rs[2].ret).toBe(-ENOMEM);
    const r = reader(model, rs[2].state);
    expect(r.ext(NEEDS_PAGE, 0)).toBe(0);
    expect(memcachePages(r, 0)).toEqual([1]);
    expect(rs[2].outcome.branches).toContain('pkvm_admit_host_page: the host may not donate the head page');
  });

  it('splitting a block on a partial unmap needs a page: with none, nothing is unmapped and nothing unshared', () => {
    const rs = run(model, [
      ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 0, pgsize: 2 * PAGE_SIZE, pgcount: 1, prot: RW }],
      ['kvm_iommu_unmap_pages', { domain: 0, iova: 0, pgsize: PAGE_SIZE, pgcount: 1 }],
    ]);
    expect(rs[1].ret).toBe(-EINVAL);
    expect(rs[1].outcome.branches).toContain('arm_lpae_split_blk_unmap: no table page (-ENOMEM), nothing unmapped');
    const r = reader(model, rs[1].state);
    expect(r.ioPgd(0, 0)).toEqual({ type: 'block', pfn: 0 });
    expect([r.refcount(0), r.refcount(1)]).toEqual([1, 1]);
    expect(r.ext(NEEDS_PAGE, 0)).toBe(1);
  });
});

describe('the invariants kill the pool mutants; their bases keep pgtable-pages', () => {
  const cases: { variant: string; host: PkvmConfig['host']; kills: Record<string, number>; message: RegExp }[] = [
    { variant: 'iopt-unmap-leaks-table', host: 'iommu', kills: { 'pgtable-pages': 3 }, message: /taken for an io-pgtable table that no table uses any more and was never given back \(leaked\)/ },
    { variant: 'donate-page-skips-host-donation', host: 'iommu', kills: { 'pgtable-pages': 2 }, message: /which the hypervisor does not own/ },
    { variant: 'donate-page-skips-host-donation', host: 'driver', kills: { 'pgtable-pages': 3 }, message: /which the hypervisor does not own/ },
    { variant: 'map-enomem-no-unshare', host: 'driver', kills: { 'refcount-accounting': 1, 'failure-atomicity': 1 }, message: /hyp_page.refcount 1, expected 0/ },
  ];
  for (const c of cases)
    it(`${c.variant} (${c.host} host)`, () => {
      const r = verdict(mutant(c.variant), { memcache: 1, host: c.host }, 4);
      const found = shortest(r);
      for (const [inv, n] of Object.entries(c.kills)) expect(found[inv]).toBe(n);
      expect(messageOf(r, Object.keys(c.kills)[0])).toMatch(c.message);
      // the mutant's own base does not break the invariant that kills it
      const base = builtinVariant(mutant(c.variant).base!)!;
      expect(shortest(verdict(base, { memcache: 1, host: c.host }, 4))[Object.keys(c.kills)[0]]).toBeUndefined();
    });

  it('without --memcache the mutants are invisible', () => {
    expect(shortest(verdict(mutant('donate-page-skips-host-donation'), { host: 'iommu' }, 3))).toEqual({});
    expect(shortest(verdict(mutant('map-enomem-no-unshare'), {}, 3))).toEqual({});
  });

  it('rfc-v1-fixed keeps every invariant with the memcache (driver and iommu hosts, depth 6)', () => {
    for (const host of ['driver', 'iommu'] as const) expect(shortest(verdict(RFC_V1_FIXED, { memcache: 1, host }, 6))).toEqual({});
  });
});

describe('every engine, and two CPUs', () => {
  const search = (config: PkvmConfig, engine: (typeof ENGINES)[number], maxDepth: number, variant = mutant('donate-page-skips-host-donation')) => {
    const s = searchFor(config, variant, engine);
    return check(s.model, s.properties, { stopAtFirstViolation: false, maxDepth });
  };
  it('readable, packed and compiled engines visit the same states and find the same violations', () => {
    const config = { ...DEFAULT_CONFIG, memcache: 2, host: 'iommu' as const, domains: 1 };
    const results = ENGINES.map((e) => search(config, e, 5));
    for (const r of results.slice(1)) {
      expect(r.stats.distinctStates).toBe(results[0].stats.distinctStates);
      expect(shortest(r)).toEqual(shortest(results[0]));
    }
    expect(shortest(results[0])['pgtable-pages']).toBe(2);
  });

  it('two CPUs with per-CPU memcaches: the engines agree, and the mutant is killed', () => {
    const config = { ...DEFAULT_CONFIG, memcache: 1, cpus: 2, iotlb: true, domains: 1, guests: 0, ramPages: 1, mmioPages: 0, maxRange: 1, maxPins: 0, host: 'iommu' as const };
    const [readable, compiled] = (['readable', 'compiled'] as const).map((e) => search(config, e, 9));
    expect(compiled.stats.distinctStates).toBe(readable.stats.distinctStates);
    expect(shortest(compiled)).toEqual(shortest(readable));
    // top-up (4 steps) and the map (5 steps: the locks, then the rest under them)
    expect(shortest(readable)['pgtable-pages']).toBe(9);
    expect(shortest(search(config, 'compiled', 9, RFC_V1_FIXED))).toEqual({});
    const model = new PkvmModel(config, RFC_V1);
    expect(reader(model, model.initialStates()[0]).config.cpus).toBe(2);
    expect(model.initialStates()[0].ext.iommu_memcache).toHaveLength(2);
  });
});
