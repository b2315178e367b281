/**
 * The synchronous product of two models that share an action vocabulary: both take the same
 * action (matched by a key) in lockstep. Used to compare two versions of a protocol: a property
 * of the product's steps says where they disagree, and breadth-first search finds the shortest
 * sequence that shows it.
 */
import type { Model, Step } from './types.ts';

export interface Pair<SA, SB> {
  readonly a: SA;
  readonly b: SB;
}

export interface PairAction<A> {
  readonly key: string;
  /** The action as each side sees it; null where one side cannot take it. */
  readonly a: A | null;
  readonly b: A | null;
}

export interface PairOutcome<OA, OB> {
  readonly a: OA | null;
  readonly b: OB | null;
}

/**
 * `key` names an action the same way on both sides; `shared` says which actions the comparison
 * considers (both sides must know them). An action enabled on one side only is kept, with null on
 * the other side, so that a property can report it.
 */
export function productModel<SA, SB, A, OA, OB>(
  ma: Model<SA, A, OA>,
  mb: Model<SB, A, OB>,
  key: (a: A) => string,
  shared: (a: A) => boolean,
): Model<Pair<SA, SB>, PairAction<A>, PairOutcome<OA, OB>> {
  const ia = ma.initialStates();
  const ib = mb.initialStates();
  return {
    initialStates() {
      const out: Pair<SA, SB>[] = [];
      for (const a of ia) for (const b of ib) out.push({ a, b });
      return out;
    },
    actions(s) {
      const bs = new Map<string, A>();
      for (const x of mb.actions(s.b)) if (shared(x)) bs.set(key(x), x);
      const out: PairAction<A>[] = [];
      for (const x of ma.actions(s.a)) {
        if (!shared(x)) continue;
        const k = key(x);
        out.push({ key: k, a: x, b: bs.get(k) ?? null });
        bs.delete(k);
      }
      for (const [k, x] of bs) out.push({ key: k, a: null, b: x });
      return out;
    },
    step(s, act): Step<Pair<SA, SB>, PairOutcome<OA, OB>> {
      const ra = act.a ? ma.step(s.a, act.a) : null;
      const rb = act.b ? mb.step(s.b, act.b) : null;
      const next = { a: ra ? ra.state : s.a, b: rb ? rb.state : s.b };
      return { state: next, outcome: { a: ra ? ra.outcome : null, b: rb ? rb.outcome : null } };
    },
    encode(s) {
      const x = ma.encode(s.a);
      const y = mb.encode(s.b);
      const out = new Uint8Array(4 + x.length + y.length);
      new DataView(out.buffer).setUint32(0, x.length);
      out.set(x, 4);
      out.set(y, 4 + x.length);
      return out;
    },
    // (the parallel search and the frontier keep encodings: a pair decodes when both sides do)
    ...(ma.decode && mb.decode
      ? {
          decode(bytes: Uint8Array): Pair<SA, SB> {
            const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
            return { a: ma.decode!(bytes.slice(4, 4 + n)), b: mb.decode!(bytes.slice(4 + n)) };
          },
        }
      : {}),
    describeAction: (act) => act.key,
  };
}
