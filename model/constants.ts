/**
 * Constants of the pKVM memory-ownership protocol, named as in the kernel
 * (arch/arm64/kvm/hyp/include/nvhe/mem_protect.h, include/uapi/asm-generic/errno-base.h,
 * include/linux/iommu.h).
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Base of the modelled physical address range (DRAM on arm64 boards usually starts at 2 GiB). */
export const PHYS_BASE = 0x8000_0000;

/** `enum pkvm_page_state` (values as stored in the PTE software bits up to v6.15). */
export const PKVM_PAGE_OWNED = 0;
export const PKVM_PAGE_SHARED_OWNED = 1;
export const PKVM_PAGE_SHARED_BORROWED = 2;
/** Meta-state: never stored in a PTE, returned by the get_page_state helpers. */
export const PKVM_NOPAGE = 4;
export type PageState =
  | typeof PKVM_PAGE_OWNED
  | typeof PKVM_PAGE_SHARED_OWNED
  | typeof PKVM_PAGE_SHARED_BORROWED
  | typeof PKVM_NOPAGE;
/** A state that a PTE can hold in its software bits. */
export type StoredPageState = Exclude<PageState, typeof PKVM_NOPAGE>;

export const PAGE_STATE_NAMES: Record<PageState, string> = {
  [PKVM_PAGE_OWNED]: 'PKVM_PAGE_OWNED',
  [PKVM_PAGE_SHARED_OWNED]: 'PKVM_PAGE_SHARED_OWNED',
  [PKVM_PAGE_SHARED_BORROWED]: 'PKVM_PAGE_SHARED_BORROWED',
  [PKVM_NOPAGE]: 'PKVM_NOPAGE',
};

/** `enum pkvm_component_id`; the seed appends PKVM_ID_IOMMU. */
export const PKVM_ID_HOST = 0;
export const PKVM_ID_HYP = 1;
export const PKVM_ID_GUEST = 2;
export const PKVM_ID_IOMMU = 3;
export type ComponentId =
  | typeof PKVM_ID_HOST
  | typeof PKVM_ID_HYP
  | typeof PKVM_ID_GUEST
  | typeof PKVM_ID_IOMMU;
/** An owner id that can be written into an invalid host stage-2 PTE. */
export type AnnotationOwner = typeof PKVM_ID_HYP | typeof PKVM_ID_GUEST | typeof PKVM_ID_IOMMU;

export const COMPONENT_NAMES: Record<ComponentId, string> = {
  [PKVM_ID_HOST]: 'PKVM_ID_HOST',
  [PKVM_ID_HYP]: 'PKVM_ID_HYP',
  [PKVM_ID_GUEST]: 'PKVM_ID_GUEST',
  [PKVM_ID_IOMMU]: 'PKVM_ID_IOMMU',
};

/** Errno values, negated as the hypervisor returns them. */
export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ERANGE = 34;
export const EOVERFLOW = 75;

const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [E2BIG]: 'E2BIG',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [EINVAL]: 'EINVAL',
  [ERANGE]: 'ERANGE',
  [EOVERFLOW]: 'EOVERFLOW',
};

/**
 * The value a C function returns when its `ret` was never assigned (read of an
 * uninitialised variable). The model treats it as a non-zero garbage value.
 */
export const RET_UNINITIALISED = -0x7fff_0001;
/** Returned up the call chain once the hypervisor has panicked; never seen by the host. */
export const RET_HYP_PANIC = -0x7fff_0002;

/** Render a return value as the kernel would print it. */
export function retName(ret: number): string {
  if (ret === 0) return '0';
  if (ret === RET_UNINITIALISED) return '<uninitialised>';
  if (ret === RET_HYP_PANIC) return '<hyp panic>';
  if (ret < 0 && ERRNO_NAMES[-ret]) return `-${ERRNO_NAMES[-ret]}`;
  return String(ret);
}

/** `struct hyp_page` flags (seed base, nvhe/memory.h). */
export const HOST_PAGE_NEED_POISONING = 1 << 0;
export const HOST_PAGE_PENDING_RECLAIM = 1 << 1;

/** IOMMU prot bits, include/linux/iommu.h. */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;
/** kvm_iommu_map_pages() accepts only these bits (hyp iommu.c, RFC v1). */
export const IOMMU_PROT_MASK = IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC | IOMMU_MMIO;

export function iommuProtName(prot: number): string {
  if (prot === 0) return '0';
  const parts: string[] = [];
  if (prot & IOMMU_READ) parts.push('IOMMU_READ');
  if (prot & IOMMU_WRITE) parts.push('IOMMU_WRITE');
  if (prot & IOMMU_CACHE) parts.push('IOMMU_CACHE');
  if (prot & IOMMU_NOEXEC) parts.push('IOMMU_NOEXEC');
  if (prot & IOMMU_MMIO) parts.push('IOMMU_MMIO');
  if (prot & IOMMU_PRIV) parts.push('IOMMU_PRIV');
  return parts.join('|');
}

/** Pages per SMMU block mapping in the model's two-level io-pgtable. */
export const IOPT_BLOCK_PAGES = 2;
export const IOPT_BLOCK_SIZE = IOPT_BLOCK_PAGES * PAGE_SIZE;
