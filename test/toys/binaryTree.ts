/**
 * A complete binary tree of depth d: a state is a node (level, index); `left` and `right` lead to
 * its children while level < d. 2^(d+1)-1 states, 2^(d+1)-2 transitions, 2^k states at level k.
 */
import type { Model } from '../../checker/index.ts';

export interface TreeNode {
  readonly level: number;
  readonly index: number;
}

export type TreeAction = 'left' | 'right';

export function binaryTreeModel(d: number, opts: { decode?: boolean } = {}): Model<TreeNode, TreeAction, null> {
  const model: Model<TreeNode, TreeAction, null> = {
    initialStates: () => [{ level: 0, index: 0 }],
    actions: (s) => (s.level < d ? ['left', 'right'] : []),
    step: (s, a) => ({ state: { level: s.level + 1, index: 2 * s.index + (a === 'right' ? 1 : 0) }, outcome: null }),
    encode: (s) => {
      const b = new Uint8Array(5);
      b[0] = s.level;
      new DataView(b.buffer).setUint32(1, s.index, true);
      return b;
    },
    describeAction: (a) => a,
  };
  if (opts.decode ?? true) model.decode = (b) => ({ level: b[0], index: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1, true) });
  return model;
}
