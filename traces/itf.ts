/**
 * Traces in the Informal Trace Format (ITF) of Apalache and Quint
 * (https://apalache-mc.org/docs/adr/015adr-trace.html), both ways.
 *
 * Export: every state of a trace, as the values of the model's variables (host stage-2, hyp
 * stage-1, vmemmap, guests, SMMU io-pgtables, the specification's ghost counts, the panic, and
 * when the configuration has them the variant's state, the CPUs and locks, the IOTLBs, the
 * scheduler's context bound), plus, as Quint writes with --mbt, `mbt::actionTaken` (the call's
 * name, "init" for the first state) and `mbt::nondetPicks` (its arguments, each an Option), and
 * `pkvm::step` (what the native trace records of the step: its return, failures, sub-calls,
 * fingerprint, CPU). `#meta.pkvm-check` holds the variant, configuration, violation and initial
 * state's index, so that the file alone can be replayed.
 *
 * Values: integers as {"#bigint": "..."} (as Quint writes them; plain JSON integers are read
 * too), records as objects, lists as arrays, partial maps (per page, per IPA, per IOVA; only what
 * is mapped) and name-keyed maps as {"#map": [[k, v], ...]}, alternatives (a host stage-2 leaf,
 * an io-pgtable entry, an Option) as Quint's sum values {"tag": ..., "value": ...}.
 *
 * Import: the inverse, checked value by value; an error names the state, the variable and the
 * place in it.
 */
import { IOPT_BLOCK_PAGES, type AnnotationOwner, type StoredPageState } from '../model/constants.ts';
import { totalPages, validateConfig, type PkvmConfig } from '../model/config.ts';
import { lockId, lockName, type Lock, type SubCall } from '../model/kernel/base.ts';
import type { PkvmAction } from '../model/operations.ts';
import { deepEqual, lockCount, type CpuState, type FailureKind, type GuestPte, type HostPte, type HypFailure, type HypPage, type IoPte, type PkvmState } from '../model/state.ts';
import type { Variant } from '../model/variant.ts';
import { builtinVariant } from '../model/variants/index.ts';
import { actionKey, type PkvmModel, type PkvmOutcome } from '../model/system.ts';
import { replayPath, ReplayError, type Replayed } from '../checker/replay.ts';
import { stateFingerprint } from './build.ts';
import { diffStates } from './describe.ts';
import { TRACE_SCHEMA_ID, ITF_SCHEMA_ID, schemaError } from './schema.ts';
import { TRACE_FORMAT, TraceFormatError, type TraceFile, type TraceStep } from './format.ts';

export const ITF_FORMAT_DESCRIPTION = 'https://apalache-mc.org/docs/adr/015adr-trace.html';
export const ACTION_TAKEN = 'mbt::actionTaken';
export const NONDET_PICKS = 'mbt::nondetPicks';
export const STEP_VAR = 'pkvm::step';
/** The pick that names the CPU of a concurrent action (no operation has an argument of that name). */
const CPU_PICK = 'cpu';

export type ItfValue = boolean | string | number | readonly ItfValue[] | { readonly [k: string]: ItfValue };
export type ItfState = { readonly '#meta': { readonly index: number } } & { readonly [v: string]: ItfValue };

/** What a trace says of itself besides its states and steps. */
export type TraceHeader = Pick<TraceFile, 'format' | 'version' | 'generator' | 'variant' | 'config' | 'violation' | 'init'>;

export interface ItfTrace {
  readonly '#meta': {
    readonly format: 'ITF';
    readonly 'format-description': string;
    readonly source: string;
    readonly description: string;
    readonly 'pkvm-check': TraceHeader;
  };
  readonly vars: readonly string[];
  readonly states: readonly ItfState[];
}

// ---- values ----------------------------------------------------------------------------------

const int = (n: number): ItfValue => ({ '#bigint': String(n) });
const ints = (xs: readonly number[]): ItfValue => xs.map(int);
const UNIT: ItfValue = { '#tup': [] };
const sum = (tag: string, value: ItfValue = UNIT): ItfValue => ({ tag, value });
const NONE = sum('None');
const option = <T>(x: T | null | undefined, f: (x: T) => ItfValue): ItfValue => (x === null || x === undefined ? NONE : sum('Some', f(x)));
/** A list with holes as a map from index to value (the holes left out). */
const sparse = <T>(xs: readonly (T | null)[], f: (x: T) => ItfValue): ItfValue => ({ '#map': xs.flatMap((x, i) => (x === null ? [] : [[int(i), f(x)]])) });
const failure = (f: HypFailure): ItfValue => ({ kind: f.kind, where: f.where, detail: f.detail });

