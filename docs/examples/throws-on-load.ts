// A module whose default export throws while the variant is built.
import type { VariantApi } from '../../cli/variants.ts';

export default ({ variants }: VariantApi) => {
  const base = variants['rfc-v1-fixd' as keyof typeof variants];
  if (!base) throw new Error("no built-in variant 'rfc-v1-fixd'");
  return { name: 'never', description: 'never built', base };
};
