/**
 * Steps as bytes written (Model.stepDelta / stepDeltas): the same states, transitions, levels,
 * violations and paths as the same model stepping whole states; step properties that say where
 * they can fail run only there (both ways of stepping share the expansion step and its gate), and
 * not on steps that change nothing when they hold there.
 */
import { describe, expect, it } from 'vitest';
import { check, type Model, type Property, type StepDelta } from '../../checker/index.ts';
import { comparable } from '../toys/util.ts';

type Act = 'inc0' | 'inc1' | 'rewrite' | 'fail';
interface Out {
  readonly bad: boolean;
}
const OK: Out = { bad: false };
const BAD: Out = { bad: true };

/** Two counters mod 5 in two bytes; `rewrite` writes byte 0 with its own value; `fail` writes nothing and reports bad. */
function bytesModel(withDelta: boolean): Model<Uint8Array, Act, Out> {
  const deltas = new Map<string, StepDelta<Out>>();
  const delta = (s: Uint8Array, a: Act): StepDelta<Out> => {
    const [offsets, values, outcome] =
      a === 'inc0' ? [[0], [(s[0] + 1) % 5], OK] : a === 'inc1' ? [[1], [(s[1] + 1) % 5], OK] : a === 'rewrite' ? [[0], [s[0]], OK] : [[], [], BAD];
    // one object per (action, writes), as a compiled model returns the same leaf again
    const key = `${a}:${offsets.join()}:${values.join()}`;
    let d = deltas.get(key);
    if (!d) deltas.set(key, (d = { offsets, values, outcome, memo: undefined }));
    return d;
  };
  const m: Model<Uint8Array, Act, Out> = {
    initialStates: () => [Uint8Array.of(0, 0)],
    actions: (s) => (s[0] === 4 ? ['inc1', 'rewrite', 'fail'] : ['inc0', 'inc1', 'rewrite', 'fail']),
    step(s, a) {
      const d = delta(s, a);
      if (d.offsets.length === 0) return { state: s, outcome: d.outcome };
      const next = s.slice();
      for (let i = 0; i < d.offsets.length; i++) next[d.offsets[i]] = d.values[i];
      return { state: next, outcome: d.outcome };
    },
    encode: (s) => s,
    decode: (b) => b,
  };
  if (withDelta) {
    m.stepDelta = delta;
    m.stepDeltas = (s, out) => {
      const acts = m.actions(s);
      acts.forEach((a, i) => (out[i] = delta(s, a)));
      return acts.length;
    };
  }
  return m;
}

function properties(calls: { gated: number; unchanged: number }): Property<Uint8Array, Act, Out>[] {
  return [
    { kind: 'state', name: 'not-both-three', description: '', check: (s) => (s[0] === 3 && s[1] === 3 ? { message: 'both 3' } : null) },
    {
      kind: 'step',
      name: 'no-bad',
      description: '',
      relevant: (_a, o) => o.bad,
      check: (_b, _a, o) => {
        calls.gated++;
        return o.bad ? { message: 'bad' } : null;
      },
    },
    {
      kind: 'step',
      name: 'changes-are-increments',
      description: '',
      relevant: () => true,
      holdsWhenUnchanged: true,
      check: (b, a, _o, s) => {
        calls.unchanged++;
        return b[0] === s[0] && b[1] === s[1] ? null : a === 'inc0' && s[0] === 4 ? { message: 'reached 4', key: 'four' } : null;
      },
    },
    { kind: 'step', name: 'never-rewrite-at-2', description: '', check: (b, a) => (a === 'rewrite' && b[0] === 2 ? { message: 'rewrite at 2' } : null) },
  ];
}

describe('steps as bytes written', () => {
  it('the same results as whole steps, every violation and the first', () => {
    for (const stopAtFirstViolation of [false, true]) {
      const whole = check(bytesModel(false), properties({ gated: 0, unchanged: 0 }), { stopAtFirstViolation });
      const delta = check(bytesModel(true), properties({ gated: 0, unchanged: 0 }), { stopAtFirstViolation });
      expect(comparable(delta)).toEqual(comparable(whole));
    }
    const r = check(bytesModel(true), properties({ gated: 0, unchanged: 0 }), { stopAtFirstViolation: false });
    expect(r.stats.distinctStates).toBe(25);
    expect(r.stats.transitions).toBe(25 * 4 - 5);
    expect(r.status === 'violation' && r.violations.map((v) => v.property).sort()).toEqual(['changes-are-increments', 'never-rewrite-at-2', 'no-bad', 'not-both-three']);
  });

  it('gated properties run only where relevant, and not on steps that change nothing when they hold there', () => {
    const calls = { gated: 0, unchanged: 0 };
    check(bytesModel(true), properties(calls), { stopAtFirstViolation: false });
    // no-bad: only the 25 'fail' steps; changes-are-increments: only the 45 steps that change a byte
    // (inc0 in 20 states, inc1 in 25), not the 25 rewrites nor the 25 fails
    expect(calls.gated).toBe(25);
    expect(calls.unchanged).toBe(45);
    // whole steps go through the same gate; a step that returns the state itself changes nothing,
    // and a rewrite returns a new array (equal bytes), which whole steps cannot tell from a change
    const whole = { gated: 0, unchanged: 0 };
    check(bytesModel(false), properties(whole), { stopAtFirstViolation: false });
    expect(whole.gated).toBe(25);
    expect(whole.unchanged).toBe(45 + 25);
  });
});
