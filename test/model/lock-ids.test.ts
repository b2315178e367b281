/** Lock ids: the state stores lock owners by id, so names and ids must map one to one. */
import { describe, expect, it } from 'vitest';
import { lockBit, lockId, lockName, locksOfMask } from '../../model/kernel/base.ts';

describe('lock ids', () => {
  it('the fixed locks, then one per VM', () => {
    expect(['host_mmu.lock', 'pkvm_pgd_lock', 'iommu_lock', 'hyp_pool.lock', 'vm[0].lock', 'vm[11].lock'].map((l) => lockId(l as never))).toEqual([0, 1, 2, 3, 4, 15]);
  });
  it('name and id are inverse for every id a configuration can have', () => {
    for (let id = 0; id < 68; id++) expect(lockId(lockName(id))).toBe(id);
  });
  it('masks list their locks in id order', () => {
    expect(locksOfMask(lockBit('iommu_lock') | lockBit('host_mmu.lock') | lockBit('vm[1].lock' as never))).toEqual(['host_mmu.lock', 'iommu_lock', 'vm[1].lock']);
  });
});
