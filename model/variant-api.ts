/**
 * What a variant module's default-exported function receives: the constants, the hypervisor
 * class, defineVariant and the built-in variants (docs/variants.md). Nothing here needs Node's
 * own modules, so that a variant author's type check reads it without Node's types.
 */
import * as constants from './constants.ts';
import { Hyp } from './kernel/hyp.ts';
import { defineVariant } from './variant.ts';
import { BUILTIN_VARIANTS } from './variants/index.ts';

export const VARIANT_API = { constants, Hyp, defineVariant, variants: Object.fromEntries(BUILTIN_VARIANTS.map((v) => [v.name, v])) } as const;
export type VariantApi = typeof VARIANT_API;
