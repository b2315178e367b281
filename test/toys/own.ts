/**
 * The "Own" cross-check model (team reference notes; counts confirmed by TLC and SPIN).
 *
 * P pages, G guests (numbered 0..G-1). Each page is host-exclusive, owned by guest g, or
 * host-owned and shared with guest g. cnt[g] is the number of pages guest g owns.
 *
 *   donate(p, g): page host-exclusive          -> owned by g, cnt[g] += 1
 *   reclaim(p):   page owned by a guest         -> host-exclusive, cnt[owner] -= 1
 *   share(p, g):  page host-exclusive           -> host-owned, shared with g
 *   unshare(p):   page shared                   -> host-exclusive
 *
 * Reachable states: (1 + 2G)^P. Transitions: P * 4G * (1 + 2G)^(P-1). BFS depth: P.
 *
 * The variant 'share-skips-owner-check' enables share(p, g) on any page that is not shared,
 * even one a guest owns, so donate(p, g); share(p, g) reaches a page owned and shared at once.
 */
import type { Model, Property, StateProperty } from '../../checker/index.ts';

export const HOST = 255;
export const NONE = 255;

export interface OwnState {
  /** owner[p]: HOST or a guest number. */
  readonly owner: readonly number[];
  /** shared[p]: NONE or the guest the page is shared with. */
  readonly shared: readonly number[];
  /** cnt[g]: pages guest g owns. */
  readonly cnt: readonly number[];
}

export type OwnAction =
  | { readonly kind: 'donate'; readonly page: number; readonly guest: number }
  | { readonly kind: 'reclaim'; readonly page: number }
  | { readonly kind: 'share'; readonly page: number; readonly guest: number }
  | { readonly kind: 'unshare'; readonly page: number };

export type OwnVariant = 'correct' | 'share-skips-owner-check';

export interface OwnOptions {
  readonly pages: number;
  readonly guests: number;
  readonly variant?: OwnVariant;
  /** Provide `decode` (default true), so the checker keeps encodings in its frontier. */
  readonly decode?: boolean;
}

export function describeOwnAction(a: OwnAction): string {
  switch (a.kind) {
    case 'donate':
    case 'share':
      return `${a.kind}(${a.page},${a.guest})`;
    default:
      return `${a.kind}(${a.page})`;
  }
}

export function ownModel(opts: OwnOptions): Model<OwnState, OwnAction, null> {
  const P = opts.pages;
  const G = opts.guests;
  const buggyShare = opts.variant === 'share-skips-owner-check';

  // Actions are built once: their order is fixed (page-major: donate g.., share g.., reclaim, unshare).
  const donate: OwnAction[][] = [];
  const share: OwnAction[][] = [];
  const reclaim: OwnAction[] = [];
  const unshare: OwnAction[] = [];
  for (let p = 0; p < P; p++) {
    donate.push(Array.from({ length: G }, (_, g) => ({ kind: 'donate', page: p, guest: g }) as const));
    share.push(Array.from({ length: G }, (_, g) => ({ kind: 'share', page: p, guest: g }) as const));
    reclaim.push({ kind: 'reclaim', page: p });
    unshare.push({ kind: 'unshare', page: p });
  }

  const model: Model<OwnState, OwnAction, null> = {
    initialStates: () => [
      { owner: new Array<number>(P).fill(HOST), shared: new Array<number>(P).fill(NONE), cnt: new Array<number>(G).fill(0) },
    ],
    actions(s) {
      const out: OwnAction[] = [];
      for (let p = 0; p < P; p++) {
        const hostOwned = s.owner[p] === HOST;
        const notShared = s.shared[p] === NONE;
        if (hostOwned && notShared) for (const a of donate[p]) out.push(a);
        if (notShared && (hostOwned || buggyShare)) for (const a of share[p]) out.push(a);
        if (!hostOwned) out.push(reclaim[p]);
        if (!notShared) out.push(unshare[p]);
      }
      return out;
    },
    step(s, a) {
      const owner = s.owner.slice();
      const shared = s.shared.slice();
      const cnt = s.cnt.slice();
      switch (a.kind) {
        case 'donate':
          owner[a.page] = a.guest;
          cnt[a.guest]++;
          break;
        case 'reclaim':
          cnt[owner[a.page]]--;
          owner[a.page] = HOST;
          break;
        case 'share':
          shared[a.page] = a.guest;
          break;
        case 'unshare':
          shared[a.page] = NONE;
          break;
      }
      return { state: { owner, shared, cnt }, outcome: null };
    },
    encode(s) {
      const b = new Uint8Array(2 * P + G);
      for (let p = 0; p < P; p++) {
        b[p] = s.owner[p];
        b[P + p] = s.shared[p];
      }
      for (let g = 0; g < G; g++) b[2 * P + g] = s.cnt[g];
      return b;
    },
    describeAction: describeOwnAction,
  };
  if (opts.decode ?? true)
    model.decode = (b) => ({
      owner: Array.from(b.subarray(0, P)),
      shared: Array.from(b.subarray(P, 2 * P)),
      cnt: Array.from(b.subarray(2 * P, 2 * P + G)),
    });
  return model;
}

/** Never owned by a guest and shared at once. */
export const ownedNotShared: StateProperty<OwnState> = {
  kind: 'state',
  name: 'owned-not-shared',
  description: 'no page is owned by a guest and shared at once',
  check(s) {
    for (let p = 0; p < s.owner.length; p++)
      if (s.owner[p] !== HOST && s.shared[p] !== NONE)
        return { message: `page ${p} is owned by guest ${s.owner[p]} and shared with guest ${s.shared[p]}`, key: `page ${p}` };
    return null;
  },
};

/** cnt[g] is the number of pages guest g owns. */
export const countMatches: StateProperty<OwnState> = {
  kind: 'state',
  name: 'count-matches',
  description: 'cnt[g] = number of pages guest g owns',
  check(s) {
    for (let g = 0; g < s.cnt.length; g++) {
      let n = 0;
      for (const o of s.owner) if (o === g) n++;
      if (n !== s.cnt[g]) return { message: `guest ${g} owns ${n} pages, cnt says ${s.cnt[g]}`, key: `guest ${g}` };
    }
    return null;
  },
};

export const ownProperties: readonly Property<OwnState, OwnAction, null>[] = [ownedNotShared, countMatches];

/** Closed forms for the correct model. */
export function ownCounts(P: number, G: number): { states: number; transitions: number; depth: number; levels: number[] } {
  const k = 1 + 2 * G;
  const levels: number[] = [];
  for (let i = 0; i <= P; i++) levels.push(binomial(P, i) * (2 * G) ** i);
  return { states: k ** P, transitions: P * 4 * G * k ** (P - 1), depth: P, levels };
}

export function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
