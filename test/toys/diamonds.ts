/**
 * A chain of k diamonds with a self-loop on every node.
 *
 *   J0 -up-> U0 -join-> J1 -up-> U1 -join-> J2 ...  Jk
 *   J0 -down-> D0 -join-> J1 ...
 *
 * Every node also has `stay`, a self-loop. With selfLoop 'same' the step returns the very same
 * state object; with 'copy' it returns an equal, new object (so only the encoding shows it is a
 * self-loop).
 *
 * States: 3k+1 (k+1 junctions, 2k sides). Transitions: 7k+1 (junctions J0..J(k-1): up, down,
 * stay; sides: join, stay; Jk: stay). Depth 2k. Levels: 1, 2, 1, 2, ..., 1.
 */
import type { Model } from '../../checker/index.ts';

export interface DiamondNode {
  /** Diamond index (junction index for junctions). */
  readonly i: number;
  readonly pos: 'junction' | 'up' | 'down';
}

export type DiamondAction = 'up' | 'down' | 'join' | 'stay';

export interface DiamondOptions {
  readonly selfLoop?: 'same' | 'copy';
  readonly decode?: boolean;
}

const POS = ['junction', 'up', 'down'] as const;

export function diamondsModel(k: number, opts: DiamondOptions = {}): Model<DiamondNode, DiamondAction, null> {
  const same = (opts.selfLoop ?? 'same') === 'same';
  const model: Model<DiamondNode, DiamondAction, null> = {
    initialStates: () => [{ i: 0, pos: 'junction' }],
    actions(s) {
      if (s.pos !== 'junction') return ['join', 'stay'];
      return s.i < k ? ['up', 'down', 'stay'] : ['stay'];
    },
    step(s, a) {
      switch (a) {
        case 'stay':
          return { state: same ? s : { i: s.i, pos: s.pos }, outcome: null };
        case 'up':
        case 'down':
          return { state: { i: s.i, pos: a }, outcome: null };
        case 'join':
          return { state: { i: s.i + 1, pos: 'junction' }, outcome: null };
      }
    },
    encode: (s) => new Uint8Array([s.i, POS.indexOf(s.pos)]),
    describeAction: (a) => a,
  };
  if (opts.decode ?? true) model.decode = (b) => ({ i: b[0], pos: POS[b[1]] });
  return model;
}
