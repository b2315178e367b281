/**
 * A W x H grid walked from (0,0): `right` (x+1, while x < W-1), `up` (y+1, while y < H-1),
 * `wrap` (from x = W-1 back to x = 0; always to an already-visited state), and `stay` (a
 * self-loop, returning the same object). The BFS distance of (x,y) is x+y. The step outcome is
 * the action's name.
 *
 * States W*H. Transitions: right W-1 per row, up H-1 per column, wrap one per row, stay one per
 * state: H(W-1) + W(H-1) + H + WH.
 */
import type { Model } from '../../checker/index.ts';

export interface Cell {
  readonly x: number;
  readonly y: number;
}

export type GridAction = 'right' | 'up' | 'wrap' | 'stay';

export function gridModel(w: number, h: number, opts: { decode?: boolean } = {}): Model<Cell, GridAction, GridAction> {
  const model: Model<Cell, GridAction, GridAction> = {
    initialStates: () => [{ x: 0, y: 0 }],
    actions(s) {
      const out: GridAction[] = [];
      if (s.x < w - 1) out.push('right');
      if (s.y < h - 1) out.push('up');
      if (s.x === w - 1) out.push('wrap');
      out.push('stay');
      return out;
    },
    step(s, a) {
      switch (a) {
        case 'right':
          return { state: { x: s.x + 1, y: s.y }, outcome: a };
        case 'up':
          return { state: { x: s.x, y: s.y + 1 }, outcome: a };
        case 'wrap':
          return { state: { x: 0, y: s.y }, outcome: a };
        case 'stay':
          return { state: s, outcome: a };
      }
    },
    encode: (s) => new Uint8Array([s.x, s.y]),
    describeAction: (a) => a,
  };
  if (opts.decode ?? true) model.decode = (b) => ({ x: b[0], y: b[1] });
  return model;
}
