/**
 * rfc-v1-u62: the seed on the upstream base before 09cce60bddd6. Behaviour of the three base
 * differences, and the verdict at small bounds.
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, EPERM, IOMMU_READ, IOMMU_WRITE, PAGE_SIZE, PKVM_ID_HYP, PKVM_PAGE_SHARED_OWNED } from '../../model/constants.ts';
import { RFC_V1, RFC_V1_U62 } from '../../model/variants/index.ts';
import { last, makeModel, messageOf, reader, run, shortest, step, verdict } from './util.ts';

const RW = IOMMU_READ | IOMMU_WRITE;
/** kvm_iommu_map_pages of one page at IOVA 0 of domain 0 (the paddr argument is a pfn). */
const mapOne = (pfn: number, prot = RW) => ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: pfn, pgsize: PAGE_SIZE, pgcount: 1, prot }] as const;

describe('rfc-v1-u62: behaviour', () => {
  it('share_dma with is_ram true marks a never-faulted, vmemmap-backed MMIO page SHARED_OWNED; memory pressure drops it', () => {
    const m = makeModel(RFC_V1_U62, { host: 'iommu', mmioBacked: 1 });
    const [mapped, pressed] = run(m, [mapOne(2), ['host_stage2_unmap_dev_all']]);
    expect(mapped.ret).toBe(0);
    expect(mapped.outcome.failures).toEqual([]);
    const r = reader(m, mapped.state);
    expect(r.hostPte(2)).toEqual({ kind: 'valid', state: PKVM_PAGE_SHARED_OWNED });
    expect(r.refcount(2)).toBe(1);
    // host_stage2_unmap_dev_all() zaps the MMIO entry: the DMA state is gone, the reference stays
    const p = reader(m, pressed.state);
    expect(p.hostPte(2)).toEqual({ kind: 'zero' });
    expect(p.refcount(2)).toBe(1);
  });

  it('on the seed base (range_is_memory in host_request_owned_transition) the same call fails and changes nothing', () => {
    const m = makeModel(RFC_V1, { host: 'iommu', mmioBacked: 1 });
    const r = step(m, m.initialStates()[0], ...mapOne(2));
    expect(r.ret).toBe(-EINVAL);
    expect(r.state).toEqual(m.initialStates()[0]);
  });

  it('the host can donate an MMIO page to the hypervisor, and memory pressure gives it back', () => {
    const m = makeModel(RFC_V1_U62, { host: 'iommu' });
    const [donated, pressed] = run(m, [['__pkvm_host_donate_hyp', { pfn: 2, nr_pages: 1 }], ['host_stage2_unmap_dev_all']]);
    expect(donated.ret).toBe(0);
    expect(reader(m, donated.state).hostPte(2)).toEqual({ kind: 'annot', owner: PKVM_ID_HYP });
    expect(reader(m, pressed.state).hostPte(2)).toEqual({ kind: 'zero' });
    expect(reader(m, pressed.state).hypPte(2)).not.toBeNull();
  });

  it('touching a donated page BUGs instead of injecting an abort', () => {
    const u62 = makeModel(RFC_V1_U62);
    const r = last(run(u62, [['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }], ['host_access', { pfn: 0 }]]));
    expect(r.outcome.failures.map((f) => `${f.kind} ${f.where}`)).toEqual(['BUG_ON handle_host_mem_abort']);
    expect(reader(u62, r.state).panic()).not.toBeNull();
    const sb = makeModel(RFC_V1);
    const s = last(run(sb, [['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }], ['host_access', { pfn: 0 }]]));
    expect(s.ret).toBe(-EPERM);
    expect(s.outcome.failures).toEqual([]);
  });
});

describe('rfc-v1-u62: verdict at small bounds', () => {
  it('host driver, depth <= 3', () => {
    const r = verdict(RFC_V1_U62, { host: 'driver' }, 3);
    expect(r.status).toBe('violation');
    expect(shortest(r)).toEqual({
      'no-bug': 2,
      'no-warn': 2,
      'failure-atomicity': 2,
      'single-owner': 2,
      'dma-isolation': 3,
      'refcount-accounting': 3,
    });
    expect(messageOf(r, 'no-bug')).toMatch(/BUG_ON in handle_host_mem_abort/);
  });

  it('host iommu, --mmio-backed 1, depth <= 1', () => {
    const r = verdict(RFC_V1_U62, { host: 'iommu', mmioBacked: 1 }, 1);
    expect(r.status).toBe('violation');
    expect(shortest(r)).toEqual({
      'host-s2-coherent': 1,
      'no-uninitialised-return': 1,
      'no-hang': 1,
      'no-warn': 1,
      'failure-atomicity': 1,
      'refcount-accounting': 1,
    });
    expect(messageOf(r, 'host-s2-coherent')).toMatch(/MMIO page 2 .* holds non-default state in the host stage-2 \(state 1\)/);
    expect(messageOf(r, 'refcount-accounting')).toMatch(/page 2 .* has hyp_page.refcount 1, expected 0/);
  });
});