type Decode<T> = (v: unknown, at: string) => T;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(at: string, what: string, v: unknown): never {
  const got = JSON.stringify(v) ?? 'nothing';
  throw new TraceFormatError(`${at}: expected ${what} (got ${got.length > 40 ? `${got.slice(0, 37)}...` : got})`);
}

const dInt: Decode<number> = (v, at) => {
  const n = typeof v === 'number' ? v : isObject(v) && typeof v['#bigint'] === 'string' ? Number(v['#bigint']) : NaN;
  return Number.isSafeInteger(n) ? n : bad(at, 'an integer', v);
};
const dNat = (max: number): Decode<number> => (v, at) => {
  const n = dInt(v, at);
  return n >= 0 && n < max ? n : bad(at, `an integer from 0 to ${max - 1}`, v);
};
const dStr: Decode<string> = (v, at) => (typeof v === 'string' ? v : bad(at, 'a string', v));
const dBool: Decode<boolean> = (v, at) => (typeof v === 'boolean' ? v : bad(at, 'a boolean', v));
const dList =
  <T>(d: Decode<T>, length?: number): Decode<T[]> =>
  (v, at) => {
    if (!Array.isArray(v) || (length !== undefined && v.length !== length)) bad(at, length === undefined ? 'a list' : `a list of ${length}`, v);
    return v.map((x, i) => d(x, `${at}[${i}]`));
  };
const dRecord =
  <T extends object>(fields: { [K in keyof T]-?: Decode<T[K]> }, optional: readonly (keyof T)[] = []): Decode<T> =>
  (v, at) => {
    if (!isObject(v)) bad(at, 'a record', v);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(fields) as (keyof T & string)[]) {
      if (!(k in v)) {
        if (optional.includes(k)) continue;
        bad(at, `a record with a field ${k}`, v);
      }
      out[k] = fields[k](v[k], `${at}.${k}`);
    }
    return out as T;
  };
const dSum =
  <T>(cases: Record<string, Decode<T>>): Decode<T> =>
  (v, at) => {
    if (!isObject(v) || typeof v.tag !== 'string' || !(v.tag in cases) || !('value' in v)) bad(at, `one of ${Object.keys(cases).map((t) => `{"tag": "${t}", "value": ...}`).join(', ')}`, v);
    return cases[v.tag](v.value, `${at}.${v.tag}`);
  };
const dOption = <T>(d: Decode<T>): Decode<T | null> => dSum<T | null>({ None: () => null, Some: d });
const dEntries =
  <K, V>(dk: Decode<K>, dv: (k: K) => Decode<V>): Decode<[K, V][]> =>
  (v, at) => {
    if (!isObject(v) || !Array.isArray(v['#map'])) bad(at, 'a map {"#map": [[key, value], ...]}', v);
    return (v['#map'] as unknown[]).map((e, i) => {
      if (!Array.isArray(e) || e.length !== 2) bad(`${at}[${i}]`, 'a [key, value] pair', e);
      const k = dk(e[0], `${at} key ${i}`);
      return [k, dv(k)(e[1], `${at}[${JSON.stringify(k)}]`)];
    });
  };
/** The inverse of `sparse`: a list of `length` with what the map does not name left null. */
const dSparse =
  <T>(d: Decode<T>, length: number): Decode<(T | null)[]> =>
  (v, at) => {
    const out: (T | null)[] = Array.from({ length }, () => null);
    for (const [i, x] of dEntries(dNat(length), () => d)(v, at)) out[i] = x;
    return out;
  };
const dFailure = dRecord<HypFailure>({ kind: (v, at) => dStr(v, at) as FailureKind, where: dStr, detail: dStr });

// ---- the model's variables -------------------------------------------------------------------

interface StateVar {
  readonly encode: (s: PkvmState) => ItfValue;
  /** Decodes the variable's value in a state of this configuration. */
  readonly decode: (c: PkvmConfig) => Decode<unknown>;
  /** Whether states of this configuration have it (absent ones keep their empty value). */
  readonly present: (c: PkvmConfig, s: PkvmState) => boolean;
}

