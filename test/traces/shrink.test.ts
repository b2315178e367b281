/**
 * Shrinking pKVM traces on real seed violations: a shrunk trace replays and violates the same
 * invariant with the same key, and never has more steps or entities than the trace it came from.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectProperties, selectProperty } from '../../invariants/index.ts';
import { DEFAULT_CONFIG, validateConfig, type PkvmConfig } from '../../model/config.ts';
import { configReductions, configSize } from '../../model/shrink.ts';
import type { PkvmAction } from '../../model/operations.ts';
import { actionKey, PkvmModel } from '../../model/system.ts';
import { builtinVariant } from '../../model/variants/index.ts';
import { RFC_V1 } from '../../model/variant.ts';
import { buildTrace } from '../../traces/build.ts';
import { parseTrace, type TraceFile } from '../../traces/format.ts';
import { replayTrace } from '../../traces/replay.ts';
import { shrinkTrace, traceFinding, type ShrinkResult } from '../../traces/shrink.ts';
import { runCli } from '../run-cli.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-shrink-'));
});

const SIZES = ['steps', 'pages', 'domains', 'guests', 'cpus', 'iovas', 'guestIpas', 'maxRange'] as const;

/** What every shrink must give: a trace that replays to the same violation (same key), no larger in any respect. */
function expectSound(input: TraceFile, r: ShrinkResult): void {
  const variant = builtinVariant(input.variant)!;
  const out = parseTrace(JSON.stringify(r.trace));
  const config = validateConfig(out.config);
  const replay = replayTrace(new PkvmModel(config, variant), out, selectProperties(config, undefined, variant));
  expect(replay.status).toBe('reproduced');
  if (replay.status === 'reproduced') {
    expect(replay.invariant).toBe(input.violation!.invariant);
    expect(replay.identical).toBe(true);
    expect(replay.atStep).toBe(out.steps.length);
  }
  expect(traceFinding(out, variant, selectProperty)?.key).toBe(traceFinding(input, variant, selectProperty)?.key);
  for (const k of SIZES) expect(r.after[k]).toBeLessThanOrEqual(r.before[k]);
  expect(r.before).toEqual({ steps: input.steps.length, ...configSize(validateConfig(input.config)) });
  expect(r.after).toEqual({ steps: out.steps.length, ...configSize(config) });
}

async function found(args: string[], name: string): Promise<TraceFile> {
  const file = join(dir, name);
  const r = await runCli(['check', '--quiet', '--trace-out', file, ...args]);
  expect(r.code).toBe(1);
  return parseTrace(readFileSync(file, 'utf8'));
}

