/** host-recoverable end to end: the leaking mutant fails it with a readable witness, the fixed design passes it, the seed's leak shows. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/index.ts';
import { selectProperties } from '../../invariants/index.ts';
import { searchFor } from '../../cli/engine.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { PkvmModel } from '../../model/system.ts';
import { builtinVariant } from '../../model/variants/index.ts';
import { runCli } from '../run-cli.ts';

const json = async (args: string[]) => {
  const r = await runCli([...args, '--quiet', '--json']);
  return { code: r.code, j: JSON.parse(r.out) };
};
const LEAK = ['check', '--variant', 'unshare-dma-leaks-page-0', '--invariant', 'host-recoverable', '--refcount-bits', '2'];

describe('the property', () => {
  it('no obligation in the initial state; a page mapped for DMA is one, discharged again once unmapped (rfc-v1-fixed)', () => {
    const v = builtinVariant('rfc-v1-fixed')!;
    const m = new PkvmModel(DEFAULT_CONFIG, v);
    const [p] = selectProperties(DEFAULT_CONFIG, ['host-recoverable'], v);
    if (p.kind !== 'recoverable') throw new Error('not a recoverable property');
    const s0 = m.initialStates()[0];
    expect([p.pending(s0), p.discharged(s0)]).toEqual([0, 0b11]);
    const map = m.actions(s0).findIndex((a) => a.op === 'iommu_map' && a.args.pfn === 0 && a.args.npages === 1 && a.args.domain === 0 && a.args.iova === 0);
    const s1 = m.step(s0, m.actions(s0)[map]).state;
    expect([p.pending(s1), p.discharged(s1)]).toEqual([0b01, 0b10]);
    const unmap = m.actions(s1).findIndex((a) => a.op === 'iommu_unmap');
    const s2 = m.step(s1, m.actions(s1)[unmap]).state;
    expect([p.pending(s2), p.discharged(s2)]).toEqual([0, 0b11]);
  });

  it('is off by default: not checked, not in the result', async () => {
    const { j } = await json(['check', '--variant', 'rfc-v1-fixed', '--depth', '2', '--no-trace']);
    expect(j.invariants).not.toContain('host-recoverable');
    expect(j.recoverability).toBeUndefined();
    expect(j.stats.graph).toBeUndefined();
    expect((await runCli(['list', 'invariants'])).out).toMatch(/host-recoverable +\[recoverable; off by default: --invariant host-recoverable\]/);
  });
});

describe('unshare-dma-leaks-page-0 fails it', () => {
  it('the shortest stuck state: page 0 mapped once (every unmap will leak its reference), with its closure and verdict', async () => {
    const { code, j } = await json([...LEAK, '--no-trace']);
    expect(code).toBe(1);
    expect(j.stats.exhausted).toBe(true);
    expect(j.violation).toMatchObject({ invariant: 'host-recoverable', length: 1 });
    expect(j.violation.message).toMatch(/^page 0 \(0x80000000\) can never again be the host's, PKVM_PAGE_OWNED with refcount 0: the \d+ state\(s\) reachable from here/);
    expect(j.recoverability[0]).toMatchObject({ property: 'host-recoverable', verdict: 'violated', undecided: 0 });
    expect(j.recoverability[0].stuck).toBeGreaterThan(0);
  });

  it('the text says why no undo exists: the page, then what each enabled operation returns and leads to', async () => {
    const r = await runCli([...LEAK, '--no-trace', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('is stuck (page 0 (0x80000000) can never come back)');
    expect(r.out).toContain('  1. [host] iommu_map(domain=0, iova=0x0, pfn=0, npages=1) = 0');
    expect(r.out).toContain('page 0 (0x80000000) now: host SHARED_OWNED, hypervisor NOPAGE, hyp_page.refcount 1, reached by DMA through domain 0 IOVA 0x0');
    expect(r.out).toMatch(/the \d+ operation\(s\) enabled here, and what each does:/);
    expect(r.out).toContain('__pkvm_host_unshare_hyp(pfn=0) = -EBUSY: changes nothing');
    expect(r.out).toMatch(/iommu_unmap\(domain=0, iova=0x0, npages=1\) = 0: leads to a state that is stuck too \(\d+ state\(s\) reachable from it, none giving the page back\)/);
    expect(r.out).toMatch(/recoverable: host-recoverable VIOLATED; of [\d,]+ state\(s\) where a page is not clean/);
  });

  it('its trace replays to the stuck state and explores its future again; on rfc-v1-fixed the page comes back', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pkvm-rec-')), 't.json');
    const { j } = await json([...LEAK, '--trace-out', file]);
    const recorded = Number(/the (\d+) state\(s\) reachable/.exec(j.violation.message)![1]);
    const replay = async (args: string[]) => {
      const r = await runCli(['replay', file, '--json', ...args]);
      return { code: r.code, j: JSON.parse(r.out) };
    };
    const same = await replay([]);
    expect(same.code).toBe(1);
    expect(same.j).toMatchObject({ result: 'reproduced', atStep: 1, identical: true });
    expect(same.j.message).toContain(`the ${recorded} state(s) reachable from it (recorded: ${recorded}) were all explored`);
    const fixed = await replay(['--variant', 'rfc-v1-fixed']);
    expect(fixed.code).toBe(0);
    expect(fixed.j).toMatchObject({ result: 'not-reproduced', note: "page 0 (0x80000000) comes back 1 step(s) after the trace's end" });
  });
});

describe('rfc-v1-fixed passes it', () => {
  it.each([[[]], [['--host', 'iommu']]])('exhaustive at the default bounds %j: holds, every state with a page out can give it back', async (extra) => {
    const { code, j } = await json(['check', '--variant', 'rfc-v1-fixed', '--invariant', 'host-recoverable', '--no-trace', ...extra]);
    expect(code).toBe(0);
    expect(j.stats.exhausted).toBe(true);
    expect(j.stats.distinctStates).toBe(13196);
    expect(j.recoverability[0]).toMatchObject({ verdict: 'holds', stuck: 0, undecided: 0 });
    expect(j.recoverability[0].recoverable).toBe(j.recoverability[0].pending);
  });

  it('under a depth bound it is not decided, never "holds"', async () => {
    const { code, j } = await json(['check', '--variant', 'rfc-v1-fixed', '--invariant', 'host-recoverable', '--no-trace', '--depth', '3']);
    expect(code).toBe(0);
    expect(j.recoverability[0].verdict).toBe('undecided');
    expect(j.recoverability[0].undecided).toBeGreaterThan(0);
    const text = await runCli(['check', '--variant', 'rfc-v1-fixed', '--invariant', 'host-recoverable', '--no-trace', '--depth', '3', '--quiet']);
    expect(text.out).toMatch(/recoverable: host-recoverable NOT DECIDED: a bound cut the future of [\d,]+ state\(s\), so it is not known to hold/);
  });
});

describe('the seed', () => {
  it("rfc-v1's 3-step refcount leak (the 2-page unmap over two pages) is a recoverability failure: page 0 keeps a reference forever", async () => {
    const { code, j } = await json(['check', '--variant', 'rfc-v1', '--invariant', 'host-recoverable', '--refcount-bits', '2', '--no-trace']);
    expect(code).toBe(1);
    expect(j.stats.exhausted).toBe(true);
    expect(j.violation).toMatchObject({ invariant: 'host-recoverable', length: 3 });
    expect(j.violation.message).toMatch(/^page 0 \(0x80000000\)/);
  });
});

describe('modes that keep no explored graph are refused', () => {
  it.each([['--por'], ['--symmetry'], ['--workers', '2'], ['--random'], ['--bitstate', '1']])('%s', async (...flag) => {
    const r = await runCli(['check', '--variant', 'rfc-v1-fixed', '--invariant', 'host-recoverable', '--no-trace', '--quiet', ...flag]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`^pkvm-check: --invariant host-recoverable cannot be combined with ${flag[0]} \\(`));
  });
});

describe('the generic search on the pkvm model', () => {
  it('the compiled and readable engines decide the same (exhaustive, and cut at depth 4)', () => {
    const v = builtinVariant('unshare-dma-leaks-page-0')!;
    const config = { ...DEFAULT_CONFIG, refcountBits: 2 };
    for (const maxDepth of [undefined, 4]) {
      const run = (engine: 'compiled' | 'readable') => {
        const s = searchFor(config, v, engine, ['host-recoverable']);
        const r = check(s.model, s.properties, { maxDepth, stopAtFirstViolation: false });
        return { verdicts: r.recoverability, stuck: r.status === 'violation' ? r.violations.map((x) => [x.path, x.stuck]) : [] };
      };
      const compiled = run('compiled');
      expect(compiled.verdicts![0].pending).toBeGreaterThan(0);
      expect(run('readable')).toEqual(compiled);
    }
  });
});