const always = () => true;

/** The model's state variables, in their order in `vars` (the fields of PkvmState). */
const STATE_VARS: { readonly [K in keyof PkvmState]: StateVar } = {
  hostS2: {
    encode: (s) => s.hostS2.map((p) => (p.kind === 'zero' ? sum('zero') : p.kind === 'valid' ? sum('valid', { state: int(p.state) }) : sum('annot', { owner: int(p.owner) }))),
    decode: (c) =>
      dList<HostPte>(
        dSum<HostPte>({
          zero: () => ({ kind: 'zero' }),
          valid: (v, at) => ({ kind: 'valid', state: dRecord({ state: dInt })(v, at).state as StoredPageState }),
          annot: (v, at) => ({ kind: 'annot', owner: dRecord({ owner: dInt })(v, at).owner as AnnotationOwner }),
        }),
        totalPages(c),
      ),
    present: always,
  },
  hypS1: { encode: (s) => sparse(s.hypS1, int), decode: (c) => dSparse((v, at) => dInt(v, at) as StoredPageState, totalPages(c)), present: always },
  vmemmap: {
    encode: (s) => sparse(s.vmemmap, (p) => ({ refcount: int(p.refcount), flags: int(p.flags) })),
    decode: (c) => dSparse(dRecord<HypPage>({ refcount: dInt, flags: dInt }), totalPages(c)),
    present: always,
  },
  vms: {
    encode: (s) => s.vms.map((vm) => ({ dying: vm.dying, s2: sparse(vm.s2, (p) => ({ pfn: int(p.pfn), state: int(p.state) })) })),
    decode: (c) => dList(dRecord({ dying: dBool, s2: dSparse(dRecord<GuestPte>({ pfn: dInt, state: (v, at) => dInt(v, at) as StoredPageState }), c.guestIpas) }), c.guests),
    present: always,
  },
  iommu: {
    encode: (s) => s.iommu.map((d) => ({ pgd: sparse(d.pgd, (e: NonNullable<IoPte>) => (e.type === 'block' ? sum('block', { pfn: int(e.pfn) }) : sum('table', { ptes: sparse(e.ptes, int) }))) })),
    decode: (c) =>
      dList(
        dRecord({
          pgd: dSparse(
            dSum<NonNullable<IoPte>>({
              block: (v, at) => ({ type: 'block', pfn: dRecord({ pfn: dInt })(v, at).pfn }),
              table: (v, at) => ({ type: 'table', ptes: dRecord({ ptes: dSparse(dInt, IOPT_BLOCK_PAGES) })(v, at).ptes }),
            }),
            c.iovas / IOPT_BLOCK_PAGES,
          ),
        }),
        c.domains,
      ),
    present: always,
  },
  ghost: {
    encode: (s) => ({ pins: ints(s.ghost.pins), pool: ints(s.ghost.pool), dmaRefs: ints(s.ghost.dmaRefs) }),
    decode: (c) => dRecord({ pins: dList(dInt, totalPages(c)), pool: dList(dInt, totalPages(c)), dmaRefs: dList(dInt, totalPages(c)) }),
    present: always,
  },
  panic: { encode: (s) => option(s.panic, failure), decode: () => dOption(dFailure), present: always },
  ext: {
    encode: (s) => ({ '#map': Object.keys(s.ext).map((k) => [k, ints(s.ext[k])]) }),
    decode: () => (v, at) => Object.fromEntries(dEntries(dStr, () => dList(dInt))(v, at)),
    present: (_c, s) => Object.keys(s.ext).length > 0,
  },
  cpus: {
    encode: (s) => s.cpus.map((p) => ({ op: int(p.op), wait: int(p.wait), resume: int(p.resume), log: ints(p.log) })),
    decode: (c) => dList(dRecord<CpuState>({ op: dInt, wait: dInt, resume: dInt, log: dList(dInt) }), c.cpus),
    present: (c) => c.cpus > 1,
  },
  locks: {
    encode: (s) => ({ '#map': s.locks.flatMap((owner, id) => (owner < 0 ? [] : [[lockName(id), int(owner)]])) }),
    decode: (c) => (v, at) => {
      const owners = Array.from({ length: lockCount(c) }, () => -1);
      for (const [name, cpu] of dEntries(dStr, () => dNat(c.cpus))(v, at)) {
        const id = lockId(name as Lock);
        if (!(id >= 0 && id < owners.length && lockName(id) === name)) bad(at, `a lock of this configuration`, name);
        owners[id] = cpu;
      }
      return owners;
    },
    present: (c) => c.cpus > 1,
  },
  iotlb: { encode: (s) => s.iotlb.map((row) => sparse(row, int)), decode: (c) => dList(dSparse(dInt, c.iovas), c.domains), present: (c) => c.iotlb },
  sched: {
    encode: (s) => ({ last: int(s.sched!.last), preemptions: int(s.sched!.preemptions) }),
    decode: () => dRecord({ last: dInt, preemptions: dInt }),
    present: (c) => c.preemptions >= 0,
  },
};

