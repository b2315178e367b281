import { RFC_V1, type Variant } from '../variant.ts';
import { RFC_V1_FIXED } from './fixed.ts';
import { RFC_V1_BASE_FIX } from './base-fix.ts';
import { MUTANTS } from './mutants.ts';

export const BUILTIN_VARIANTS: readonly Variant[] = [RFC_V1, RFC_V1_BASE_FIX, RFC_V1_FIXED, ...MUTANTS];

export function builtinVariant(name: string): Variant | undefined {
  return BUILTIN_VARIANTS.find((v) => v.name === name);
}

export { RFC_V1, RFC_V1_BASE_FIX, RFC_V1_FIXED, MUTANTS };
