/**
 * docs/variants.md: every example module loads through the CLI and gives the verdict the
 * walkthrough states, with the traces, replays, diff, coverage, verify rows and errors it shows.
 * Importing the examples here also type-checks them (tsc follows the imports).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VARIANT_API } from '../../cli/variants.ts';
import { defineVariant } from '../../model/variant.ts';
import { BUILTIN_VARIANTS } from '../../model/variants/index.ts';
import minimal from '../../docs/examples/minimal.ts';
import passthrough from '../../docs/examples/dma-passthrough.ts';
import passthroughFixed from '../../docs/examples/dma-passthrough-fixed.ts';
import { runCli as run } from '../run-cli.ts';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pkvm-check.js');
const EX = 'docs/examples';

const json = async (args: string[]) => {
  const r = await run([...args, '--quiet', '--json']);
  return { code: r.code, j: JSON.parse(r.out) };
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pkvm-check-doc-'));
  process.chdir(ROOT);
});

describe('the doc exists and names the example files', () => {
  it('docs/variants.md runs the commands on docs/examples/', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'variants.md'), 'utf8');
    for (const f of ['minimal.ts', 'dma-passthrough.ts', 'dma-passthrough-fixed.ts', 'typo-piece.ts', 'throws.ts', 'throws-on-load.ts'])
      expect(doc).toContain(`npx pkvm-check check --variant ${EX}/${f}`);
  });

  it('the section "Built-in variants" has a heading for every built-in variant', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'variants.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## Built-in variants'));
    const headings = [...section.matchAll(/^### (\S+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(BUILTIN_VARIANTS.map((v) => v.name));
  });

  it('the modules build with defineVariant, as the CLI builds them', () => {
    expect(defineVariant({ ...minimal, base: VARIANT_API.variants['rfc-v1-fixed'] }).replaces).toContain('__host_check_page_dma_shared');
    const pt = passthrough(VARIANT_API);
    const v = defineVariant({ ...pt, base: VARIANT_API.variants['rfc-v1-fixed'] });
    expect(v.adds).toEqual(['__pkvm_host_passthrough_dma', '__pkvm_host_unpassthrough_dma']);
    expect(Object.keys(v.state)).toEqual(['dma_passthrough']);
    expect(defineVariant(passthroughFixed(VARIANT_API)).base).toBe('dma-passthrough');
  });
});

describe('1. minimal.ts: the shortest loss of DMA isolation is 3 steps (driver host)', () => {
  it('check', async () => {
    const { code, j } = await json(['check', '--variant', `${EX}/minimal.ts`, '--no-trace']);
    expect(code).toBe(1);
    expect(j.variant).toBe('what-if-host-side-only');
    expect(j.violation.invariant).toBe('dma-isolation');
    expect(j.violation.length).toBe(3);
    expect(j.violation.message).toBe('page 0 (0x80000000) is reachable by DMA through domain 0 at IOVA 0x0 but is mapped by the hypervisor (SHARED_BORROWED)');
    expect(j.stats.distinctStates).toBe(611);
  });

  it('the text trace shows the calls, the nested hypercall and the changes', async () => {
    const r = await run(['check', '--variant', `${EX}/minimal.ts`, '--quiet', '--trace-out', join(dir, 'minimal.json')]);
    expect(r.out).toMatch(/  1\. \[host\] __pkvm_host_share_hyp\(pfn=0\) = 0\n/);
    expect(r.out).toMatch(/  2\. \[host\] hyp_pin_shared_mem\(pfn=0\) = 0\n/);
    expect(r.out).toMatch(/  3\. \[host\] iommu_map\(domain=0, iova=0x0, pfn=0, npages=1\) = 0\n +-> kvm_iommu_map_pages\(domain=0, iova=0x0, paddr=0x80000000, pgsize=0x1000, pgcount=1, prot=IOMMU_READ\|IOMMU_WRITE\) = 0/);
    expect(r.out).toMatch(/page 0 \(RAM 0x80000000\) \/ hyp_page.refcount: 1 => 2/);
    expect(r.out).toContain(`reproduce:  pkvm-check replay ${join(dir, 'minimal.json')} --variant ${EX}/minimal.ts`);
  });

  it('a copy in a folder of its own (no package.json) loads in the installed binary', () => {
    const other = mkdtempSync(join(tmpdir(), 'pkvm-check-mine-'));
    copyFileSync(join(ROOT, EX, 'minimal.ts'), join(other, 'my-variant.ts'));
    const r = spawnSync(process.execPath, [BIN, 'check', '--variant', './my-variant.ts', '--quiet', '--no-trace'], { cwd: other, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/Invariant dma-isolation is violated after 3 step\(s\)/);
  });
});

describe('3-4. dma-passthrough.ts and its fix', () => {
  const trace = () => join(dir, 'passthrough.json');

  it('dma-passthrough: dma-isolation after 2 steps, through the identity map', async () => {
    const { code, j } = await json(['check', '--variant', `${EX}/dma-passthrough.ts`, '--trace-out', trace()]);
    expect(code).toBe(1);
    expect(j.variant).toBe('dma-passthrough');
    expect(j.violation).toMatchObject({ invariant: 'dma-isolation', length: 2 });
    expect(j.violation.message).toBe(
      'page 0 (0x80000000) is reachable by DMA through the SMMU identity map but is owned by the hypervisor (host stage-2 annotated PKVM_ID_HYP)',
    );
    const t = JSON.parse(readFileSync(trace(), 'utf8'));
    expect(t.steps.map((s: { call: string }) => s.call)).toEqual(['__pkvm_host_passthrough_dma(pfn=0)', '__pkvm_host_donate_hyp(pfn=0, nr_pages=1)']);
    expect(t.steps[0].changes).toContainEqual({ what: 'page 0 (RAM 0x80000000) / dma_passthrough', before: null, after: 'in the passthrough window' });
  });

  for (const host of ['driver', 'iommu']) {
    it(`dma-passthrough-fixed, ${host} host: no violation, exhausted, 18,396 states, depth 10`, async () => {
      const { code, j } = await json(['check', '--variant', `${EX}/dma-passthrough-fixed.ts`, '--host', host]);
      expect(code).toBe(0);
      expect(j.result).toBe('ok');
      expect(j.stats).toMatchObject({ distinctStates: 18396, depth: 10, exhausted: true });
    });
  }

  it('5. replay: on the recording variant it reproduces; on the fix it does not; without --variant, exit 2 and a hint', async () => {
    const again = await run(['replay', trace(), '--variant', `${EX}/dma-passthrough.ts`]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/reproduced on dma-passthrough: dma-isolation is violated at step 2, identical to the recording/);
    const fixed = await run(['replay', trace(), '--variant', `${EX}/dma-passthrough-fixed.ts`]);
    expect(fixed.code).toBe(0);
    expect(fixed.out).toMatch(/2\. __pkvm_host_donate_hyp\(pfn=0, nr_pages=1\) = -EBUSY   \(recorded 0; state differs from the recording\)/);
    expect(fixed.out).toMatch(/not reproduced on dma-passthrough-fixed: every step ran, dma-isolation holds throughout/);
    const bare = await run(['replay', trace()]);
    expect(bare.code).toBe(2);
    expect(bare.err.trim()).toBe(`pkvm-check: trace ${trace()} was recorded on variant 'dma-passthrough', which is not built in: give its module with --variant PATH`);
  });

  it('6. diff: the fix refuses to share a page in the window (2 steps)', async () => {
    const { code, j } = await json(['diff', `${EX}/dma-passthrough.ts`, `${EX}/dma-passthrough-fixed.ts`, '--no-trace']);
    expect(code).toBe(1);
    expect(j.divergence.steps).toEqual([
      { call: '__pkvm_host_passthrough_dma(pfn=0)', a: '0', b: '0' },
      { call: '__pkvm_host_share_hyp(pfn=0)', a: '0', b: '-EBUSY' },
    ]);
    expect(j.divergence.message).toBe('__pkvm_host_share_hyp(pfn=0) returns 0 on dma-passthrough but -EBUSY on dma-passthrough-fixed');
  });

  it('7. coverage: the new branch is taken, the new pieces are called', async () => {
    const { j } = await json(['check', '--variant', `${EX}/dma-passthrough-fixed.ts`, '--coverage', '--no-trace']);
    const branch = j.coverage.branches.find((b: { name: string }) => b.name === 'host_request_owned_transition: page in the passthrough window (-EBUSY)');
    expect(branch.taken).toBe(36560);
    const piece = (name: string) => j.coverage.pieces.find((p: { piece: string }) => p.piece === name);
    expect(piece('__pkvm_host_passthrough_dma').returns).toEqual({ '0': 5600, '-EPERM': 25592 });
    expect(piece('host_request_owned_transition').returns['-EBUSY']).toBe(36560);
  });
});

describe('8. verify of the examples (iommu host, depth 6)', () => {
  it('the rows the doc shows', async () => {
    const { code, j } = await json(['verify', '--depth', '6', '--variant', 'rfc-v1-fixed', '--variant', `${EX}/minimal.ts`, '--variant', `${EX}/dma-passthrough.ts`, '--variant', `${EX}/dma-passthrough-fixed.ts`]);
    expect(code).toBe(1);
    const rows = Object.fromEntries(
      j.variants.map((v: { variant: string; stats: { distinctStates: number }; invariants: Record<string, { status: string; length?: number }> }) => [
        v.variant,
        { states: v.stats.distinctStates, violated: Object.fromEntries(Object.entries(v.invariants).filter(([, c]) => c.status === 'violated').map(([k, c]) => [k, c.length])) },
      ]),
    );
    expect(rows).toEqual({
      'rfc-v1-fixed': { states: 28845, violated: {} },
      'what-if-host-side-only': { states: 35289, violated: { 'dma-isolation': 3, 'single-owner': 5 } },
      'dma-passthrough': { states: 64289, violated: { 'dma-isolation': 2 } },
      'dma-passthrough-fixed': { states: 36080, violated: {} },
    });
  });
});

describe('9. errors: exit 2, one line', () => {
  const cases: [string, string][] = [
    ['typo-piece.ts', "pkvm-check: variant 'typo', piece '__pkvm_host_share_dma_pgae': no such piece of the model (see 'pkvm-check list pieces'; new pieces go in 'add')"],
    ['throws.ts', "pkvm-check: variant 'thrower', piece '__pkvm_host_share_hyp': threw TypeError: this.__pkvm_host_share_hyp_locked is not a function"],
    ['throws-on-load.ts', `pkvm-check: variant '${EX}/throws-on-load.ts': its default export threw no built-in variant 'rfc-v1-fixd'`],
  ];
  for (const [file, message] of cases)
    it(file, async () => {
      const r = await run(['check', '--variant', `${EX}/${file}`, '--quiet']);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim()).toBe(message);
    });

  it('a module that does not exist', async () => {
    const r = await run(['check', '--variant', './my-variant.ts']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('pkvm-check: variant module ./my-variant.ts does not exist');
  });
});

describe('2. list pieces', () => {
  it('names the DMA pieces the doc quotes', async () => {
    const r = await run(['list', 'pieces']);
    for (const p of ['__host_check_page_dma_shared', '__pkvm_host_share_dma', '__pkvm_host_share_dma_page', '__pkvm_host_unshare_dma', '__pkvm_host_unshare_dma_page', 'host_request_owned_transition'])
      expect(r.out.split('\n')).toContain(p);
  });
});