const STATE_VAR_NAMES = Object.keys(STATE_VARS) as (keyof PkvmState)[];

/** What a state variable holds in a state that has no such variable. */
const ABSENT: Partial<PkvmState> = { ext: {}, cpus: [], locks: [], iotlb: [], sched: null };

/** The ITF variables of the model's state in states of this configuration. */
export function stateVars(config: PkvmConfig, state: PkvmState): (keyof PkvmState)[] {
  return STATE_VAR_NAMES.filter((v) => STATE_VARS[v].present(config, state));
}

// ---- export ----------------------------------------------------------------------------------

function stepValue(s: TraceStep): ItfValue {
  return {
    step: int(s.step),
    actor: s.actor,
    actionIndex: int(s.actionIndex),
    call: s.call,
    ret: int(s.ret),
    retName: s.retName,
    failures: s.failures.map(failure),
    subcalls: s.subcalls.map((c) => ({ call: c.call, ret: int(c.ret) })),
    accesses: s.accesses.map((a) => ({ by: a.by, pfn: int(a.pfn) })),
    fingerprint: s.fingerprint,
    entry: option(s.action.entry, int),
    cpu: option(s.cpu, (c) => ({ cpu: int(c.cpu), ...(c.op !== undefined ? { op: c.op } : {}), from: c.from, to: c.to, holds: [...c.holds], finished: c.finished })),
    acquired: [...(s.acquired ?? [])],
  };
}

/**
 * A trace as ITF: `states` are the trace's states, the initial one first, then the state after
 * each step (traces/build.ts rebuilds them; `traceStates` below from a trace file and its model).
 */
export function traceToItf(trace: TraceFile, states: readonly PkvmState[]): ItfTrace {
  if (states.length !== trace.steps.length + 1) throw new Error(`a trace of ${trace.steps.length} steps has ${trace.steps.length + 1} states, not ${states.length}`);
  const config = validateConfig(trace.config);
  const vars = stateVars(config, states[0]);
  // every argument name of the trace's calls is a pick, None where the call has no such argument
  const picks = [...new Set(trace.steps.flatMap((s) => [...Object.keys(s.action.args), ...(s.action.cpu !== undefined ? [CPU_PICK] : [])]))].sort();
  const v = trace.violation;
  return {
    '#meta': {
      format: 'ITF',
      'format-description': ITF_FORMAT_DESCRIPTION,
      source: `pkvm-check model of pKVM, variant ${trace.variant}`,
      description: `${v ? `Counterexample to ${v.invariant} (${v.message})` : 'Trace'}: ${trace.steps.length} step(s), found by ${trace.generator}`,
      'pkvm-check': { format: trace.format, version: trace.version, generator: trace.generator, variant: trace.variant, config: trace.config, violation: trace.violation, init: trace.init },
    },
    vars: [...vars, ACTION_TAKEN, NONDET_PICKS, STEP_VAR],
    states: states.map((s, i) => {
      const step = i === 0 ? null : trace.steps[i - 1];
      const args: Readonly<Record<string, number | boolean>> = step ? { ...step.action.args, ...(step.action.cpu !== undefined ? { [CPU_PICK]: step.action.cpu } : {}) } : {};
      const out: Record<string, ItfValue> = {};
      for (const name of vars) out[name] = STATE_VARS[name].encode(s);
      out[ACTION_TAKEN] = step ? step.action.op : 'init';
      out[NONDET_PICKS] = Object.fromEntries(picks.map((p) => [p, option(args[p], (x) => (typeof x === 'boolean' ? x : int(x)))]));
      out[STEP_VAR] = option(step, stepValue);
      return { '#meta': { index: i }, ...out } as ItfState;
    }),
  };
}

