/**
 * smmu-s2-shadow: the later upstream postings of the pKVM SMMUv3 driver (Mostafa Saleh, v3 Jul 2025
 * "DMA isolation only", v4 Aug 2025): no per-page DMA count; the SMMU stage-2 is an identity map
 * that shadows the host CPU stage-2.
 */
import { PAGE_SIZE, PKVM_ID_HOST, type ComponentId, type StoredPageState } from '../constants.ts';
import type { Hyp } from '../kernel/hyp.ts';
import type { OperationSpec } from '../operations.ts';
import type { StateReader } from '../memory.ts';
import type { Variant } from '../variant.ts';
import { defineVariant } from '../variant.ts';
import type { DmaMapping } from '../views.ts';
import { RFC_V1_FIXED } from './fixed.ts';

/** smmu_idmap values. */
export const SMMU_NO_ACCESS = 0;
export const SMMU_RW = 1;

type SHyp = Hyp & {
  kvm_iommu_host_stage2_idmap(start: number, end: number, rw: boolean): void;
  kvm_iommu_snapshot_host_stage2(): number;
};
const sh = (h: Hyp) => h as SHyp;

const base = RFC_V1_FIXED.hyp.prototype;

/** The pages a device reaches through the SMMU identity map (one mapping per page, domain -1, slot = pfn). */
export function smmuIdmapMappings(r: StateReader): DmaMapping[] {
  const out: DmaMapping[] = [];
  for (let pfn = 0; pfn < r.nrPages; pfn++) if (r.ext('smmu_idmap', pfn) === SMMU_RW) out.push({ domain: -1, slot: pfn, pfn });
  return out;
}

const INIT_OP: OperationSpec = {
  name: 'kvm_iommu_init_idmap',
  actor: 'hyp',
  description:
    'kvm_iommu_init() at the end of pKVM initialisation: the snapshot walk of the host stage-2 gives the SMMU identity map R|W on every zero or valid entry (MMIO too) and nothing on annotated ones, then sets kvm_idmap_initialized so that later host stage-2 changes are mirrored.',
  argFormats: {},
  staticArgs: () => [{}],
  enabled: (s) => s.ext('smmu_initialised', 0) === 0,
  run: (hyp) => sh(hyp).kvm_iommu_snapshot_host_stage2(),
};

const SEED_DMA_OPERATIONS = ['kvm_iommu_map_pages', 'kvm_iommu_unmap_pages', 'iommu_map', 'iommu_unmap', '__pkvm_host_share_dma', '__pkvm_host_unshare_dma'];

export const SMMU_S2_SHADOW = defineVariant({
  name: 'smmu-s2-shadow',
  base: RFC_V1_FIXED,
  description:
    "Mostafa Saleh's later pKVM SMMUv3 postings (v3 Jul 2025 'DMA isolation only', v4 Aug 2025; read: v4 10/28 'KVM: arm64: iommu: Shadow host stage-2 page table', lore 20250819215156.2494305-11-smostafa@google.com): there is no per-page DMA count and no IOMMU map hypercall; the SMMU stage-2 is an identity map that shadows the host CPU stage-2 (state 'smmu_idmap', 0 = no access, 1 = R|W, and the flag 'smmu_initialised'). Until the hypervisor's kvm_iommu_init() runs, devices reach nothing (GBPA=abort); its snapshot walk (operation kvm_iommu_init_idmap) gives R|W to every page whose host stage-2 entry is zero or valid, MMIO included, leaves annotated pages unmapped, and sets kvm_idmap_initialized. From then on host_stage2_set_owner_locked calls kvm_iommu_host_stage2_idmap() under the host lock (owner host: R|W, any other owner: no access), so a donation removes DMA access in the same critical section; host_stage2_idmap_locked, which the model's base also uses to give the host access (guest share to the host, shares, faults), calls it with R|W as Android's update_iommu does. The seed's IOMMU entry points are removed. Base: rfc-v1-fixed's pKVM tree (its hyp_ack_unshare and reclaim fixes are upstream by 2025); the host state stays in the host stage-2.",
  state: {
    // (both written under the host lock; the SMMU reads the identity map at any time, as a device action)
    smmu_idmap: { size: 'pages', max: 1, describe: (value: number) => (value === SMMU_RW ? 'SMMU identity map R|W' : null), lock: 'host_mmu.lock' },
    smmu_initialised: { size: 1, max: 1, describe: (value: number) => (value ? 'kvm_idmap_initialized' : null), lock: 'host_mmu.lock' },
  },
  add: {
    /** kvm_iommu_host_stage2_idmap(): mirror a host stage-2 change, once the snapshot is taken. */
    kvm_iommu_host_stage2_idmap(this: Hyp, start: number, end: number, rw: boolean): void {
      this.hyp_assert_lock_held('host_mmu.lock', 'kvm_iommu_host_stage2_idmap');
      if (!this.mem.ext('smmu_initialised', 0)) return;
      for (let a = start; a < end; a += PAGE_SIZE) {
        const pfn = this.hyp_phys_to_pfn(a);
        if (pfn >= 0 && pfn < this.nrPages) this.mem.setExt('smmu_idmap', pfn, rw ? SMMU_RW : SMMU_NO_ACCESS);
      }
    },
    /** kvm_iommu_snapshot_host_stage2(): walk the host stage-2 under its lock, then start the hook. */
    kvm_iommu_snapshot_host_stage2(this: Hyp): number {
      this.host_lock_component();
      for (let pfn = 0; pfn < this.nrPages; pfn++) {
        /* Keep unmapped: an annotated (invalid, non-zero) entry. */
        this.mem.setExt('smmu_idmap', pfn, this.mem.hostPte(pfn).kind === 'annot' ? SMMU_NO_ACCESS : SMMU_RW);
      }
      const ret = 0;
      /* Start receiving calls to host_stage2_idmap. */
      this.mem.setExt('smmu_initialised', 0, ret === 0 ? 1 : 0);
      this.host_unlock_component();
      return ret;
    },
  },
  replace: {
    host_stage2_set_owner_locked(this: Hyp, addr: number, size: number, owner: ComponentId): number {
      const ret = base.host_stage2_set_owner_locked.call(this, addr, size, owner);
      if (ret) return ret;
      sh(this).kvm_iommu_host_stage2_idmap(addr, addr + size, owner === PKVM_ID_HOST);
      return 0;
    },
    host_stage2_idmap_locked(this: Hyp, addr: number, size: number, state: StoredPageState): number {
      const ret = base.host_stage2_idmap_locked.call(this, addr, size, state);
      if (ret) return ret;
      sh(this).kvm_iommu_host_stage2_idmap(addr, addr + size, true);
      return 0;
    },
  },
  views: { extraDeviceMappings: smmuIdmapMappings },
  removeOperations: SEED_DMA_OPERATIONS,
  addOperations: [INIT_OP],
});

