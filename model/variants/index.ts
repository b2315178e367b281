import { RFC_V1, type Variant } from '../variant.ts';
import { RFC_V1_FIXED } from './fixed.ts';
import { RFC_V1_BASE_FIX } from './base-fix.ts';
import { MUTANTS } from './mutants.ts';
import { RFC_V1_U62 } from './u62.ts';
import { VMEMMAP_STATE } from './vmemmap-state.ts';
import { RFC_V2_USE_DMA } from './rfc-v2-use-dma.ts';
import { SMMU_S2_SHADOW, SMMU_SHADOW_NO_HOOK_ON_DONATE, SMMU_SHADOW_V4_INIT_FLAG } from './smmu-s2-shadow.ts';
import { PIN_DROPS_LOCKS, SHARE_DMA_LOCK_INVERSION, UNSHARE_BEFORE_TLBI } from './concurrency.ts';
import { VMEMMAP_CMPXCHG } from './vmemmap-cmpxchg.ts';
import { POOL_MUTANTS } from './pool-mutants.ts';
import { LIFECYCLE_MUTANTS } from './lifecycle-mutants.ts';

export const BUILTIN_VARIANTS: readonly Variant[] = [
  RFC_V1,
  RFC_V1_BASE_FIX,
  RFC_V1_FIXED,
  RFC_V1_U62,
  VMEMMAP_STATE,
  RFC_V2_USE_DMA,
  SMMU_S2_SHADOW,
  ...MUTANTS,
  SMMU_SHADOW_NO_HOOK_ON_DONATE,
  SMMU_SHADOW_V4_INIT_FLAG,
  UNSHARE_BEFORE_TLBI,
  SHARE_DMA_LOCK_INVERSION,
  PIN_DROPS_LOCKS,
  VMEMMAP_CMPXCHG,
  ...LIFECYCLE_MUTANTS,
];

/** A built-in variant by name (the page-pool mutants too, which only differ from rfc-v1-fixed with --memcache). */
export function builtinVariant(name: string): Variant | undefined {
  return BUILTIN_VARIANTS.find((v) => v.name === name) ?? POOL_MUTANTS.find((v) => v.name === name);
}

export {
  RFC_V1,
  RFC_V1_BASE_FIX,
  RFC_V1_FIXED,
  MUTANTS,
  RFC_V1_U62,
  VMEMMAP_STATE,
  RFC_V2_USE_DMA,
  SMMU_S2_SHADOW,
  SMMU_SHADOW_NO_HOOK_ON_DONATE,
  SMMU_SHADOW_V4_INIT_FLAG,
  UNSHARE_BEFORE_TLBI,
  SHARE_DMA_LOCK_INVERSION,
  PIN_DROPS_LOCKS,
  VMEMMAP_CMPXCHG,
  POOL_MUTANTS,
  LIFECYCLE_MUTANTS,
};
