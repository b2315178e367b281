/**
 * smmu-s2-shadow: the SMMU stage-2 shadows the host stage-2. Behaviour of the snapshot and of the
 * hook, and the verdicts (device reach through the identity map = host CPU reach).
 */
import { describe, expect, it } from 'vitest';
import { selectProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import type { Variant } from '../../model/variant.ts';
import type { StateReader } from '../../model/memory.ts';
import { SMMU_S2_SHADOW, SMMU_SHADOW_NO_HOOK_ON_DONATE, SMMU_SHADOW_V4_INIT_FLAG } from '../../model/variants/index.ts';
import { smmuIdmapMappings } from '../../model/variants/smmu-s2-shadow.ts';
import { makeModel, messageOf, reader, run, shortest, verdict } from './util.ts';

const idmap = (r: StateReader) => Array.from({ length: r.nrPages }, (_, pfn) => r.ext('smmu_idmap', pfn));

describe('smmu-s2-shadow: behaviour', () => {
  it('devices reach nothing until the snapshot; the snapshot maps zero and valid entries (MMIO too) and skips annotated ones', () => {
    const m = makeModel(SMMU_S2_SHADOW);
    const [donated, accessed, init] = run(m, [['__pkvm_host_donate_hyp', { pfn: 1, nr_pages: 1 }], ['host_access', { pfn: 0 }], ['kvm_iommu_init_idmap']]);
    expect(smmuIdmapMappings(reader(m, donated.state))).toEqual([]);
    expect(smmuIdmapMappings(reader(m, accessed.state))).toEqual([]);
    expect(init.ret).toBe(0);
    const r = reader(m, init.state);
    expect(idmap(r)).toEqual([1, 0, 1]);
    expect(r.ext('smmu_initialised', 0)).toBe(1);
    expect(m.actions(init.state).some((a) => a.op === 'kvm_iommu_init_idmap')).toBe(false);
  });

  it('after the snapshot, a donation removes the page from the identity map in the same call, and giving it back restores it', () => {
    const m = makeModel(SMMU_S2_SHADOW);
    const [, toHyp, back, toGuest, shared, unshared] = run(m, [
      ['kvm_iommu_init_idmap'],
      ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }],
      ['__pkvm_hyp_donate_host', { pfn: 0 }],
      ['__pkvm_host_donate_guest', { pfn: 1, gfn: 0, vm: 0 }],
      ['__pkvm_guest_share_host', { vm: 0, ipa: 0 }],
      ['__pkvm_guest_unshare_host', { vm: 0, ipa: 0 }],
    ]);
    expect(idmap(reader(m, toHyp.state))).toEqual([0, 1, 1]);
    expect(idmap(reader(m, back.state))).toEqual([1, 1, 1]);
    expect(idmap(reader(m, toGuest.state))).toEqual([1, 0, 1]);
    // a guest page shared with the host is reachable like any page the host maps, until unshared
    expect(idmap(reader(m, shared.state))).toEqual([1, 1, 1]);
    expect(idmap(reader(m, unshared.state))).toEqual([1, 0, 1]);
  });

  it('the seed IOMMU entry points are gone', () => {
    for (const host of ['driver', 'iommu', 'adversarial'] as const) {
      const m = makeModel(SMMU_S2_SHADOW, { host });
      const ops = new Set(m.actions(m.initialStates()[0]).map((a) => a.op));
      for (const op of ['kvm_iommu_map_pages', 'kvm_iommu_unmap_pages', 'iommu_map', 'iommu_unmap', '__pkvm_host_share_dma', '__pkvm_host_unshare_dma']) expect(ops.has(op)).toBe(false);
      expect(ops.has('kvm_iommu_init_idmap')).toBe(true);
    }
  });

  it('the mutant without the hook on donation leaves a donated page in the identity map, which dma-isolation flags', () => {
    const props = (v: Variant) => selectProperties({ ...DEFAULT_CONFIG }, ['dma-isolation'], v);
    const steps = [['kvm_iommu_init_idmap'], ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }]] as const;
    const good = makeModel(SMMU_S2_SHADOW);
    const bad = makeModel(SMMU_SHADOW_NO_HOOK_ON_DONATE);
    const g = run(good, steps)[1].state;
    const b = run(bad, steps)[1].state;
    expect(idmap(reader(bad, b))).toEqual([1, 1, 1]);
    const [pg] = props(SMMU_S2_SHADOW);
    const [pb] = props(SMMU_SHADOW_NO_HOOK_ON_DONATE);
    expect(pg.kind === 'state' && pg.check(g)).toBe(null);
    expect(pb.kind === 'state' && pb.check(b)).toEqual({ message: expect.stringMatching(/page 0 .* reachable by DMA through the SMMU identity map but is owned by the hypervisor/) });
  });
});

describe('smmu-s2-shadow: verdicts', () => {
  // dma-isolation reads an identity map as acting for the host: devices may reach what the host
  // CPU may reach, shared pages included, and nothing the host cannot access
  for (const host of ['driver', 'iommu'] as const)
    it(`host ${host}, default bounds: exhaustive, every invariant holds`, () => {
      const r = verdict(SMMU_S2_SHADOW, { host }, 12);
      expect(r.status).toBe('ok');
      expect(r.exhausted).toBe(true);
      expect(r.stats.distinctStates).toBe(576);
    });

  for (const v of [SMMU_SHADOW_NO_HOOK_ON_DONATE, SMMU_SHADOW_V4_INIT_FLAG])
    it(`${v.name}: dma-isolation, 2 steps (snapshot, then a donation to the hypervisor)`, () => {
      const r = verdict(v, { host: 'iommu' }, 2);
      expect(r.status).toBe('violation');
      expect(shortest(r)['dma-isolation']).toBe(2);
      expect(messageOf(r, 'dma-isolation')).toMatch(/reachable by DMA through the SMMU identity map but is owned by the hypervisor \(host stage-2 annotated PKVM_ID_HYP\)/);
      expect(verdict(v, { host: 'iommu' }, 1).status).toBe('ok');
    });
});