/** A mutant of the shadow design: the hook runs only when the host gets a page back. */
export const SMMU_SHADOW_NO_HOOK_ON_DONATE: Variant = defineVariant({
  name: 'smmu-shadow-no-hook-on-donate',
  base: SMMU_S2_SHADOW,
  description:
    'A mutant of smmu-s2-shadow: host_stage2_set_owner_locked calls kvm_iommu_host_stage2_idmap() only when the new owner is the host (a "the host gets access back" hook), so a page donated to the hypervisor or a guest keeps its SMMU identity mapping and devices still reach it.',
  replace: {
    host_stage2_set_owner_locked(this: Hyp, addr: number, size: number, owner: ComponentId): number {
      const ret = base.host_stage2_set_owner_locked.call(this, addr, size, owner);
      if (ret) return ret;
      if (owner === PKVM_ID_HOST) sh(this).kvm_iommu_host_stage2_idmap(addr, addr + size, true);
      return 0;
    },
  },
});

/**
 * The snapshot as posted in v4 10/28: `kvm_idmap_initialized = !!ret;` sets the flag only when the
 * walk fails, so after a successful snapshot the hook never runs. A second state bit records that
 * the snapshot was taken (kvm_iommu_init() runs once).
 */
export const SMMU_SHADOW_V4_INIT_FLAG: Variant = defineVariant({
  name: 'smmu-shadow-v4-init-flag',
  base: SMMU_S2_SHADOW,
  description:
    "smmu-s2-shadow with kvm_iommu_snapshot_host_stage2() exactly as posted in v4 10/28 (Aug 2025): 'kvm_idmap_initialized = !!ret;' sets the flag only when the walk fails (the later posting has '= !ret'), so after a successful snapshot kvm_iommu_host_stage2_idmap() returns early forever and a donated page stays in the SMMU identity map.",
  state: { smmu_snapshot_taken: { size: 1, max: 1, describe: (value: number) => (value ? 'snapshot taken' : null), lock: 'host_mmu.lock' } },
  replace: {
    kvm_iommu_snapshot_host_stage2(this: Hyp): number {
      this.host_lock_component();
      for (let pfn = 0; pfn < this.nrPages; pfn++) this.mem.setExt('smmu_idmap', pfn, this.mem.hostPte(pfn).kind === 'annot' ? SMMU_NO_ACCESS : SMMU_RW);
      const ret = 0;
      this.mem.setExt('smmu_initialised', 0, ret !== 0 ? 1 : 0); // kvm_idmap_initialized = !!ret;
      this.mem.setExt('smmu_snapshot_taken', 0, 1);
      this.host_unlock_component();
      return ret;
    },
  } as Record<string, (this: Hyp) => number>,
  addOperations: [{ ...INIT_OP, enabled: (s: StateReader) => s.ext('smmu_snapshot_taken', 0) === 0 }],
});
