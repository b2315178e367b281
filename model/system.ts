/**
 * The pKVM model as a transition system for the checker: initial state, enabled actions, and a
 * pure step that runs one operation of a variant's hypervisor on an immer draft.
 */
import { freeze, produce, type Draft } from 'immer';
import { retName } from './constants.ts';
import { type PkvmConfig, validateConfig } from './config.ts';
import { PkvmCodec } from './codec.ts';
import type { SubCall } from './kernel/base.ts';
import type { Hyp } from './kernel/hyp.ts';
import { OPERATIONS_BY_NAME, formatArg, operationsFor, type OperationSpec, type PkvmAction } from './operations.ts';
import { initialState, type HypFailure, type PkvmState } from './state.ts';
import { RFC_V1, type Variant } from './variant.ts';

export interface PkvmOutcome {
  /** What the caller sees (0, a negative errno, or a garbage value). */
  readonly ret: number;
  readonly failures: readonly HypFailure[];
  readonly branches: readonly string[];
  readonly subcalls: readonly SubCall[];
  readonly accesses: readonly { readonly by: string; readonly pfn: number }[];
}

/** A deterministic transition system (the checker's Model interface, by shape). */
export class PkvmModel {
  readonly config: PkvmConfig;
  readonly variant: Variant;
  readonly codec: PkvmCodec;
  private readonly ops: readonly { spec: OperationSpec; actions: readonly PkvmAction[] }[];
  private readonly init: PkvmState;
  private readonly opsByName: ReadonlyMap<string, OperationSpec>;

  constructor(config: PkvmConfig, variant: Variant = RFC_V1) {
    this.config = validateConfig(config);
    this.variant = variant;
    this.codec = new PkvmCodec(this.config, variant.state);
    this.init = initialState(this.config, variant.state);
    const specs = [...operationsFor(this.config).filter((o) => !variant.removeOperations.includes(o.name)), ...variant.addOperations.filter((o) => o.actor !== 'host' || (o.hosts ?? ['driver', 'iommu', 'adversarial']).includes(this.config.host))];
    this.opsByName = new Map(specs.map((o) => [o.name, o]));
    this.ops = specs.map((spec) => ({
      spec,
      actions: spec.staticArgs(this.config).map((args) => freeze({ op: spec.name, args: freeze(args) })),
    }));
  }

  initialStates(): readonly PkvmState[] {
    return [this.init];
  }

  actions(state: PkvmState): readonly PkvmAction[] {
    if (state.panic) return [];
    const out: PkvmAction[] = [];
    for (const { spec, actions } of this.ops) {
      if (!spec.enabled) {
        for (const a of actions) out.push(a);
        continue;
      }
      for (const a of actions) if (spec.enabled(state, a.args, this.config)) out.push(a);
    }
    return out;
  }

  step(state: PkvmState, action: PkvmAction): { readonly state: PkvmState; readonly outcome: PkvmOutcome } {
    const spec = this.opsByName.get(action.op);
    if (!spec) throw new Error(`unknown operation ${action.op}`);
    let hyp: Hyp | null = null;
    let ret = 0;
    const Cls = this.variant.hyp;
    let next = produce(state, (draft: Draft<PkvmState>) => {
      const h = new Cls(draft, this.config);
      hyp = h;
      ret = spec.run(h, action.args);
      if (!h.fatal && spec.ghost) spec.ghost(h, action.args, ret);
    });
    const h = hyp as unknown as Hyp;
    if (h.fatal) next = freeze({ ...(h.fatalSnapshot as PkvmState), panic: h.fatal }, true);
    return {
      state: next,
      outcome: { ret, failures: h.rec.failures, branches: h.rec.branches, subcalls: h.rec.subcalls, accesses: h.rec.accesses },
    };
  }

  encode(state: PkvmState): Uint8Array {
    return this.codec.encode(state);
  }

  decode(bytes: Uint8Array): PkvmState {
    return this.codec.decode(bytes);
  }

  describeAction(action: PkvmAction): string {
    return describeAction(action, this.opsByName.get(action.op));
  }

  operation(name: string): OperationSpec | undefined {
    return this.opsByName.get(name);
  }
}

export function describeAction(action: PkvmAction, spec: OperationSpec | undefined = OPERATIONS_BY_NAME.get(action.op)): string {
  const toPhys = { hyp_pfn_to_phys: (p: number) => 0x8000_0000 + p * 4096 };
  const args = Object.entries(action.args)
    .map(([k, v]) => `${k}=${formatArg(spec?.argFormats[k] ?? 'num', v, toPhys)}`)
    .join(', ');
  return `${action.op}(${args})`;
}

/** A stable key for an action (used to find it again when a trace is replayed on another variant). */
export function actionKey(action: PkvmAction): string {
  return `${action.op}(${Object.keys(action.args)
    .sort()
    .map((k) => `${k}=${String(action.args[k])}`)
    .join(',')})`;
}

export function describeOutcome(o: PkvmOutcome): string {
  const parts = [`returns ${retName(o.ret)}`];
  for (const f of o.failures) parts.push(`${f.kind} in ${f.where}: ${f.detail}`);
  return parts.join('; ');
}
