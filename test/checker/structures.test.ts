/** FingerprintSet and ParentLinks on their own. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, collisionProbability, FingerprintSet, fingerprint, ParentLinks } from '../../checker/index.ts';
import { ownModel, ownProperties } from '../toys/own.ts';
import { withoutDecode } from '../toys/util.ts';
import { SharedVisited } from '../../checker/parallel-shared.ts';

const u32 = fc.oneof(fc.constantFrom(0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat({ max: 0xffffffff }), fc.nat({ max: 15 }));
/** A 64-bit value as (hi, lo); the all-zero value, which marks empty slots, included. */
const fp64 = fc.tuple(u32, u32);
const key = (hi: number, lo: number) => `${hi}:${lo}`;

describe('FingerprintSet', () => {
  it('add returns true exactly once per distinct 64-bit value; size, has and growth agree (property)', () => {
    fc.assert(
      fc.property(fc.array(fp64, { maxLength: 300 }), fc.constantFrom(0, 1, 2, 8, 1 << 16), fp64, (values, capacity, probe) => {
        const set = new FingerprintSet(capacity);
        const seen = new Set<string>();
        for (const [hi, lo] of values) {
          const fresh = !seen.has(key(hi, lo));
          expect(set.add(hi, lo)).toBe(fresh);
          seen.add(key(hi, lo));
          expect(set.size).toBe(seen.size);
        }
        for (const [hi, lo] of values) {
          expect(set.has(hi, lo)).toBe(true);
          expect(set.add(hi, lo)).toBe(false);
        }
        expect(set.has(probe[0], probe[1])).toBe(seen.has(key(probe[0], probe[1])));
        expect(set.size).toBe(seen.size);
        // load stays at or under 3/4 (8 bytes per slot)
        expect(set.size * 4).toBeLessThanOrEqual((set.bytes / 8) * 3);
      }),
    );
  });

  it('growth from capacity 1 to 100 000 members keeps them all, at 16 bytes per member or less', () => {
    const set = new FingerprintSet(1);
    expect(set.bytes).toBe(32);
    const fp = new Uint32Array(2);
    const bytes = new Uint8Array(4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 100_000; i++) {
      view.setUint32(0, i, true);
      fingerprint(bytes, fp);
      if (!set.add(fp[0], fp[1])) throw new Error(`member ${i} was taken as present`);
    }
    expect(set.size).toBe(100_000);
    // the load stays between 1/2 and 3/4 once grown: 10.7 to 16 bytes per member
    expect(set.bytes / set.size).toBeLessThanOrEqual(16);
    expect(set.bytes / set.size).toBeGreaterThanOrEqual(32 / 3);
    for (let i = 0; i < 100_000; i++) {
      view.setUint32(0, i, true);
      fingerprint(bytes, fp);
      if (!set.has(fp[0], fp[1]) || set.add(fp[0], fp[1])) throw new Error(`lost member ${i}`);
    }
    expect(set.size).toBe(100_000);
  });

  it('the all-zero fingerprint is stored, found, and survives growth', () => {
    const set = new FingerprintSet(1);
    expect(set.has(0, 0)).toBe(false);
    expect(set.add(0, 0)).toBe(true);
    expect(set.add(0, 0)).toBe(false);
    expect(set.has(0, 0)).toBe(true);
    expect(set.size).toBe(1);
    for (let i = 1; i <= 1000; i++) expect(set.add(i, i * 7)).toBe(true);
    expect(set.size).toBe(1001);
    expect(set.has(0, 0)).toBe(true);
    expect(set.add(0, 0)).toBe(false);
    expect(set.has(0, 2)).toBe(false);
  });

  // The all-zero value marks empty slots; it is kept apart, not remapped onto another value.
  it('distinct values 0 and 1 (hi 0, lo 0 / hi 0, lo 1) are both added', () => {
    const set = new FingerprintSet();
    expect(set.add(0, 0)).toBe(true);
    expect(set.has(0, 1)).toBe(false);
    expect(set.add(0, 1)).toBe(true);
    expect(set.size).toBe(2);
  });
});