describe('shrinking seed violations', () => {
  it("the README's dma-isolation trace found with --ram-pages 3 --domains 3 shrinks back (and further: one page, one domain)", async () => {
    const input = await found(['--ram-pages', '3', '--domains', '3', '--invariant', 'dma-isolation'], 'iso.json');
    const r = shrinkTrace(input, RFC_V1, selectProperty);
    expectSound(input, r);
    expect(r.before).toMatchObject({ pages: 4, domains: 3 });
    expect(r.after).toEqual({ steps: 3, pages: 1, domains: 1, guests: 1, cpus: 1, iovas: 2, guestIpas: 1, maxRange: 1 });
    expect(r.trace.steps.map((s) => s.call)).toEqual(['__pkvm_host_share_guest(pfn=0, gfn=0, vm=0)', '__pkvm_host_unshare_hyp(pfn=0)', 'iommu_map(domain=0, iova=0x0, pfn=0, npages=1)']);
  });

  it('check --all --shrink: every violation shrinks soundly, keeping its key; the seed bug keeps the pages and range it needs', async () => {
    const file = join(dir, 'all.json');
    const r = await runCli(['check', '--quiet', '--json', '--all', '--depth', '5', '--ram-pages', '3', '--domains', '3', '--guests', '2', '--shrink', '--trace-out', file]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.violations.length).toBeGreaterThanOrEqual(8);
    for (const v of j.violations) {
      const t = parseTrace(readFileSync(v.trace, 'utf8'));
      expect(t.steps.length).toBe(v.length);
      expect(v.shrunk.after.steps).toBe(v.length);
      for (const k of SIZES) expect(v.shrunk.after[k]).toBeLessThanOrEqual(v.shrunk.before[k]);
      expect(traceFinding(t, RFC_V1, selectProperty)?.key ?? null).toBe(v.key);
      const rep = await runCli(['replay', v.trace]);
      expect(rep.code).toBe(1);
      expect(rep.out).toContain(`reproduced on rfc-v1: ${v.invariant} is violated at step ${v.length}`);
    }
    // the 2-page unmap of the seed needs two pages and ranges of two
    const bug = j.violations.find((v: { key: string }) => v.key === 'hyp_page_ref_dec_and_test');
    expect(bug.shrunk.after).toMatchObject({ pages: 2, maxRange: 2, domains: 1, guests: 0 });
  });

  it('a trace of two CPUs whose calls do not overlap shrinks to one CPU', async () => {
    const input = await found(['--cpus', '2'], 'cpus.json');
    const r = shrinkTrace(input, RFC_V1, selectProperty);
    expectSound(input, r);
    expect(r.before.cpus).toBe(2);
    expect(r.after.cpus).toBe(1);
    expect(r.after.steps).toBeLessThan(r.before.steps);
  });

  it('keeps the IOVA slots a violation needs (the pgcount wrap at --iovas 4)', async () => {
    const input = await found(['--iovas', '4'], 'iovas.json');
    const r = shrinkTrace(input, RFC_V1, selectProperty);
    expectSound(input, r);
    expect(r.after.iovas).toBe(4);
  });

  it('drops the steps a violation does not need (delta debugging) and is deterministic', () => {
    // the README's base-bug trace with steps of noise around it, on a larger configuration
    const config = validateConfig({ ...DEFAULT_CONFIG, ramPages: 4, domains: 3, guests: 2, iovas: 4 });
    const input = traceOf(
      config,
      [
        'host_access(pfn=3)',
        'iommu_map(domain=2, iova=0x2000, pfn=2, npages=1)',
        '__pkvm_host_share_guest(pfn=1, gfn=0, vm=1)',
        '__pkvm_host_share_hyp(pfn=3)',
        'guest_access(vm=1, ipa=0)',
        '__pkvm_host_unshare_hyp(pfn=1)',
        'host_access(pfn=0)',
        'iommu_map(domain=1, iova=0x0, pfn=1, npages=1)',
      ],
      'dma-isolation',
    );
    const r = shrinkTrace(input, RFC_V1, selectProperty);
    expectSound(input, r);
    expect(r.after).toEqual({ steps: 3, pages: 1, domains: 1, guests: 1, cpus: 1, iovas: 2, guestIpas: 1, maxRange: 1 });
    expect(r.trace.steps.map((s) => s.call)).toEqual(['__pkvm_host_share_guest(pfn=0, gfn=0, vm=0)', '__pkvm_host_unshare_hyp(pfn=0)', 'iommu_map(domain=0, iova=0x0, pfn=0, npages=1)']);
    expect(JSON.stringify(shrinkTrace(input, RFC_V1, selectProperty))).toBe(JSON.stringify(r));
  });
});

/** The trace of `calls` (printed as describeAction prints them) on a configuration, violating `invariant` at its end. */
function traceOf(config: PkvmConfig, calls: readonly string[], invariant: string): TraceFile {
  const model = new PkvmModel(config);
  let state = model.initialStates()[0];
  const path: number[] = [];
  for (const c of calls) {
    const ai = model.actions(state).findIndex((a) => model.describeAction(a) === c);
    expect(ai, c).toBeGreaterThanOrEqual(0);
    path.push(ai);
    state = model.step(state, model.actions(state)[ai]).state;
  }
  const prop = selectProperties(config, [invariant])[0];
  return buildTrace(new PkvmModel(config), { init: 0, actions: path }, { property: prop.name, kind: prop.kind === 'step' ? 'step' : 'state', finding: { message: '' }, path: { init: 0, actions: path }, description: prop.description });
}

describe('the violation kept is the one at the end of the trace', () => {
  it('the same invariant failing earlier with another key does not count', () => {
    // failure-atomicity at __pkvm_host_unshare_hyp (the base bug, on page 2) first, then at iommu_unmap (the seed)
    const config = validateConfig({ ...DEFAULT_CONFIG, ramPages: 3 });
    const input = traceOf(
      config,
      [
        '__pkvm_host_share_guest(pfn=2, gfn=0, vm=0)',
        '__pkvm_host_unshare_hyp(pfn=2)',
        '__pkvm_host_donate_hyp(pfn=1, nr_pages=1)',
        'iommu_map(domain=0, iova=0x0, pfn=0, npages=1)',
        'iommu_map(domain=0, iova=0x1000, pfn=0, npages=1)',
        'hyp_alloc_page(pfn=1)',
        'iommu_unmap(domain=0, iova=0x0, npages=2)',
      ],
      'failure-atomicity',
    );
    expect(traceFinding(input, RFC_V1, selectProperty)?.key).toBe('iommu_unmap');
    const r = shrinkTrace(input, RFC_V1, selectProperty);
    expectSound(input, r);
    expect(traceFinding(r.trace, RFC_V1, selectProperty)?.key).toBe('iommu_unmap');
    expect(r.after).toMatchObject({ steps: 5, pages: 2, guests: 0 });
  });
});