/**
 * The states of a trace file, rebuilt on its model (the initial one first): each step must be the
 * recorded call and reach the recorded state, or the model is not the one the trace was found on.
 */
export function traceStates(model: PkvmModel, trace: TraceFile): PkvmState[] {
  const mismatch = (step: number, why: string) => new TraceFormatError(`step ${step}: ${why} (the trace was recorded on variant '${trace.variant}'; give its module with --variant if it is not built in)`);
  let rep: Replayed<PkvmState, PkvmAction, PkvmOutcome>;
  try {
    rep = replayPath(model, { init: trace.init, actions: trace.steps.map((s) => s.actionIndex) });
  } catch (e) {
    if (e instanceof ReplayError) throw new TraceFormatError(e.message);
    throw e;
  }
  rep.steps.forEach((st, i) => {
    const rec = trace.steps[i];
    if (actionKey(st.action) !== actionKey(rec.action)) throw mismatch(rec.step, `the model's action ${rec.actionIndex} is ${model.describeAction(st.action)}, not ${rec.call}`);
    if (stateFingerprint(model, st.after) !== rec.fingerprint) throw mismatch(rec.step, `${rec.call} reaches another state than the recorded one`);
  });
  return [rep.initial, ...rep.steps.map((s) => s.after)];
}

/** An ITF trace as the text of its file: one line for its #meta, its vars, and each state. */
export function itfText(itf: ItfTrace): string {
  const j = (x: unknown) => JSON.stringify(x);
  return `{\n "#meta": ${j(itf['#meta'])},\n "vars": ${j(itf.vars)},\n "states": [\n  ${itf.states.map(j).join(',\n  ')}\n ]\n}\n`;
}

// ---- import ----------------------------------------------------------------------------------

/** Whether a parsed JSON file is an ITF trace rather than a native one (by its content). */
export function isItf(x: unknown): boolean {
  return isObject(x) && x.format !== TRACE_FORMAT && (isObject(x['#meta']) ? x['#meta'].format === 'ITF' : Array.isArray(x.vars) && Array.isArray(x.states));
}

const dArg: Decode<number | boolean> = (v, at) => (typeof v === 'boolean' ? v : dInt(v, at));

const dStep = dRecord<Omit<TraceStep, 'action' | 'changes'> & { entry: number | null }>(
  {
    step: dInt,
    actor: dStr,
    actionIndex: dInt,
    call: dStr,
    ret: dInt,
    retName: dStr,
    failures: dList(dFailure),
    subcalls: dList(dRecord<SubCall>({ call: dStr, ret: dInt })),
    accesses: dList(dRecord({ by: dStr, pfn: dInt })),
    fingerprint: dStr,
    entry: dOption(dInt),
    cpu: dOption(dRecord({ cpu: dInt, op: dStr, from: dStr, to: dStr, holds: dList(dStr), finished: dBool }, ['op'])),
    acquired: dList(dStr),
  },
  ['acquired'],
);

/** An ITF trace decoded: the native trace it stands for, and its states (the initial one first). */
export interface ImportedItf {
  readonly trace: TraceFile;
  readonly states: readonly PkvmState[];
  /** The model's variables the file has, in its order. */
  readonly vars: readonly (keyof PkvmState)[];
}

/**
 * Decodes a parsed ITF trace of pkvm-check (validated first against schemas/itf.schema.json);
 * throws a one-line TraceFormatError naming the place of the first problem. `variant` (default:
 * the built-in variant the trace names, if any) only words the facts of the step changes.
 */
