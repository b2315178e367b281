/**
 * ITF export and import (traces/itf.ts) on real traces of several configurations: one CPU, one
 * CPU with the IOTLB, two CPUs (IOTLB on), a variant with state of its own. A trace goes native
 * -> ITF -> native unchanged, an ITF file replays to the same violation, and a replayed state
 * that differs from the file's is named by its step and variable.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PkvmModel } from '../../model/system.ts';
import { builtinVariant } from '../../model/variants/index.ts';
import { parseTrace, TraceFormatError, type TraceFile } from '../../traces/format.ts';
import { importItf, isItf, itfText, traceStates, traceToItf, type ItfTrace } from '../../traces/itf.ts';
import { runCli } from '../run-cli.ts';

const CASES: Record<string, string[]> = {
  'one CPU (the seed)': ['--depth', '4'],
  'one CPU with the IOTLB': ['--variant', 'unmap-no-tlb-add-page', '--iotlb', '--host', 'iommu', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--invariant', 'dma-isolation', '--depth', '6'],
  'two CPUs (IOTLB on)': ['--variant', 'unshare-before-tlbi', '--cpus', '2', '--ram-pages', '1', '--mmio-pages', '0', '--domains', '1', '--invariant', 'dma-isolation'],
  'two CPUs, a variant with state of its own': ['--variant', 'vmemmap-cmpxchg', '--cpus', '2', '--guests', '0', '--domains', '1'],
};

let dir: string;
const native: Record<string, string> = {};
const itf: Record<string, string> = {};
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-itf-'));
  for (const [name, args] of Object.entries(CASES)) {
    const tag = name.replace(/\W+/g, '-');
    native[name] = join(dir, `${tag}.json`);
    itf[name] = join(dir, `${tag}.itf.json`);
    expect((await runCli(['check', '--quiet', ...args, '--trace-out', native[name]])).code).toBe(1);
    expect((await runCli(['check', '--quiet', ...args, '--trace-format', 'itf', '--trace-out', itf[name]])).code).toBe(1);
  }
});

const load = (file: string) => parseTrace(readFileSync(file, 'utf8'));
const json = (x: unknown) => JSON.parse(JSON.stringify(x));
const statesOf = (t: TraceFile) => traceStates(new PkvmModel(t.config, builtinVariant(t.variant)!), t);

describe('ITF export', () => {
  for (const name of Object.keys(CASES))
    it(`${name}: native -> ITF -> native gives the same trace; check --trace-format itf writes the same ITF`, () => {
      const t = load(native[name]);
      const x: ItfTrace = json(traceToItf(t, statesOf(t)));
      expect(json(importItf(x).trace)).toEqual(json(t));
      expect(JSON.parse(readFileSync(itf[name], 'utf8'))).toEqual(x);
      expect(isItf(x)).toBe(true);
      expect(isItf(json(t))).toBe(false);
    });

  it('the ITF conventions: #meta, #meta.index, integers as #bigint, maps, sum values, the mbt variables', () => {
    const x = JSON.parse(readFileSync(itf['two CPUs (IOTLB on)'], 'utf8'));
    expect(x['#meta']).toMatchObject({ format: 'ITF', 'format-description': expect.stringMatching(/015adr-trace/), source: expect.stringMatching(/unshare-before-tlbi/), description: expect.stringMatching(/dma-isolation/) });
    expect(x['#meta']['pkvm-check']).toMatchObject({ variant: 'unshare-before-tlbi', config: { cpus: 2, iotlb: true }, violation: { invariant: 'dma-isolation' }, init: 0 });
    expect(x.vars).toEqual(['hostS2', 'hypS1', 'vmemmap', 'vms', 'iommu', 'ghost', 'panic', 'cpus', 'locks', 'iotlb', 'mbt::actionTaken', 'mbt::nondetPicks', 'pkvm::step']);
    x.states.forEach((s: Record<string, unknown>, i: number) => expect(s['#meta']).toEqual({ index: i }));
    const [s0, s1] = x.states;
    expect(s0['mbt::actionTaken']).toBe('init');
    expect(s0['pkvm::step']).toEqual({ tag: 'None', value: { '#tup': [] } });
    expect(s0.hostS2[0]).toEqual({ tag: 'zero', value: { '#tup': [] } });
    expect(s0.vmemmap).toEqual({ '#map': [[{ '#bigint': '0' }, { refcount: { '#bigint': '0' }, flags: { '#bigint': '0' } }]] });
    expect(s1['mbt::actionTaken']).toBe('iommu_map');
    expect(s1['mbt::nondetPicks']).toMatchObject({ cpu: { tag: 'Some', value: { '#bigint': '0' } }, domain: { tag: 'Some', value: { '#bigint': '0' } }, iova: { tag: 'Some', value: { '#bigint': '0' } } });
    expect(s0['mbt::nondetPicks'].cpu).toEqual({ tag: 'None', value: { '#tup': [] } });
    expect(s1.locks).toEqual({ '#map': [['iommu_lock', { '#bigint': '0' }]] });
    expect(s1['pkvm::step'].value).toMatchObject({ step: { '#bigint': '1' }, ret: { '#bigint': '0' }, cpu: { tag: 'Some', value: { to: expect.stringMatching(/to take host_mmu.lock/) } } });
    // no plain JSON number anywhere in the states: every integer is a #bigint
    const numbers = (v: unknown): number => (typeof v === 'number' ? 1 : v && typeof v === 'object' ? Object.entries(v).reduce((n, [k, w]) => n + (k === '#meta' ? 0 : numbers(w)), 0) : 0);
    expect(numbers(x.states)).toBe(0);
  });

  it('the variables a configuration has: the IOTLB only when modelled, the CPUs and locks only with several, ext only with a variant that adds state', () => {
    const vars = (name: string) => JSON.parse(readFileSync(itf[name], 'utf8')).vars as string[];
    expect(vars('one CPU (the seed)').filter((v) => ['iotlb', 'cpus', 'locks', 'ext'].includes(v))).toEqual([]);
    expect(vars('one CPU with the IOTLB')).toContain('iotlb');
    expect(vars('one CPU with the IOTLB')).not.toContain('cpus');
    expect(vars('two CPUs, a variant with state of its own')).toEqual(expect.arrayContaining(['ext', 'cpus', 'locks', 'iotlb']));
    const x = JSON.parse(readFileSync(itf['two CPUs, a variant with state of its own'], 'utf8'));
    expect(x.states[0].ext['#map'][0][0]).toBe('host_state');
    // the IOTLB trace fills an IOTLB entry: a map from the IOVA slot to the page
    const io = JSON.parse(readFileSync(itf['one CPU with the IOTLB'], 'utf8'));
    expect(io.states.at(-1).iotlb).toEqual([{ '#map': [[{ '#bigint': '0' }, { '#bigint': '0' }]] }]);
  });

  it('reads plain JSON integers too (as Apalache writes them)', () => {
    const text = readFileSync(itf['one CPU (the seed)'], 'utf8').replace(/\{"#bigint":"(-?\d+)"\}/g, '$1');
    expect(text).not.toContain('#bigint');
    expect(json(importItf(JSON.parse(text)).trace)).toEqual(json(load(native['one CPU (the seed)'])));
  });

  it('itfText writes one line per state', () => {
    const t = load(native['two CPUs (IOTLB on)']);
    const text = itfText(traceToItf(t, statesOf(t)));
    expect(text.split('\n')).toHaveLength(t.steps.length + 1 + 7);
  });
});

describe('replay of ITF files', () => {
  for (const name of Object.keys(CASES))
    it(`${name}: the ITF file, and a native trace exported to ITF, reproduce the native trace's violation`, async () => {
      const nat = await runCli(['replay', native[name], '--json']);
      const exported = join(dir, `exported-${name.replace(/\W+/g, '-')}.itf.json`);
      expect((await runCli(['export', native[name], '--to', 'itf', '--out', exported])).code).toBe(0);
      for (const f of [itf[name], exported]) {
        const r = await runCli(['replay', f, '--json']);
        expect(r.code).toBe(1);
        const j = JSON.parse(r.out);
        const n = JSON.parse(nat.out);
        expect({ result: j.result, invariant: j.invariant, atStep: j.atStep, message: j.message, identical: j.identical }).toEqual({
          result: 'reproduced',
          invariant: n.invariant,
          atStep: n.atStep,
          message: n.message,
          identical: true,
        });
        expect(j.itf).toEqual({ states: n.steps.length + 1, mismatch: null });
      }
      const text = await runCli(['replay', itf[name]]);
      expect(text.out).toMatch(/ITF states: every replayed state equals the file's/);
    });

  it("a replayed state that differs from the file's: the first differing step and variable are named", async () => {
    const x = JSON.parse(readFileSync(itf['two CPUs (IOTLB on)'], 'utf8'));
    x.states[5].ghost.pins[0] = { '#bigint': '1' };
    x.states[7].hostS2[0] = { tag: 'zero', value: { '#tup': [] } };
    const f = join(dir, 'edited.itf.json');
    writeFileSync(f, JSON.stringify(x));
    const r = await runCli(['replay', f]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ {2}5\. .*\(state differs from the recording\)$/m);
    expect(r.out).toMatch(/ITF states: the replayed state differs from the file's state after step 5, first in variable ghost: ghost\.pins\[0\] is 1 in the file, 0 in the replay/);
    expect(JSON.parse((await runCli(['replay', f, '--json'])).out).itf.mismatch).toEqual({ step: 5, variable: 'ghost', path: 'ghost.pins[0]', expected: 1, actual: 0 });
  });
});

describe('ITF input refused with a one-line message naming the place', () => {
  const good = () => JSON.parse(readFileSync(itf['one CPU (the seed)'], 'utf8'));
  const cases: [string, (x: Record<string, any>) => void, RegExp][] = [
    ['a value that is no ITF value', (x) => (x.states[1].hypS1 = null), /^not an ITF trace: \/states\/1\/hypS1: /],
    ['a state field starting with #', (x) => (x.states[1]['#other'] = 1), /^not an ITF trace: \/states\/1: /],
    ['not written by pkvm-check', (x) => delete x['#meta']['pkvm-check'], /#meta\.pkvm-check is missing/],
    ['a header of another version', (x) => (x['#meta']['pkvm-check'].version = 2), /^#meta\.pkvm-check\/version: must be 1 \(got 2\)/],
    ['a bad configuration', (x) => (x['#meta']['pkvm-check'].config.ramPages = 0), /#meta\.pkvm-check\.config is invalid \(--ram-pages must be/],
    ['a host stage-2 leaf of an unknown kind', (x) => (x.states[1].hostS2[0] = { tag: 'other', value: { '#tup': [] } }), /^states\[1\]\.hostS2\[0\]: expected one of \{"tag": "zero"/],
    ['a page beyond the configuration', (x) => (x.states[1].hypS1 = { '#map': [[{ '#bigint': '9' }, { '#bigint': '1' }]] }), /^states\[1\]\.hypS1 key 0: expected an integer from 0 to 2/],
    ['a list of the wrong length', (x) => x.states[2].hostS2.pop(), /^states\[2\]\.hostS2: expected a list of 3/],
    ['a missing variable', (x) => delete x.states[2].vmemmap, /^states\[2\]\.vmemmap: the variable is missing/],
    ['a missing record field', (x) => delete x.states[1]['pkvm::step'].value.ret, /^states\[1\]\.pkvm::step\.Some: expected a record with a field ret/],
    ['no mbt variables', (x) => (x.vars = x.vars.filter((v: string) => v !== 'mbt::actionTaken')), /^vars: mbt::actionTaken is missing/],
  ];
  for (const [name, edit, msg] of cases)
    it(name, () => {
      const x = good();
      edit(x);
      let error: unknown;
      try {
        importItf(x);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TraceFormatError);
      expect((error as Error).message).toMatch(msg);
      expect((error as Error).message).not.toContain('\n');
    });
});