describe('SharedVisited (the parallel search\'s visited set in shared memory)', () => {
  it('against a map: numbers in insertion order, found again after rebuilding (larger, or dropping the states from a number on) (property)', () => {
    // commands: visit a fingerprint, or rebuild (growing by a factor, keeping the states numbered below a fraction of the count)
    const cmd = fc.oneof(
      { weight: 12, arbitrary: fp64.map(([hi, lo]) => ({ visit: [hi | 0, lo | 0] as const })) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(1, 2, 4), fc.double({ min: 0, max: 1, noNaN: true })).map(([grow, keep]) => ({ grow, keep })) },
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 300 }), (cmds) => {
        let table = SharedVisited.create(8);
        /** fingerprint -> number */
        const model = new Map<string, number>();
        for (const c of cmds) {
          if ('grow' in c) {
            const below = Math.floor(model.size * c.keep);
            table = table.rebuilt(table.cap * c.grow, below);
            for (const [k, n] of model) if (n >= below) model.delete(k);
            expect(table.count).toBe(model.size);
            continue;
          }
          const [hi, lo] = c.visit;
          // as the coordinator does between rounds: room before it is needed
          if (model.size + 1 > table.cap * 0.75) table = table.rebuilt(table.cap * 2, model.size);
          const got = table.visit(hi, lo);
          const want = model.get(key(hi, lo));
          if (want === undefined) {
            expect(got).toBe(-model.size - 1);
            model.set(key(hi, lo), model.size);
          } else expect(got).toBe(want);
          expect(table.count).toBe(model.size);
        }
        for (const [k, n] of model) {
          const [hi, lo] = k.split(':').map(Number);
          expect(table.visit(hi, lo)).toBe(n);
        }
      }),
      { seed: 20261125 },
    );
  });
});

describe('SharedVisited as the workers use it', () => {
  it('two threads\' views numbering in blocks, then moved into a larger table in ranges: numbers unique, every state found from either view (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fp64), { maxLength: 300 }), fc.constantFrom(1, 4, 64), fc.integer({ min: 1, max: 4 }), (visits, block, ranges) => {
        const first = SharedVisited.create(1024);
        // two workers: views of the same slots and header, each with its own block of numbers
        const views = [new SharedVisited(first.slots, first.head, block), new SharedVisited(first.slots, first.head, block)];
        const numbers = new Map<string, number>();
        for (const [which, [hi, lo]] of visits) {
          const v = views[which ? 1 : 0].visit(hi | 0, lo | 0);
          const k = key(hi | 0, lo | 0);
          if (v < 0) {
            expect(numbers.has(k)).toBe(false);
            numbers.set(k, -v - 1);
          } else expect(v).toBe(numbers.get(k));
        }
        expect(new Set(numbers.values()).size).toBe(numbers.size);
        for (const n of numbers.values()) expect(n).toBeLessThan(first.count);
        // grown as between rounds: an empty table, the old slots moved in by `ranges` workers
        const below = first.count;
        const grown = first.emptied(4096, below);
        for (let r = 0; r < ranges; r++) grown.reinsert(first.slots, Math.floor((first.cap * r) / ranges), Math.floor((first.cap * (r + 1)) / ranges), below);
        const after = [new SharedVisited(grown.slots, grown.head, block), new SharedVisited(grown.slots, grown.head, block)];
        for (const [k, n] of numbers) {
          const [hi, lo] = k.split(':').map(Number);
          expect(after[n % 2].visit(hi, lo)).toBe(n);
        }
        // a new state after the move gets a number not taken
        after[0].newBlock();
        const fresh = after[0].visit(0x7fffffff, 0x7ffffffe);
        if (!numbers.has(key(0x7fffffff, 0x7ffffffe))) expect([...numbers.values()]).not.toContain(-fresh - 1);
      }),
      { seed: 20261126 },
    );
  });
});

