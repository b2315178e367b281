/**
 * --refcount-helpers upstream: nvhe/memory.h's plain helpers (BUG_ON(refcount == USHRT_MAX) before
 * an increment, BUG_ON(!refcount) before a decrement, BUG_ON(refcount) in hyp_set_page_refcounted)
 * against the seed's base's atomic ones (BUG on a negative signed result, WARN in
 * hyp_set_page_refcounted). Each difference is shown on the model, and the default is unchanged.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, refcountMax, validateConfig } from '../../model/config.ts';
import { RFC_V1, RFC_V1_FIXED } from '../../model/variants/index.ts';
import { makeModel, messageOf, reader, run, shortest, verdict } from '../variants/util.ts';
import { runCli } from '../run-cli.ts';

const UPSTREAM = { refcountHelpers: 'upstream' } as const;
const SHARE = ['__pkvm_host_share_dma', { phys: 0, size: 4096, is_ram: true }] as const;

describe('configuration', () => {
  it('atomic is the default and leaves the configuration as it was; upstream is recorded', () => {
    expect('refcountHelpers' in validateConfig(DEFAULT_CONFIG)).toBe(false);
    expect('refcountHelpers' in validateConfig({ ...DEFAULT_CONFIG, refcountHelpers: 'atomic' as never })).toBe(false);
    expect(validateConfig({ ...DEFAULT_CONFIG, ...UPSTREAM }).refcountHelpers).toBe('upstream');
    expect(() => validateConfig({ ...DEFAULT_CONFIG, refcountHelpers: 'lockless' as never })).toThrow(/--refcount-helpers must be atomic or upstream/);
    expect(refcountMax({ ...DEFAULT_CONFIG, refcountBits: 16 })).toBe(32767);
    expect(refcountMax({ ...DEFAULT_CONFIG, refcountBits: 16, ...UPSTREAM })).toBe(65535);
  });
});

describe('overflow: a 2-bit count, direct share_dma calls of an adversarial host', () => {
  for (const [name, overrides, ok] of [
    ['atomic: the second reference is negative as a signed 2-bit value', {}, 1],
    ['upstream: the count reaches USHRT_MAX (3) and the next increment BUGs', UPSTREAM, 3],
  ] as const)
    it(name, () => {
      const model = makeModel(RFC_V1, { host: 'adversarial', refcountBits: 2, ...overrides });
      const rs = run(model, Array.from({ length: ok + 1 }, () => SHARE));
      rs.slice(0, ok).forEach((r, i) => {
        expect(r.ret).toBe(0);
        expect(reader(model, r.state).refcount(0)).toBe(i + 1);
      });
      const bug = rs[ok].outcome.failures.find((f) => f.kind === 'BUG_ON');
      expect(bug?.where).toMatch(/^hyp_page_ref_inc/);
    });
});

describe('the seed under each set of helpers (default bounds, depth 8)', () => {
  const atomic = verdict(RFC_V1, {}, 8);
  const upstream = verdict(RFC_V1, UPSTREAM, 8);
  it('the allocator taking a page with a count: a WARN with the atomic helpers, a hyp panic upstream', () => {
    expect(messageOf(atomic, 'no-warn')).toBeDefined();
    const keys = (r: typeof atomic) => (r.status === 'violation' ? r.violations.map((v) => `${v.property}@${v.finding.key ?? ''}`) : []);
    expect(keys(atomic)).toContain('no-warn@hyp_set_page_refcounted');
    expect(keys(atomic)).not.toContain('no-bug@hyp_set_page_refcounted');
    expect(keys(upstream)).toContain('no-bug@hyp_set_page_refcounted');
    expect(keys(upstream)).not.toContain('no-warn@hyp_set_page_refcounted');
    const at = (r: typeof atomic, k: string) => (r.status === 'violation' ? r.violations.find((v) => `${v.property}@${v.finding.key ?? ''}` === k)!.path.actions.length : -1);
    expect(at(upstream, 'no-bug@hyp_set_page_refcounted')).toBe(at(atomic, 'no-warn@hyp_set_page_refcounted'));
  });
  it('an underflow BUGs in hyp_page_ref_dec upstream (dec_and_test calls it), in the atomic add otherwise', () => {
    const keys = (r: typeof atomic) => (r.status === 'violation' ? r.violations.map((v) => `${v.property}@${v.finding.key ?? ''}`) : []);
    expect(keys(atomic)).toContain('no-bug@hyp_page_ref_dec_and_test');
    expect(keys(upstream)).toContain('no-bug@hyp_page_ref_dec');
    expect(keys(upstream)).not.toContain('no-bug@hyp_page_ref_dec_and_test');
  });
});

describe('rfc-v1-fixed keeps every invariant with either set of helpers', () => {
  for (const host of ['driver', 'iommu'] as const)
    it(`host ${host}: exhaustive, the same states`, () => {
      const a = verdict(RFC_V1_FIXED, { host }, 1000);
      const u = verdict(RFC_V1_FIXED, { host, ...UPSTREAM }, 1000);
      expect(shortest(a)).toEqual({});
      expect(shortest(u)).toEqual({});
      expect(u.exhausted).toBe(true);
      expect(u.stats.distinctStates).toBe(a.stats.distinctStates);
    });
});

describe('command line', () => {
  it('--refcount-helpers upstream is named in the configuration line; a bad value exits 2', async () => {
    const r = await runCli(['check', '--variant', 'rfc-v1-fixed', '--refcount-helpers', 'upstream', '--quiet', '--no-trace']);
    expect(r.code).toBe(0);
    expect(r.out).toContain("16-bit refcount (upstream's helpers)");
    const bad = await runCli(['check', '--refcount-helpers', 'lockless', '--quiet', '--no-trace']);
    expect(bad.code).toBe(2);
  });
});
