/**
 * The variant author's types: `import ... from 'pkvm-check'` resolves for a user who installed the
 * package (through its package.json "exports" and "types"), and `pkvm-check typecheck` (and
 * --typecheck before a run) reports type errors as file:line:col: message, exit 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../run-cli.ts';

const ROOT = resolve(__dirname, '..', '..');
const EXAMPLES = join(ROOT, 'docs', 'examples');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

/** A user's folder with pkvm-check installed in its node_modules (a link to this package, as `npm link` or a local install makes). */
let user: string;
beforeAll(() => {
  user = mkdtempSync(join(tmpdir(), 'pkvm-check-user-'));
  mkdirSync(join(user, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(ROOT, join(user, 'node_modules', 'pkvm-check'));
  symlinkSync(join('..', 'pkvm-check', 'bin', 'pkvm-check.js'), join(user, 'node_modules', '.bin', 'pkvm-check'));
});

const GOOD = `import { defineVariant, type Hyp, type VariantSpec } from 'pkvm-check';

const spec: VariantSpec = {
  name: 'host-side-only',
  description: 'rfc-v1 whose __host_check_page_dma_shared() looks at the host side only',
  replace: {
    __host_check_page_dma_shared(this: Hyp, phys_addr: number): number {
      return this.__host_check_page_state_range(phys_addr, 4096, 1);
    },
  },
};
export default defineVariant(spec);
`;

/** A replacement whose parameter has the wrong type (line 8, column 5: the piece). */
const WRONG_SIGNATURE = `import type { Hyp } from 'pkvm-check';

export default {
  name: 'wrong-signature',
  description: 'a replacement that takes a string where the piece takes a physical address',
  base: 'rfc-v1-fixed',
  replace: {
    __host_check_page_dma_shared(this: Hyp, phys_addr: string): number {
      return phys_addr.length;
    },
  },
};
`;

function write(name: string, text: string): string {
  const f = join(user, name);
  writeFileSync(f, text);
  return f;
}

describe("import type { ... } from 'pkvm-check' for a user who installed it", () => {
  it("the user's own tsc resolves the package's types (package.json exports and types), and finds errors against them", () => {
    write('good.ts', GOOD);
    write('bad-use.ts', `import type { VariantSpec } from 'pkvm-check';\nconst s: VariantSpec = { name: 'x', description: 'y', replace: { hyp_page_ref_inc: 3 } };\nexport default s;\n`);
    const config = (files: string[]) => JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true, types: [] }, files });
    writeFileSync(join(user, 'tsconfig.json'), config(['good.ts']));
    const ok = spawnSync(TSC, ['-p', join(user, 'tsconfig.json'), '--pretty', 'false'], { cwd: user, encoding: 'utf8' });
    expect(ok.stdout).toBe('');
    expect(ok.status).toBe(0);
    writeFileSync(join(user, 'tsconfig.json'), config(['bad-use.ts']));
    const bad = spawnSync(TSC, ['-p', join(user, 'tsconfig.json'), '--pretty', 'false'], { cwd: user, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/^bad-use\.ts\(2,/);
  });

  it('the module runs as it type-checks: the check loads it through the same package', async () => {
    const file = write('run.ts', GOOD);
    const r = await runCli(['check', '--variant', file, '--quiet', '--no-trace', '--typecheck']);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/variant host-side-only/);
  });
});

describe('pkvm-check typecheck', () => {
  it('the examples of docs/examples type-check clean, all but the one with a misspelt piece, which fails at its replace', async () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts')).map((f) => join(EXAMPLES, f));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const clean = await runCli(['typecheck', ...files.filter((f) => !f.endsWith('typo-piece.ts'))]);
    expect(clean.out.trim()).toBe(`pkvm-check typecheck: ${files.length - 1} file(s), no type errors`);
    expect(clean.code).toBe(0);
    const typo = await runCli(['typecheck', join(EXAMPLES, 'typo-piece.ts')]);
    expect(typo.code).toBe(2);
    expect(typo.out.trim()).toMatch(/typo-piece\.ts:6:3: the default export is not a variant module: .*no properties in common with type 'Pieces'/);
  });

  it('a replacement with a wrong signature fails at the piece, one line, exit 2', async () => {
    const file = write('wrong.ts', WRONG_SIGNATURE);
    const r = await runCli(['typecheck', file, join(EXAMPLES, 'minimal.ts')]);
    expect(r.code).toBe(2);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8:5: the default export is not a variant module: The types of 'replace.__host_check_page_dma_shared' are incompatible`));
    expect(lines[0]).toMatch(/'\(this: Hyp, phys_addr: string\) => number' is not assignable to type '\(this: Hyp, phys_addr: number\) => number'/);
  });

  it("an error inside a module's code is reported where it is; JSON lists it", async () => {
    const file = write('inner.ts', GOOD.replace('return this.__host_check_page_state_range(phys_addr, 4096, 1);', "const n: number = 'page';\n      return n;"));
    const r = await runCli(['typecheck', '--json', file]);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out);
    expect(j.result).toBe('type-errors');
    expect(j.errors).toHaveLength(1);
    expect(j.errors[0]).toMatchObject({ file, line: 8, col: 13 });
    expect(j.errors[0].message).toMatch(/^Type '.*' is not assignable to type 'number'\.$/);
  });

  it('the installed binary exits 2 on type errors and 0 on a clean file', () => {
    write('wrong2.ts', WRONG_SIGNATURE);
    write('good2.ts', GOOD);
    const bin = join(user, 'node_modules', '.bin', 'pkvm-check');
    const bad = spawnSync(bin, ['typecheck', 'wrong2.ts'], { cwd: user, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toMatch(/^wrong2\.ts:8:5: /);
    expect(bad.stderr).toBe('');
    const good = spawnSync(bin, ['typecheck', 'good2.ts'], { cwd: user, encoding: 'utf8' });
    expect(good.status).toBe(0);
  });

  it('refuses a missing file or one that is not TypeScript (exit 2)', async () => {
    expect((await runCli(['typecheck', join(user, 'nope.ts')])).err).toMatch(/^pkvm-check: variant module .* does not exist/);
    const js = write('v.js', 'export default {};\n');
    const r = await runCli(['typecheck', js]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is not a TypeScript file/);
  });
});

describe('--typecheck before a run', () => {
  it('check, verify and diff stop with exit 2 and the errors on stderr before exploring anything', async () => {
    const file = write('wrong3.ts', WRONG_SIGNATURE);
    for (const args of [
      ['check', '--variant', file, '--quiet', '--no-trace'],
      ['verify', '--variant', file, '--quiet'],
      ['diff', 'rfc-v1', file, '--quiet', '--no-trace'],
    ]) {
      const r = await runCli([...args, '--typecheck']);
      expect(r.code, args[0]).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/wrong3\.ts:8:5: the default export is not a variant module/);
      expect(r.err).toMatch(/type error\(s\) in the variant: not run/);
    }
    // without --typecheck the module loads (its JavaScript runs) and the check goes on
    const r = await runCli(['check', '--variant', file, '--quiet', '--no-trace', '--depth', '1']);
    expect(r.code).not.toBe(2);
  });
});