describe('fingerprint', () => {
  it('is deterministic and separates byte strings that differ only in length or position', () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    const pairs: [number[], number[]][] = [
      [[], [0]],
      [[0], [0, 0]],
      [[1, 0], [0, 1]],
      [[1, 2, 3, 4], [1, 2, 3, 4, 0]],
    ];
    for (const [x, y] of pairs) {
      fingerprint(new Uint8Array(x), a);
      fingerprint(new Uint8Array(x), b);
      expect([...a]).toEqual([...b]);
      fingerprint(new Uint8Array(y), b);
      expect([...a]).not.toEqual([...b]);
    }
  });

  it('has no collision among the 65 536 two-byte strings and the 256 one-byte strings', () => {
    const set = new FingerprintSet();
    const fp = new Uint32Array(2);
    for (let i = 0; i < 256; i++) {
      fingerprint(new Uint8Array([i]), fp);
      expect(set.add(fp[0], fp[1])).toBe(true);
    }
    for (let i = 0; i < 65536; i++) {
      fingerprint(new Uint8Array([i & 255, i >> 8]), fp);
      if (!set.add(fp[0], fp[1])) throw new Error(`collision at ${i}`);
    }
    expect(set.size).toBe(256 + 65536);
  });

  it('collisionProbability is stored * lookups / 2^64, capped at 1', () => {
    expect(collisionProbability(0, 10)).toBe(0);
    expect(collisionProbability(2 ** 32, 2 ** 32)).toBe(1);
    expect(collisionProbability(2 ** 40, 2 ** 40)).toBe(1);
    expect(collisionProbability(823_543, 9_882_516)).toBeCloseTo((823_543 * 9_882_516) / 2 ** 64, 20);
  });
});

describe('ParentLinks', () => {
  /** A random forest: roots (parent -1, action = initial index), then nodes whose parent is an earlier id. */
  const forestArb = fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 1000 })), { maxLength: 200 }))
    .map(([roots, rest]) => {
      const parent: number[] = [];
      const action: number[] = [];
      for (let r = 0; r < roots; r++) {
        parent.push(-1);
        action.push(r);
      }
      for (const [p, a] of rest) {
        parent.push(p % parent.length);
        action.push(a);
      }
      return { parent, action };
    });

  it('rebuilds every path, with and without an extra action (property)', () => {
    fc.assert(
      fc.property(forestArb, fc.nat({ max: 50 }), ({ parent, action }, extra) => {
        const links = new ParentLinks();
        parent.forEach((p, i) => expect(links.add(p, action[i])).toBe(i));
        expect(links.size).toBe(parent.length);
        for (let id = 0; id < parent.length; id++) {
          const actions: number[] = [];
          let cur = id;
          while (parent[cur] >= 0) {
            actions.unshift(action[cur]);
            cur = parent[cur];
          }
          expect(links.path(id)).toEqual({ init: action[cur], actions });
          expect(links.path(id, extra)).toEqual({ init: action[cur], actions: [...actions, extra] });
        }
      }),
    );
  });

  it('grows past its initial 65 536 entries: a chain of 200 000', () => {
    const links = new ParentLinks();
    expect(links.add(-1, 3)).toBe(0);
    for (let i = 1; i < 200_000; i++) links.add(i - 1, i % 7);
    expect(links.size).toBe(200_000);
    expect(links.bytes).toBe(2 * 4 * 262_144);
    const p = links.path(199_999, 5);
    expect(p.init).toBe(3);
    expect(p.actions).toHaveLength(200_000);
    expect(p.actions.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 0, 1]);
    expect(p.actions.at(-2)).toBe(199_999 % 7);
    expect(p.actions.at(-1)).toBe(5);
    expect(links.path(65_536)).toEqual({ init: 3, actions: Array.from({ length: 65_536 }, (_, i) => (i + 1) % 7) });
  });

  it('an initial state has an empty path; with an extra action, a one-step path', () => {
    const links = new ParentLinks();
    links.add(-1, 0);
    links.add(-1, 5);
    expect(links.path(1)).toEqual({ init: 5, actions: [] });
    expect(links.path(1, 2)).toEqual({ init: 5, actions: [2] });
  });
});