export function importItf(x: unknown, variant?: Pick<Variant, 'state'>): ImportedItf {
  const error = schemaError(ITF_SCHEMA_ID, x);
  if (error) throw new TraceFormatError(`not an ITF trace: ${error}`);
  const itf = x as { '#meta'?: Record<string, unknown>; vars: string[]; states: Record<string, unknown>[] };
  const header = itf['#meta']?.['pkvm-check'];
  if (header === undefined) throw new TraceFormatError('#meta.pkvm-check is missing: this ITF trace was not written by pkvm-check (its variant and configuration are not known)');
  const headerError = schemaError(`${TRACE_SCHEMA_ID}#/$defs/header`, header);
  if (headerError) throw new TraceFormatError(`#meta.pkvm-check${headerError.replace(/^\/: /, ': ').replace(/^\//, '/')}`);
  const h = header as TraceHeader;
  let config: PkvmConfig;
  try {
    config = validateConfig(h.config);
  } catch (e) {
    throw new TraceFormatError(`#meta.pkvm-check.config is invalid (${e instanceof Error ? e.message : String(e)})`);
  }
  if (itf.states.length === 0) throw new TraceFormatError('states: an ITF trace of pkvm-check has at least its initial state');
  for (const v of [ACTION_TAKEN, NONDET_PICKS, STEP_VAR]) if (!itf.vars.includes(v)) throw new TraceFormatError(`vars: ${v} is missing`);
  const vars = STATE_VAR_NAMES.filter((v) => itf.vars.includes(v));
  const decoders = Object.fromEntries(vars.map((v) => [v, STATE_VARS[v].decode(config)]));
  const states: PkvmState[] = [];
  const steps: TraceStep[] = [];
  itf.states.forEach((st, i) => {
    const at = (v: string) => `states[${i}].${v}`;
    for (const v of itf.vars) if (!(v in st)) throw new TraceFormatError(`${at(v)}: the variable is missing`);
    const s = { ...ABSENT } as Record<string, unknown>;
    for (const v of vars) s[v] = decoders[v](st[v], at(v));
    const state = s as unknown as PkvmState;
    for (const v of stateVars(config, state)) if (!vars.includes(v)) throw new TraceFormatError(`vars: ${v} is missing (states of this configuration have it)`);
    states.push(state);
    const taken = dStr(st[ACTION_TAKEN], at(ACTION_TAKEN));
    const picked = st[NONDET_PICKS];
    if (!isObject(picked)) bad(at(NONDET_PICKS), 'a record of Options', picked);
    const picks = Object.entries(picked).flatMap(([k, p]) => {
      const x = dOption(dArg)(p, `${at(NONDET_PICKS)}.${k}`);
      return x === null ? [] : [[k, x] as const];
    });
    const rec = dOption(dStep)(st[STEP_VAR], at(STEP_VAR));
    if (i === 0) {
      if (rec !== null || taken !== 'init') throw new TraceFormatError(`states[0]: the initial state has ${ACTION_TAKEN} "init" and no ${STEP_VAR}`);
      return;
    }
    if (rec === null) throw new TraceFormatError(`${at(STEP_VAR)}: expected the step that led to this state`);
    const { entry, ...step } = rec;
    const cpu = picks.find(([k]) => k === CPU_PICK)?.[1];
    const action: PkvmAction = {
      op: taken,
      args: Object.fromEntries(picks.filter(([k]) => k !== CPU_PICK)),
      ...(cpu !== undefined ? { cpu: dInt(cpu, `${at(NONDET_PICKS)}.${CPU_PICK}`) } : {}),
      ...(entry !== null ? { entry } : {}),
    };
    steps.push({ ...step, action, changes: diffStates(states[i - 1], state, config, variant ?? builtinVariant(h.variant)) });
  });
  const trace: TraceFile = { ...h, initialState: states[0], steps, finalState: states[states.length - 1] };
  return { trace, states, vars };
}

// ---- comparison ------------------------------------------------------------------------------

/** Where two states first differ: the variable, and the place in it. */
export interface StateMismatch {
  readonly variable: string;
  readonly path: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

function firstDifference(a: unknown, b: unknown, path: string): { path: string; expected: unknown; actual: unknown } | null {
  if (deepEqual(a, b)) return null;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      const d = firstDifference(ra[k], rb[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`);
      if (d) return d;
    }
  }
  return { path, expected: a, actual: b };
}

/** Compares a state decoded from an ITF file with one the model reached, variable by variable. */
export function compareStates(expected: PkvmState, actual: PkvmState): StateMismatch | null {
  for (const v of STATE_VAR_NAMES) {
    const d = firstDifference(expected[v], actual[v], v);
    if (d) return { variable: v, ...d };
  }
  return null;
}
