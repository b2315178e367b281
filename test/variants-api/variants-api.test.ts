/**
 * Variants as first-class objects: a user's module loaded from outside the repository, errors
 * that name the variant and the piece, verify, diff and coverage.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineVariant, VariantError } from '../../model/variant.ts';
import { runCli as run } from '../run-cli.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-variants-'));
});

const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('a variant written by a user, outside the repository', () => {
  it('a .ts module exporting a spec object, based on a built-in variant by name, runs without a build step', async () => {
    const f = write(
      'skip-check.ts',
      `// A reviewer's "what if": __host_check_page_dma_shared trusts the host state alone.
interface Spec { name: string; description: string; base: string; replace: Record<string, Function> }
const spec: Spec = {
  name: 'what-if-no-hyp-check',
  description: 'What if __host_check_page_dma_shared did not look at the hypervisor stage-1?',
  base: 'rfc-v1-fixed',
  replace: {
    __host_check_page_dma_shared(this: any, phys: number): number {
      return this.__host_check_page_state_range(phys, 4096, 1 /* PKVM_PAGE_SHARED_OWNED */);
    },
  },
};
export default spec;
`,
    );
    const r = await run(['check', '--quiet', '--json', '--no-trace', '--variant', f, '--invariant', 'dma-isolation']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.variant).toBe('what-if-no-hyp-check');
    expect(j.violation.invariant).toBe('dma-isolation');
    expect(j.violation.length).toBe(3);
  });

  it('a .js module exporting a function of the modelling API', async () => {
    const f = write(
      'api.mjs',
      `export default ({ constants, variants }) => ({
  name: 'fixed-again',
  description: 'rfc-v1-fixed, restated through the API',
  base: variants['rfc-v1-fixed'],
  replace: {
    __pkvm_host_reclaim_page(pfn) {
      if (!this.addr_is_memory(this.hyp_pfn_to_phys(pfn))) return -constants.EINVAL;
      return variants['rfc-v1'].hyp.prototype.__pkvm_host_reclaim_page.call(this, pfn);
    },
  },
});
`,
    );
    const r = await run(['check', '--quiet', '--json', '--no-trace', '--variant', f]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).stats.distinctStates).toBe(13196);
  });

  it('a module that fails to load: exit 2, one line naming the variant', async () => {
    const f = write('broken.ts', 'export default { name: ;\n');
    const r = await run(['check', '--quiet', '--variant', f]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/variant '.*broken\.ts': cannot load the module/);
  });

  it('a module naming a piece that does not exist: exit 2, naming the variant and the piece', async () => {
    const f = write('nopiece.ts', `export default { name: 'typo', description: 'a typo', replace: { __pkvm_host_share_dma_pgae() { return 0; } } };\n`);
    const r = await run(['check', '--quiet', '--variant', f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/variant 'typo', piece '__pkvm_host_share_dma_pgae': no such piece of the model/);
  });

  it('a piece that throws while running: exit 2, naming the variant and the piece', async () => {
    const f = write('throws.ts', `export default { name: 'thrower', description: 'throws', replace: { __pkvm_host_share_hyp() { throw new Error('boom'); } } };\n`);
    const r = await run(['check', '--quiet', '--variant', f]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/variant 'thrower', piece '__pkvm_host_share_hyp': threw Error: boom/);
  });

  it('a piece that keeps state of its own between steps: the compiled engine says so (exit 2); the packed engine runs it', async () => {
    const f = write(
      'impure.ts',
      `let calls = 0;