describe('the frontier of encodings (byte chunks)', () => {
  it('encodings of many lengths, levels of up to 40,000 states: the same search as with states in the frontier', () => {
    // states are numbers 0..N-1; n -> 2n+1, 2n+2 (a binary tree); encodings are 1..3000 bytes long
    const N = 60_000;
    const enc = (n: number) => {
      const len = 4 + ((n * 7919) % 2997);
      const b = new Uint8Array(len);
      b[0] = n & 0xff;
      b[1] = (n >>> 8) & 0xff;
      b[2] = n >>> 16;
      for (let i = 3; i < len; i++) b[i] = (n + i) & 0xff;
      return b;
    };
    const model = {
      initialStates: () => [0],
      actions: (n: number) => [2 * n + 1, 2 * n + 2].filter((m) => m < N),
      step: (_n: number, m: number) => ({ state: m, outcome: null }),
      encode: enc,
      decode: (b: Uint8Array) => {
        const n = b[0] | (b[1] << 8) | (b[2] << 16);
        // the bytes read back are the bytes written
        for (let i = 3; i < b.length; i++) if (b[i] !== ((n + i) & 0xff)) throw new Error(`state ${n}: byte ${i} corrupted`);
        if (b.length !== 4 + ((n * 7919) % 2997)) throw new Error(`state ${n}: length ${b.length}`);
        return n;
      },
    };
    const bad = { kind: 'state' as const, name: 'not-last', description: '', check: (n: number) => (n === N - 1 ? { message: 'last' } : null) };
    const a = check(model, [bad]);
    const b = check(withoutDecode(model), [bad]);
    expect(a.stats.distinctStates).toBe(b.stats.distinctStates);
    expect(a.stats.levels).toEqual(b.stats.levels);
    expect(a.status === 'violation' && a.violations[0].path).toEqual(b.status === 'violation' && b.violations[0].path);
    expect(a.stats.distinctStates).toBeGreaterThan(N / 2);
    // the same levels written to disk beyond 64 KiB (and beyond nothing at all) and read back
    for (const limitBytes of [0, 1 << 16]) {
      const c = check(model, [bad], { frontierSpill: { limitBytes } });
      expect(c.stats.spilled!.chunks).toBeGreaterThan(3);
      expect(c.stats.spilled!.bytes).toBeGreaterThan(1 << 20);
      expect(c.stats.distinctStates).toBe(a.stats.distinctStates);
      expect(c.stats.transitions).toBe(a.stats.transitions);
      expect(c.stats.levels).toEqual(a.stats.levels);
      expect(c.status === 'violation' && c.violations[0].path).toEqual(a.status === 'violation' && a.violations[0].path);
    }
  });

  it('a frontier written to disk: Own P=6, G=2 exhaustively, every violation, the same as in memory', () => {
    const m = ownModel({ pages: 6, guests: 2, variant: 'share-skips-owner-check' });
    const a = check(m, ownProperties, { stopAtFirstViolation: false, maxDepth: 5 });
    const b = check(m, ownProperties, { stopAtFirstViolation: false, maxDepth: 5, frontierSpill: { limitBytes: 0 } });
    expect(b.stats.spilled!.chunks).toBeGreaterThan(0);
    const view = (r: typeof a) => ({ s: r.stats.distinctStates, t: r.stats.transitions, l: r.stats.levels, v: r.status === 'violation' ? r.violations.map((x) => [x.property, x.path]) : [] });
    expect(view(b)).toEqual(view(a));
  });
});
