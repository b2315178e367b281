/**
 * What `diff` compares between two variants after each common step: the value the caller sees,
 * the hypervisor failures, and the abstract ownership of every page (owners, borrowers, and
 * whether a device can reach it). With several CPUs a common step is one CPU's next step on both
 * sides: the two must also end the call at the same step.
 */
import type { Pair, PairAction, PairOutcome } from '../checker/product.ts';
import type { StepProperty } from '../checker/types.ts';
import { retName } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import type { PkvmState } from '../model/state.ts';
import { describeAction, type PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { ObjectReader, type StateReader } from '../model/memory.ts';
import { borrowers, dmaMappings, owners, pageViews } from '../model/views.ts';

export type DiffState<S = PkvmState> = Pair<S, S>;
export type DiffAction = PairAction<PkvmAction>;
export type DiffOutcome = PairOutcome<PkvmOutcome, PkvmOutcome>;

/** The abstract ownership of each page, as one printable line per page. */
export function ownership(r: StateReader, variant: Variant): string[] {
  const reach = new Set(dmaMappings(r, variant.views).map((m) => m.pfn));
  return pageViews(r, variant.views).map((v) => {
    const own = owners(v).join('+') || 'nobody';
    const bor = borrowers(v);
    return `owned by ${own}${bor.length ? `, lent to ${bor.join('+')}` : ''}${reach.has(v.pfn) ? ', device-reachable' : ''}`;
  });
}

export function agreement<S = PkvmState>(
  config: PkvmConfig,
  va: Variant,
  vb: Variant,
  read: (s: S) => StateReader = (s) => new ObjectReader(s as PkvmState, config),
  /** How to read the second variant's states (its layout differs when its state extensions do). */
  readB: (s: S) => StateReader = read,
): StepProperty<DiffState<S>, DiffAction, DiffOutcome> {
  return {
    kind: 'step',
    name: 'agree',
    description: `${va.name} and ${vb.name} return the same, fail the same, and leave every page with the same abstract ownership`,
    check(_before, act, out, after) {
      const call = describeAction((act.a ?? act.b)!);
      if (!act.a) return { message: `${call} is possible on ${vb.name} but not on ${va.name}` };
      if (!act.b) return { message: `${call} is possible on ${va.name} but not on ${vb.name}` };
      const oa = out.a!;
      const ob = out.b!;
      // several CPUs: a step returns a value only where it ends the call; the two variants must end it at the same step
      if (oa.cpu && ob.cpu && oa.cpu.finished !== ob.cpu.finished) {
        const [done, on] = oa.cpu.finished ? [va.name, vb.name] : [vb.name, va.name];
        const left = oa.cpu.finished ? ob.cpu.to : oa.cpu.to;
        return { message: `${call}: the call returns on ${done} (${retName((oa.cpu.finished ? oa : ob).ret)}) but goes on on ${on} (at ${left})` };
      }
      if (oa.ret !== ob.ret) return { message: `${call} returns ${retName(oa.ret)} on ${va.name} but ${retName(ob.ret)} on ${vb.name}` };
      const fa = oa.failures.map((f) => `${f.kind} in ${f.where}`).join(', ');
      const fb = ob.failures.map((f) => `${f.kind} in ${f.where}`).join(', ');
      if (fa !== fb) return { message: `${call} fails with [${fa || 'nothing'}] on ${va.name} but [${fb || 'nothing'}] on ${vb.name}` };
      const pa = ownership(read(after.a), va);
      const pb = ownership(readB(after.b), vb);
      for (let i = 0; i < pa.length; i++)
        if (pa[i] !== pb[i]) return { message: `after ${call}, page ${i} is ${pa[i]} on ${va.name} but ${pb[i]} on ${vb.name}` };
      return null;
    },
  };
}
