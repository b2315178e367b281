/**
 * The model's contracts with the checker (checker/types.ts): the state encoding is canonical and
 * invertible, and the transition system is deterministic (replay depends on both).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE, IOPT_BLOCK_SIZE, PAGE_SIZE } from '../../model/constants.ts';
import { DEFAULT_CONFIG, type HostBehaviour, type PkvmConfig } from '../../model/config.ts';
import { deepEqual, type PkvmState } from '../../model/state.ts';
import type { PkvmModel } from '../../model/system.ts';
import { initial, makeModel, randomWalk, type StepSpec } from './helpers.ts';

const HOSTS: readonly HostBehaviour[] = ['driver', 'iommu', 'adversarial'];

const CONFIGS: Record<string, Partial<PkvmConfig>> = {
  default: { ...DEFAULT_CONFIG },
  wide: {
    ramPages: 3,
    mmioPages: 2,
    mmioBacked: 1,
    domains: 2,
    iovas: 4,
    guests: 1,
    guestIpas: 2,
    refcountBits: 2,
    maxRange: 2,
    maxPins: 2,
  },
  guests: {
    ramPages: 2,
    mmioPages: 1,
    mmioBacked: 1,
    domains: 1,
    iovas: 2,
    guests: 2,
    guestIpas: 1,
    refcountBits: 3,
    maxRange: 3,
    maxPins: 1,
  },
};

const NUM_RUNS = 100;
const walkChoices = fc.array(fc.nat(), { minLength: 0, maxLength: 30 });

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkCodec(model: PkvmModel, states: readonly PkvmState[]): void {
  const encodings = states.map((s) => model.encode(s));
  states.forEach((s, i) => {
    const bytes = encodings[i];
    expect(bytes.length).toBe(model.codec.size);
    const back = model.decode(bytes);
    if (!deepEqual(back, s)) expect(back).toEqual(s); // shows the difference
    expect(deepEqual(back, s)).toBe(true);
    expect(bytesEqual(model.encode(back), bytes)).toBe(true);
    // an equal state that shares no objects with s encodes the same
    expect(bytesEqual(model.encode(structuredClone(s)), bytes)).toBe(true);
  });
  // equal states <=> equal encodings, over every pair the walk visited
  for (let i = 0; i < states.length; i++)
    for (let j = i + 1; j < states.length; j++) expect(bytesEqual(encodings[i], encodings[j])).toBe(deepEqual(states[i], states[j]));
}

describe('codec: decode(encode(s)) = s on random walks, and equal states encode equally', () => {
  for (const [name, cfg] of Object.entries(CONFIGS))
    for (const host of HOSTS)
      it(`config '${name}', host ${host}`, () => {
        const model = makeModel({ ...cfg, host });
        fc.assert(
          fc.property(walkChoices, (choices) => {
            checkCodec(model, randomWalk(model, choices).states);
          }),
          { numRuns: NUM_RUNS },
        );
      });

  it('a panic state round-trips too, and the encoding tells two different panics apart', () => {
    const model = makeModel({ host: 'adversarial', ramPages: 2, mmioPages: 1, mmioBacked: 0 });
    const s0 = initial(model);
    const bug = model.step(s0, { op: '__pkvm_host_unshare_dma', args: { phys: 0, size: PAGE_SIZE } }).state;
    const fault = model.step(s0, { op: '__pkvm_host_share_dma', args: { phys: 2, size: PAGE_SIZE, is_ram: true } }).state;
    expect(bug.panic?.kind).toBe('BUG_ON');
    expect(fault.panic?.kind).toBe('vmemmap-fault');
    checkCodec(model, [s0, bug, fault]);
  });
});

const RW = IOMMU_READ | IOMMU_WRITE;

/** A fixed scenario per host behaviour that exercises most operations. */
const SCENARIOS: Record<HostBehaviour, readonly StepSpec[]> = {
  driver: [
    ['host_access', { pfn: 0 }],
    ['iommu_map', { domain: 0, iova: 0, pfn: 0, npages: 2 }],
    ['device_dma', { domain: 0, iova: PAGE_SIZE }],
    ['__pkvm_host_share_hyp', { pfn: 1 }],
    ['iommu_map', { domain: 1, iova: 0, pfn: 2, npages: 1 }],
    ['iommu_unmap', { domain: 0, iova: 0, npages: 2 }],
    ['__pkvm_host_donate_guest', { pfn: 0, gfn: 0, vm: 0 }],
    ['__pkvm_guest_share_host', { vm: 0, ipa: 0 }],
    ['__pkvm_teardown_vm', { vm: 0 }],
    ['__pkvm_host_reclaim_page', { pfn: 0 }],
    ['host_stage2_unmap_dev_all', {}],
  ],
  iommu: [
    ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 0, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
    ['kvm_iommu_map_pages', { domain: 0, iova: PAGE_SIZE, paddr: 2, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
    ['kvm_iommu_map_pages', { domain: 1, iova: 0, paddr: 1, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
    ['kvm_iommu_map_pages', { domain: 1, iova: 2 * PAGE_SIZE, paddr: 3, pgsize: PAGE_SIZE, pgcount: 1, prot: RW | IOMMU_MMIO }],
    ['kvm_iommu_unmap_pages', { domain: 0, iova: 0, pgsize: IOPT_BLOCK_SIZE, pgcount: 1 }],
    ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 0, pgsize: 0, pgcount: 1, prot: RW }],
    ['__pkvm_host_donate_hyp', { pfn: 0, nr_pages: 1 }],
    ['hyp_alloc_page', { pfn: 0 }],
    ['hyp_put_page', { pfn: 0 }],
    ['__pkvm_hyp_donate_host', { pfn: 0 }],
    ['kvm_iommu_map_pages', { domain: 0, iova: 0, paddr: 4, pgsize: PAGE_SIZE, pgcount: 1, prot: RW }],
  ],
  adversarial: [
    ['__pkvm_host_share_dma', { phys: 0, size: 2 * PAGE_SIZE, is_ram: true }],
    ['__pkvm_host_share_hyp', { pfn: 2 }],
    ['hyp_pin_shared_mem', { pfn: 2 }],
    ['__pkvm_host_unshare_dma', { phys: 0, size: 0 }],
    ['__pkvm_host_share_dma', { phys: 0, size: PAGE_SIZE / 2, is_ram: false }],
    ['__pkvm_host_share_dma', { phys: 3, size: PAGE_SIZE, is_ram: false }],
    ['__pkvm_host_unshare_dma', { phys: 0, size: 2 * PAGE_SIZE }],
    ['__pkvm_host_unshare_hyp', { pfn: 2 }],
    // last: refcount overflow (2-bit refcount, the pin holds the only reference), the hypervisor stops
    ['__pkvm_host_share_dma', { phys: 2, size: PAGE_SIZE, is_ram: true }],
  ],
};

describe('determinism: the same actions give equal states and outcomes', () => {
  for (const host of HOSTS)
    it(`fixed scenario, host ${host}, on two model instances`, () => {
      const cfg = { ...CONFIGS.wide, host };
      const runs = [makeModel(cfg), makeModel(cfg)].map((model) => {
        let s = initial(model);
        const trace: unknown[] = [];
        for (const [op, args] of SCENARIOS[host]) {
          const enabled = model.actions(s);
          const action = { op, args };
          expect(enabled).toContainEqual(action);
          const r = model.step(s, action);
          trace.push({ enabled, state: r.state, outcome: r.outcome });
          // the same step again on the same model
          const again = model.step(s, action);
          expect(deepEqual(again.state, r.state)).toBe(true);
          expect(again.outcome).toEqual(r.outcome);
          s = r.state;
        }
        return trace;
      });
      expect(runs[0]).toEqual(runs[1]);
      expect(deepEqual(runs[0], runs[1])).toBe(true);
    });

  for (const [name, cfg] of Object.entries(CONFIGS))
    it(`random walks replay identically, config '${name}'`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...HOSTS), walkChoices, (host, choices) => {
          const a = makeModel({ ...cfg, host });
          const b = makeModel({ ...cfg, host });
          const first = randomWalk(a, choices);
          const second = randomWalk(b, choices);
          expect(second.actions).toEqual(first.actions);
          expect(second.outcomes).toEqual(first.outcomes);
          expect(second.states.length).toBe(first.states.length);
          second.states.forEach((s, i) => expect(deepEqual(s, first.states[i])).toBe(true));
        }),
        { numRuns: NUM_RUNS },
      );
    });
});
