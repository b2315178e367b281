/**
 * The variant author's API: what `import type { ... } from 'pkvm-check'` gives a variant module
 * (docs/variants.md). Types first; the values are the ones a module's default-exported function
 * also receives (VariantApi). The package ships its TypeScript sources: a tsconfig that reads
 * them needs "allowImportingTsExtensions" (with "noEmit"), as `pkvm-check typecheck` sets.
 */
import type { VariantApi } from './model/variant-api.ts';
import type { Variant, VariantSpec } from './model/variant.ts';

export { defineVariant, VariantError } from './model/variant.ts';
export type { Variant, VariantSpec, Pieces, NewPieces } from './model/variant.ts';
export { Hyp } from './model/kernel/hyp.ts';
export type { HypClass } from './model/kernel/hyp.ts';
export type { Lock } from './model/kernel/base.ts';
export type { Out, PkvmMemTransition, PkvmMemShare, PkvmMemDonation, Prot } from './model/kernel/mem_protect.ts';
export type { OperationSpec, Actor, Args, ArgValue, ArgFormat, PkvmAction } from './model/operations.ts';
export type { StateReader, Memory, GhostCounter } from './model/memory.ts';
export type { StateExtension, StateExtensions, PkvmState, HostPte, GuestPte, IoPte, HypFailure, FailureKind } from './model/state.ts';
export type { ViewHooks, DmaMapping, PageView } from './model/views.ts';
export type { PkvmConfig, HostBehaviour } from './model/config.ts';
export type { VariantApi } from './model/variant-api.ts';
export * as constants from './model/constants.ts';

/** A variant module's spec: a VariantSpec whose base may be named (a built-in variant). */
export type VariantModuleSpec = Omit<VariantSpec, 'base'> & { readonly base?: string | Variant };

/**
 * What a variant module default-exports: a spec, a variant, or a function of the modelling API
 * returning one (`pkvm-check typecheck` checks a module's default export against it).
 */
export type VariantModule = VariantModuleSpec | Variant | ((api: VariantApi) => VariantModuleSpec | Variant);