describe('mapping actions onto a smaller configuration', () => {
  const config: PkvmConfig = validateConfig({ ...DEFAULT_CONFIG, ramPages: 3, mmioPages: 1, domains: 2, guests: 2, iovas: 4, host: 'iommu' });
  const reduction = (label: string) => configReductions(config).find((r) => r.label === label)!;
  const map = (label: string, actions: readonly PkvmAction[]) => reduction(label).map(actions).map(actionKey);

  it('leaves out the actions that name the entity taken away, and renames the ones after it', () => {
    const acts: PkvmAction[] = [
      { op: 'host_access', args: { pfn: 0 } },
      { op: 'host_access', args: { pfn: 1 } },
      { op: 'host_access', args: { pfn: 3 } },
      { op: '__pkvm_host_donate_hyp', args: { pfn: 0, nr_pages: 2 } },
      { op: '__pkvm_host_donate_hyp', args: { pfn: 2, nr_pages: 2 } },
    ];
    expect(map('RAM page 1', acts)).toEqual(['host_access(pfn=0)', 'host_access(pfn=2)', '__pkvm_host_donate_hyp(nr_pages=2,pfn=1)']);
    expect(reduction('RAM page 1').config).toMatchObject({ ramPages: 2, mmioPages: 1 });
    const dom = [
      { op: 'device_dma', args: { domain: 0, iova: 0 } },
      { op: 'device_dma', args: { domain: 1, iova: 0x3000 } },
    ];
    expect(map('domain 0', dom)).toEqual(['device_dma(domain=0,iova=12288)']);
    expect(map('IOVA slots 2-3', dom)).toEqual(['device_dma(domain=0,iova=0)']);
    expect(map('IOVA slots 0-1', dom)).toEqual(['device_dma(domain=1,iova=4096)']);
    const unmap = [{ op: 'kvm_iommu_unmap_pages', args: { domain: 0, iova: 0x1000, pgsize: 0x2000, pgcount: 1 } }];
    expect(map('IOVA slots 2-3', unmap)).toEqual([]);
    expect(map('guest 0', [{ op: 'guest_access', args: { vm: 1, ipa: 0 } }])).toEqual(['guest_access(ipa=0,vm=0)']);
  });

  it('with one CPU left, calls run whole: their starts become calls, their steps go', () => {
    const two = validateConfig({ ...DEFAULT_CONFIG, cpus: 2, preemptions: 1 });
    const r = configReductions(two).find((x) => x.label === 'CPU 1')!;
    expect(r.config).toMatchObject({ cpus: 1, preemptions: -1 });
    const acts: PkvmAction[] = [
      { op: 'host_access', args: { pfn: 0 }, cpu: 1, entry: 0 },
      { op: 'host_access', args: { pfn: 1 }, cpu: 0, entry: 1 },
      { op: 'step', args: {}, cpu: 0 },
      { op: 'step', args: {}, cpu: 1 },
      { op: 'hyp_alloc_page', args: { pfn: 0 } },
    ];
    expect(r.map(acts)).toEqual([{ op: 'host_access', args: { pfn: 1 } }, { op: 'hyp_alloc_page', args: { pfn: 0 } }]);
  });
});

describe('pkvm-check shrink', () => {
  it('writes a trace that replay reproduces, and prints the sizes before and after', async () => {
    const file = join(dir, 'cli.json');
    await runCli(['check', '--quiet', '--ram-pages', '3', '--trace-out', file]);
    const out = join(dir, 'cli-small.json');
    const r = await runCli(['shrink', file, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/steps \d+ -> \d+, pages 4 -> 1, domains 2 -> 0, guests 1 -> 1, CPUs 1 -> 1/);
    const rep = await runCli(['replay', out]);
    expect(rep.code).toBe(1);
    expect(rep.out).toMatch(/reproduced on rfc-v1: no-warn is violated/);
    const json = JSON.parse((await runCli(['shrink', file, '--json'])).out);
    expect(json.out).toBe(join(dir, 'cli.shrunk.json'));
    expect(json.after.pages).toBe(1);
  });

  it('refuses, with exit 2 and one line, a trace that records no violation or does not reproduce', async () => {
    const file = join(dir, 'cli2.json');
    await runCli(['check', '--quiet', '--trace-out', file]);
    const t = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(join(dir, 'none.json'), JSON.stringify({ ...t, violation: null }));
    const a = await runCli(['shrink', join(dir, 'none.json')]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/^pkvm-check: cannot shrink .*records no violation/);
    const b = await runCli(['shrink', file, '--variant', 'rfc-v1-base-fix']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/does not replay to a violation of no-warn/);
    expect(b.err.trim().split('\n')).toHaveLength(1);
  });
});