export default { name: 'impure', description: 'a counter between steps', base: 'rfc-v1-fixed', replace: {
  __host_check_page_dma_shared(phys_addr: number) {
    (this as any).hyp_assert_lock_held('host_mmu.lock', '__host_check_page_dma_shared');
    calls++;
    const host = (this as any).__host_check_page_state_range(phys_addr, 4096, 1);
    return calls % 2 === 0 || host ? host : (this as any).__hyp_check_page_state_range(phys_addr, 4096, 2);
  } } };\n`,
    );
    const r = await run(['check', '--quiet', '--no-trace', '--variant', f]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/variant 'impure': .*not a function of the bytes it reads.*keep state of its own between steps/);
    const p = await run(['check', '--quiet', '--no-trace', '--engine', 'packed', '--variant', f]);
    expect(p.code).not.toBe(2);
  });

  it('a piece using a state extension the variant does not declare: exit 2, naming the extension', async () => {
    const f = write(
      'ext-typo.ts',
      `export default { name: 'ext-typo', description: 'a misspelt extension', base: 'rfc-v1-fixed', state: { marks: { size: 'pages', max: 3, initial: () => 0 } }, replace: { __pkvm_host_share_hyp(pfn) { this.mem.setExt('mark', pfn, 1); return 0; } } };\n`,
    );
    for (const engine of ['packed', 'readable']) {
      const r = await run(['check', '--quiet', '--no-trace', '--engine', engine, '--variant', f]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/variant 'ext-typo', piece '__pkvm_host_share_hyp': threw Error: no state extension 'mark' \(the variant declares 'marks'\)/);
    }
  });

  it('a module without a default export, or a missing file: exit 2', async () => {
    const f = write('empty.ts', 'export const x = 1;\n');
    expect((await run(['check', '--variant', f])).code).toBe(2);
    expect((await run(['check', '--variant', join(dir, 'missing.ts')])).err).toMatch(/does not exist/);
  });

  it('defineVariant refuses a replacement that is not a function and an added piece that exists', () => {
    expect(() => defineVariant({ name: 'x', description: 'x', replace: { do_share: 3 as never } })).toThrow(VariantError);
    expect(() => defineVariant({ name: 'x', description: 'x', add: { do_share: () => 0 } })).toThrow(/already a piece/);
  });
});

describe('verify', () => {
  it('prints the matrix and kills the mutants (json)', async () => {
    const r = await run(['verify', '--quiet', '--json', '--depth', '3', '--variant', 'rfc-v1-fixed', '--variant', 'dma-shared-skip-hyp-check', '--variant', 'share-dma-no-hyp-lock']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    const row = (v: string) => j.variants.find((x: { variant: string }) => x.variant === v);
    expect(Object.values(row('rfc-v1-fixed').invariants).every((c) => (c as { status: string }).status !== 'violated')).toBe(true);
    expect(row('dma-shared-skip-hyp-check').invariants['dma-isolation']).toMatchObject({ status: 'violated', length: 3 });
    expect(row('share-dma-no-hyp-lock').invariants['lock-discipline']).toMatchObject({ status: 'violated', length: 1 });
  });

  it('text matrix', async () => {
    const r = await run(['verify', '--quiet', '--depth', '2', '--variant', 'rfc-v1']);
    expect(r.out).toMatch(/variant +iso +rc +own/);
    expect(r.out).toMatch(/rfc-v1 +\S+/);
  });
});

describe('diff', () => {
  it('a variant against itself agrees (exhaustive on the fixed design)', async () => {
    const r = await run(['diff', 'rfc-v1-fixed', 'rfc-v1-fixed', '--quiet', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.result).toBe('agree');
    expect(j.stats.exhausted).toBe(true);
    expect(j.stats.distinctStates).toBe(13196);
  });

  it('the seed against the base fix: diverges after 2 steps on __pkvm_host_unshare_hyp', async () => {
    const r = await run(['diff', 'rfc-v1', 'rfc-v1-base-fix', '--quiet', '--json', '--no-trace']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.divergence.length).toBe(2);
    expect(j.divergence.message).toMatch(/__pkvm_host_unshare_hyp\(pfn=0\) returns 1 on rfc-v1 but -EPERM on rfc-v1-base-fix/);
  });

  it('the base fix against the fixed design: the block unmap, 3 steps, with a trace that replays on both sides', async () => {
    const t = join(dir, 'diff.json');
    const r = await run(['diff', 'rfc-v1-base-fix', 'rfc-v1-fixed', '--quiet', '--json', '--trace-out', t]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.divergence.length).toBe(3);
    expect(j.divergence.message).toMatch(/BUG_ON in hyp_page_ref_dec_and_test/);
    expect((await run(['replay', t])).code).toBe(0);
    expect((await run(['replay', t, '--variant', 'rfc-v1-fixed'])).code).toBe(0);
  });
});

describe('coverage', () => {
  const coverage = async (depth: number) =>
    JSON.parse((await run(['check', '--quiet', '--json', '--no-trace', '--variant', 'rfc-v1', '--all', '--coverage', '--depth', String(depth)])).out).coverage;
  const pinned = 'hyp_ack_unshare: page is pinned (-EBUSY)';

  it('reports calls, return values, errnos never returned and named branches never taken', async () => {
    const c = await coverage(1);
    expect(c.neverCalled).toContain('hyp_ack_unshare');
    const piece = (name: string) => c.pieces.find((p: { piece: string }) => p.piece === name);
    expect(piece('__pkvm_host_share_hyp').returns['0']).toBeGreaterThan(0);
    expect(piece('check_share').errnosNeverReturned).toContain('-EINVAL');
    expect(c.branches.find((b: { name: string }) => b.name === pinned).taken).toBe(0);
    expect(c.branches.some((b: { taken: number }) => b.taken > 0)).toBe(true);
  });

  it('a deeper run reaches the pinned branch (unshare_hyp of a DMA-mapped page: -EBUSY)', async () => {
    const c = await coverage(2);
    expect(c.branches.find((b: { name: string }) => b.name === pinned).taken).toBeGreaterThan(0);
  });
});
