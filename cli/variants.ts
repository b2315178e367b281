/**
 * Picking a variant: a built-in name, or the path of a user's TypeScript/JavaScript module that
 * default-exports a variant spec (or a function of the modelling API returning one). No build
 * step: the CLI runs with the tsx loader, so `.ts` modules load as they are.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_VARIANTS, builtinVariant } from '../model/variants/index.ts';
import { RFC_V1, VariantError, defineVariant, type Variant, type VariantSpec } from '../model/variant.ts';
import { VARIANT_API, type VariantApi } from '../model/variant-api.ts';
import { UsageError } from './errors.ts';

/** What a variant module's default-exported function receives (model/variant-api.ts). */
export { VARIANT_API, type VariantApi };

export function looksLikePath(name: string): boolean {
  return name.includes('/') || /\.(c|m)?(t|j)s$/.test(name);
}

function isVariant(x: unknown): x is Variant {
  return typeof x === 'object' && x !== null && typeof (x as Variant).hyp === 'function' && typeof (x as Variant).name === 'string';
}

export async function loadVariant(name: string | undefined): Promise<Variant> {
  const n = name ?? RFC_V1.name;
  if (!looksLikePath(n)) {
    const v = builtinVariant(n);
    if (!v) throw new UsageError(`unknown variant '${n}' (known: ${BUILTIN_VARIANTS.map((x) => x.name).join(', ')}; or give the path of a variant module)`);
    return v;
  }
  const file = resolve(n);
  if (!existsSync(file)) throw new UsageError(`variant module ${n} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new VariantError(n, null, `cannot load the module: ${loadError(e, file)}`);
  }
  let exported = mod.default ?? mod.variant;
  if (exported === undefined) throw new VariantError(n, null, 'the module must default-export a variant spec (or a function returning one)');
  try {
    if (typeof exported === 'function') exported = (exported as (api: VariantApi) => unknown)(VARIANT_API);
  } catch (e) {
    throw new VariantError(n, null, `its default export threw ${e instanceof Error ? e.message : String(e)}`);
  }
  if (isVariant(exported)) return exported;
  if (typeof exported !== 'object' || exported === null) throw new VariantError(n, null, 'the default export is not a variant spec');
  const spec = exported as Omit<VariantSpec, 'base'> & { base?: string | Variant };
  let base: Variant | undefined;
  if (typeof spec.base === 'string') {
    base = builtinVariant(spec.base);
    if (!base) throw new VariantError(spec.name ?? n, null, `unknown base variant '${spec.base}'`);
  } else base = spec.base;
  return defineVariant({ ...spec, base } as VariantSpec);
}

/**
 * What went wrong loading a module, in one line with where: a syntax error's file:line:column
 * (the loader reports it on a line of its own), or the module's frame of the stack.
 */
export function loadError(e: unknown, file: string): string {
  if (!(e instanceof Error)) return String(e);
  const lines = e.message.split('\n').map((l) => l.trim()).filter(Boolean);
  const located = lines.find((l) => /:\d+:\d+: /.test(l));
  if (located) return located.replace(/^file:\/\//, '');
  const frame = (e.stack ?? '').split('\n').find((l) => l.includes(file) || l.includes(pathToFileURL(file).href));
  const at = frame ? /((?:file:\/\/)?[^\s()]+:\d+:\d+)/.exec(frame)?.[1] : undefined;
  return `${lines[0] ?? e.name}${at ? ` (at ${at.replace(/^file:\/\//, '')})` : ''}`;
}
