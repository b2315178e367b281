// A replacement that calls a helper that does not exist: a TypeScript exception inside a piece
// is a bug of the variant, never a modelled outcome, and the run stops on the first one.
import type { Hyp } from '../../model/kernel/hyp.ts';

export default {
  name: 'thrower',
  description: 'rfc-v1-fixed whose __pkvm_host_share_hyp calls a misspelt helper',
  base: 'rfc-v1-fixed',
  replace: {
    __pkvm_host_share_hyp(this: Hyp, pfn: number): number {
      return (this as unknown as Record<string, (pfn: number) => number>).__pkvm_host_share_hyp_locked(pfn);
    },
  },
};
