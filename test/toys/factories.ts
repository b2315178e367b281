/**
 * Toy models and properties as a factory the parallel search's workers can import: each worker
 * calls `toy(spec)` with the same JSON spec and builds the same model. `toySearch` is the same for
 * the caller (to run the sequential search or replay a path).
 */
import type { ModelFactory } from '../../checker/parallel.ts';
import type { Model, Property, StepDelta } from '../../checker/index.ts';
import { binaryTreeModel } from './binaryTree.ts';
import { counterModel } from './counter.ts';
import { diamondsModel } from './diamonds.ts';
import { graphModel, type Graph } from './graph.ts';
import { gridModel, type Cell, type GridAction } from './grid.ts';
import { ownModel, ownProperties, type OwnVariant } from './own.ts';
import { twoInitsModel } from './twoInits.ts';
import { withoutDecode } from './util.ts';

export type ToySpec =
  | {
      readonly toy: 'own';
      readonly pages: number;
      readonly guests: number;
      readonly variant?: OwnVariant;
      readonly symmetricGuests?: boolean;
      /** A state property that fails on every state (its key: the state), so that every state's path is reported. */
      readonly everyState?: boolean;
      /** States as their encodings, steps also given as bytes written (Model.stepDelta, stepDeltas). */
      readonly bytes?: boolean;
    }
  | { readonly toy: 'grid'; readonly w: number; readonly h: number; readonly props?: 'all' | 'none' }
  | { readonly toy: 'counter'; readonly n: number; readonly wrap?: boolean; readonly last?: boolean }
  | { readonly toy: 'tree'; readonly d: number }
  | { readonly toy: 'diamonds'; readonly k: number; readonly selfLoop: 'same' | 'copy' }
  | { readonly toy: 'twoInits' }
  | { readonly toy: 'graph'; readonly graph: Graph; readonly bad: number }
  /** Fails: in the factory, in `step` after `after` calls (in worker 0 only, or everywhere), or has no `decode`. */
  | { readonly toy: 'broken'; readonly how: 'factory' | 'step' | 'no-decode'; readonly after?: number };

type AnyModel = Model<unknown, unknown, unknown>;

const EVERY_STATE: Property<unknown, unknown, unknown> = { kind: 'state', name: 'every-state', description: 'fails everywhere', check: (s) => ({ message: 'here', key: JSON.stringify(s) }) };
type AnyProps = Property<unknown, unknown, unknown>[];

const gridProps = (w: number, h: number): Property<Cell, GridAction, GridAction>[] => [
  { kind: 'state', name: 'sum-below-3', description: '', check: (s) => (s.x + s.y >= 3 ? { message: `(${s.x},${s.y})`, key: `x=${s.x}` } : null) },
  { kind: 'step', name: 'no-wrap', description: '', check: (b, a, o, s) => (a === 'wrap' ? { message: `(${b.x},${b.y}) -> (${s.x},${s.y}) ${o}` } : null) },
  {
    kind: 'step',
    name: 'no-stay-on-diagonal',
    description: '',
    check: (b, a, _o, s) => (a === 'stay' && b.x === b.y ? { message: `stay at ${b.x}`, key: `d=${s.x}` } : null),
  },
  { kind: 'reachable', name: 'reach-corner', description: '', holds: (s) => s.x === w - 1 && s.y === h - 1 },
  { kind: 'reachable', name: 'reach-origin', description: '', holds: (s) => s.x === 0 && s.y === 0 },
  { kind: 'reachable', name: 'reach-outside', description: '', holds: (s) => s.x >= w },
];

/** Own with guests interchangeable: the canonical form renumbers guests by first appearance (owner, then shared, per page). */
function symmetricOwn(spec: { pages: number; guests: number; variant?: OwnVariant }): AnyModel {
  const m = ownModel(spec) as unknown as AnyModel;
  const P = spec.pages;
  const G = spec.guests;
  m.canonicalize = (b: Uint8Array) => {
    const map = new Array<number>(G).fill(-1);
    let next = 0;
    const out = new Uint8Array(b.length);
    for (let p = 0; p < P; p++)
      for (const at of [p, P + p]) {
        const g = b[at];
        if (g === 255) out[at] = 255;
        else {
          if (map[g] < 0) map[g] = next++;
          out[at] = map[g];
        }
      }
    for (let g = 0; g < G; g++) if (map[g] < 0) map[g] = next++;
    for (let g = 0; g < G; g++) out[2 * P + map[g]] = b[2 * P + g];
    return out;
  };
  return m;
}

