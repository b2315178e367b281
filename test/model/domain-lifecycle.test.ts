/**
 * --domain-lifecycle: the domain hypercalls of RFC v1 as the kernel runs them (refs, stream table
 * entries, free with live mappings, map into a free domain), the invariant that reads them, the
 * fixed design that passes, and the mutants each killed by a generic invariant. Off by default:
 * the model is the one it was (same actions, same bytes).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { DOMAIN_REFS, STE } from '../../model/lifecycle.ts';
import { PackedPkvmModel } from '../../model/system.ts';
import { builtinVariant, RFC_V1, RFC_V1_FIXED } from '../../model/variants/index.ts';
import { last, makeModel, messageOf, reader, run, shortest, traceOf, verdict } from '../variants/util.ts';
import { runCli } from '../run-cli.ts';
import { defineVariant } from '../../model/variant.ts';
import type { Hyp } from '../../model/kernel/hyp.ts';

const ON = { domainLifecycle: true, endpoints: 2 } as const;
const IOMMU = { ...ON, host: 'iommu' as const };
const MAP = { domain: 0, iova: 0, paddr: 0, pgsize: 4096, pgcount: 1, prot: 3 };

describe('off by default', () => {
  it('no lifecycle operation, no state added, the same bytes', () => {
    const off = new PackedPkvmModel({ ...DEFAULT_CONFIG, host: 'iommu' }, RFC_V1);
    const on = new PackedPkvmModel({ ...DEFAULT_CONFIG, ...IOMMU }, RFC_V1);
    const ops = (m: PackedPkvmModel) => new Set(m.allActions().map((a) => a.op));
    expect(ops(off).has('kvm_iommu_alloc_domain')).toBe(false);
    expect(ops(on).has('kvm_iommu_alloc_domain')).toBe(true);
    expect(off.layout.extNames).toEqual([]);
    expect(on.layout.extNames).toEqual([DOMAIN_REFS, STE]);
    expect(on.layout.size).toBe(off.layout.size + 2 * (DEFAULT_CONFIG.domains + 2));
  });
});

describe('RFC v1 domain hypercalls', () => {
  const m = makeModel(RFC_V1, IOMMU);
  const refs = (s: ReturnType<typeof last>['state'], d: number) => reader(m, s).ext(DOMAIN_REFS, d);
  const ste = (s: ReturnType<typeof last>['state'], e: number) => reader(m, s).ext(STE, e);

  it('alloc sets refs 1, attach counts the endpoint, free refuses an attached domain, detach then free', () => {
    const rs = run(m, [
      ['kvm_iommu_alloc_domain', { domain: 0 }],
      ['kvm_iommu_alloc_domain', { domain: 0 }],
      ['kvm_iommu_attach_dev', { domain: 0, endpoint: 1 }],
      ['kvm_iommu_attach_dev', { domain: 0, endpoint: 1 }],
      ['kvm_iommu_free_domain', { domain: 0 }],
      ['kvm_iommu_detach_dev', { domain: 0, endpoint: 1 }],
      ['kvm_iommu_free_domain', { domain: 0 }],
    ]);
    expect(rs.map((r) => r.ret)).toEqual([0, -22, 0, -22, -22, 0, 0]);
    expect(refs(rs[0].state, 0)).toBe(1);
    expect(refs(rs[2].state, 0)).toBe(2);
    expect(ste(rs[2].state, 1)).toBe(1);
    expect(ste(rs[5].state, 1)).toBe(0);
    expect(refs(last(rs).state, 0)).toBe(0);
  });

  it('attach to a free domain fails; map into a free domain walks a NULL pgd (hyp panic)', () => {
    expect(last(run(m, [['kvm_iommu_attach_dev', { domain: 1, endpoint: 0 }]])).ret).toBe(-22);
    const r = last(run(m, [['kvm_iommu_map_pages', MAP]]));
    expect(r.state.panic?.kind).toBe('BUG_ON');
    expect(r.state.panic?.detail).toMatch(/not allocated: the io-pgtable walk dereferences its NULL pgd/);
  });

  it('free with a live mapping drops the io-pgtable and leaves the page shared and referenced', () => {
    const r = last(run(m, [['kvm_iommu_alloc_domain', { domain: 0 }], ['kvm_iommu_map_pages', MAP], ['kvm_iommu_free_domain', { domain: 0 }]]));
    expect(r.ret).toBe(0);
    expect(r.state.iommu[0].pgd.every((e) => e === null)).toBe(true);
    expect(r.state.vmemmap[0]?.refcount).toBe(1);
    expect(r.state.hostS2[0]).toEqual({ kind: 'valid', state: 1 });
  });

  it('detach names any domain: the STE goes, the wrong domain loses a reference', () => {
    const rs = run(m, [
      ['kvm_iommu_alloc_domain', { domain: 0 }],
      ['kvm_iommu_alloc_domain', { domain: 1 }],
      ['kvm_iommu_attach_dev', { domain: 0, endpoint: 0 }],
      ['kvm_iommu_attach_dev', { domain: 1, endpoint: 1 }],
      ['kvm_iommu_detach_dev', { domain: 1, endpoint: 0 }],
    ]);
    const s = last(rs).state;
    expect([refs(s, 0), refs(s, 1), ste(s, 0), ste(s, 1)]).toEqual([2, 1, 0, 2]);
  });

  it('the seed: shortest violations of the lifecycle (iommu host, depth 3)', () => {
    const r = verdict(RFC_V1, IOMMU, 3);
    const sh = shortest(r);
    expect(sh['no-bug']).toBe(1);
    expect(messageOf(r, 'no-bug')).toMatch(/NULL pgd/);
    expect(sh['domain-lifecycle']).toBe(3);
    expect(sh['refcount-accounting']).toBe(3);
  });
});

describe('rfc-v1-fixed holds with the lifecycle', () => {
  for (const host of ['driver', 'iommu'] as const)
    it(`host ${host}, IOTLB modelled, depth 6`, () => {
      expect(shortest(verdict(RFC_V1_FIXED, { ...ON, host, iotlb: true }, 6))).toEqual({});
    });
  it('with the lifecycle off it is the model as it was: the driver reaches no lifecycle state', () => {
    expect(shortest(verdict(RFC_V1_FIXED, { host: 'driver' }, 4))).toEqual({});
  });
});

describe('with table pages from the memcache too (--memcache)', () => {
  const POOL = { ...ON, memcache: 1, domains: 1 } as const;
  it('rfc-v1-fixed: freeing a domain gives its table pages back; exhaustive, every invariant holds', () => {
    const r = verdict(RFC_V1_FIXED, POOL, 1000);
    expect(shortest(r)).toEqual({});
    expect(r.exhausted).toBe(true);
    expect(r.stats.distinctStates).toBe(7136);
  });
  it('a free that drops the tables without reclaiming their pages: pgtable-pages after 6 steps', () => {
    const v = defineVariant({
      name: 'free-iopt-keeps-table-pages',
      base: RFC_V1_FIXED,
      description: 'kvm_arm_io_pgtable_free clears the pgd and gives no table page back',
      replace: {
        kvm_arm_io_pgtable_free(this: Hyp, domain: number): number {
          for (let idx = 0, n = this.mem.ioEntries(domain); idx < n; idx++) if (this.mem.ioPgd(domain, idx) !== null) this.mem.setIoPgd(domain, idx, null);
          return 0;
        },
      },
    });
    const r = verdict(v, POOL, 6);
    expect(shortest(r)).toEqual({ 'pgtable-pages': 6 });
    expect(traceOf(makeModel(v, POOL), r, 'pgtable-pages').join(' ; ')).toMatch(/iommu_domain_free\(domain=0\)$/);
  });
});

describe('lifecycle mutants of rfc-v1-fixed: the generic invariant that kills each (kill matrix)', () => {
  const CASES = [
    { variant: 'free-domain-keeps-pages', invariant: 'refcount-accounting', length: 3, message: /hyp_page.refcount 1, expected 0 \(0 SMMU mapping/, trace: /kvm_iommu_free_domain\(domain=0\)$/ },
    { variant: 'detach-dev-any-ste', invariant: 'domain-lifecycle', length: 3, message: /has refs 1 but 1 endpoint\(s\) attached/, trace: /kvm_iommu_detach_dev/ },
  ];
  for (const c of CASES)
    it(`${c.variant}: ${c.invariant} in ${c.length} steps, and nothing without the lifecycle`, () => {
      const v = builtinVariant(c.variant)!;
      const r = verdict(v, IOMMU, c.length);
      expect(shortest(r)).toEqual({ [c.invariant]: c.length });
      expect(messageOf(r, c.invariant)).toMatch(c.message);
      expect(traceOf(makeModel(v, IOMMU), r, c.invariant).join(' ; ')).toMatch(c.trace);
      expect(shortest(verdict(v, { host: 'iommu' }, 3))).toEqual({});
    });
});

describe('command line', () => {
  it('--endpoints needs --domain-lifecycle; --symmetry is refused with it', async () => {
    const a = await runCli(['check', '--endpoints', '2', '--depth', '1', '--no-trace', '--quiet']);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--endpoints .* needs --domain-lifecycle/);
    const b = await runCli(['check', '--domain-lifecycle', '--symmetry', '--depth', '1', '--no-trace', '--quiet']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--symmetry cannot be combined with --domain-lifecycle/);
  });
  it('check --domain-lifecycle names it in the configuration line', async () => {
    const r = await runCli(['check', '--variant', 'rfc-v1-fixed', '--domain-lifecycle', '--depth', '2', '--no-trace', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/allocated by hypercalls; 2 endpoint\(s\)/);
    expect(r.out).toMatch(/domain-lifecycle/);
  });
});