export function toySearch(spec: ToySpec): { model: AnyModel; properties: AnyProps } {
  const as = (model: unknown, properties: readonly unknown[]) => ({ model: model as AnyModel, properties: properties as AnyProps });
  switch (spec.toy) {
    case 'own': {
      const props = spec.everyState ? [...ownProperties, EVERY_STATE] : ownProperties;
      if (spec.bytes) return asBytes(ownModel(spec) as unknown as AnyModel, props as unknown as AnyProps);
      return as(spec.symmetricGuests ? symmetricOwn(spec) : ownModel(spec), props);
    }
    case 'grid':
      return as(gridModel(spec.w, spec.h), spec.props === 'none' ? [] : gridProps(spec.w, spec.h));
    case 'counter':
      return as(
        counterModel(spec.n, { wrap: spec.wrap }),
        spec.last ? [{ kind: 'reachable', name: 'last', description: 'N-1', holds: (s: number) => s === spec.n - 1 }] : [],
      );
    case 'tree':
      return as(binaryTreeModel(spec.d), [{ kind: 'reachable', name: 'leaf5', description: '', holds: (s: { level: number; index: number }) => s.level === spec.d && s.index === 5 }]);
    case 'diamonds':
      return as(diamondsModel(spec.k, { selfLoop: spec.selfLoop }), []);
    case 'twoInits':
      return as(twoInitsModel(), [{ kind: 'reachable', name: 'twelve', description: '', holds: (s: { x: number }) => s.x === 12 }]);
    case 'graph': {
      const bad = spec.bad;
      return as(graphModel(spec.graph), [
        { kind: 'state', name: 'not-bad', description: '', check: (n: number) => (n === bad ? { message: `reached ${bad}` } : null) },
        { kind: 'step', name: 'no-edge-into-bad', description: '', check: (_f: number, _t: number, _o: null, after: number) => (after === bad ? { message: `edge into ${bad}` } : null) },
        { kind: 'reachable', name: 'reach-bad', description: '', holds: (n: number) => n === bad },
      ]);
    }
    case 'broken': {
      if (spec.how === 'factory') throw new Error('this factory always fails');
      const m = counterModel(1000);
      if (spec.how === 'no-decode') return as(withoutDecode(m), []);
      let calls = 0;
      const step = m.step.bind(m);
      m.step = (s, a) => {
        if (++calls > (spec.after ?? 0)) throw new Error(`step failed after ${spec.after ?? 0} calls`);
        return step(s, a);
      };
      return as(m, []);
    }
  }
}

/** A model over its encodings, with steps as bytes written (diffed from its steps), and its properties over them. */
function asBytes(m: AnyModel, props: AnyProps): { model: AnyModel; properties: AnyProps } {
  const dec = (b: unknown) => m.decode!(b as Uint8Array);
  const delta = (b: Uint8Array, a: unknown): StepDelta<unknown> => {
    const { state, outcome } = m.step(dec(b), a);
    const n = m.encode(state);
    const offsets: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < n.length; i++)
      if (n[i] !== b[i]) {
        offsets.push(i);
        values.push(n[i]);
      }
    return { offsets, values, outcome, memo: undefined };
  };
  const model: AnyModel = {
    initialStates: () => m.initialStates().map((s) => m.encode(s)),
    actions: (b) => m.actions(dec(b)),
    step(b, a) {
      const { state, outcome } = m.step(dec(b), a);
      const n = m.encode(state);
      return { state: n.every((x, i) => x === (b as Uint8Array)[i]) ? b : n, outcome };
    },
    encode: (b) => b as Uint8Array,
    decode: (b) => b,
    describeAction: m.describeAction ? (a) => m.describeAction!(a) : undefined,
  } as AnyModel;
  (model as { stepDelta?: unknown }).stepDelta = (b: Uint8Array, a: unknown) => delta(b, a);
  (model as { stepDeltas?: unknown }).stepDeltas = (b: Uint8Array, out: StepDelta<unknown>[]) => {
    const acts = m.actions(dec(b));
    for (let i = 0; i < acts.length; i++) out[i] = delta(b, acts[i]);
    return acts.length;
  };
  const properties = props.map((p) =>
    p.kind === 'state'
      ? { ...p, check: (b: unknown) => p.check(dec(b)) }
      : p.kind === 'reachable'
        ? { ...p, holds: (b: unknown) => p.holds(dec(b)) }
        : p.kind === 'recoverable'
          ? { ...p, pending: (b: unknown) => p.pending(dec(b)), discharged: (b: unknown) => p.discharged(dec(b)) }
          : { ...p, check: (b: unknown, a: unknown, o: unknown, c: unknown) => p.check(dec(b), a, o, dec(c)) },
  ) as AnyProps;
  return { model, properties };
}

/** What the workers call. */
export function toy(spec: ToySpec): { model: AnyModel; properties: AnyProps } {
  return toySearch(spec);
}

export function toyFactory(spec: ToySpec): ModelFactory {
  return { module: import.meta.url, export: 'toy', args: spec };
}
