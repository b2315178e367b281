/**
 * The README's variant example, as a newcomer uses it: copied into a folder of their own (with
 * and without a package.json of "type": "module"), it imports 'pkvm-check' (the published types
 * and API), type-checks, and runs in the installed binary, with workers too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pkvm-check.js');

function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /```ts\n(\/\/ what-if\.ts[\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no what-if.ts example');
  return m[1];
}

const bin = (cwd: string, args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });

describe("README's what-if.ts", () => {
  const source = readmeExample();
  it("imports from 'pkvm-check'", () => {
    expect(source).toMatch(/from 'pkvm-check'/);
  });
  for (const scope of ['commonjs', 'module'] as const)
    it(`in a folder of its own (${scope} scope): type-checks, then breaks dma-isolation in 3 steps, with 1 and 2 workers`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'pkvm-check-readme-'));
      if (scope === 'module') writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'what-if.ts'), source);
      const tc = bin(dir, ['typecheck', './what-if.ts']);
      expect(tc.stdout.trim()).toBe('pkvm-check typecheck: 1 file(s), no type errors');
      expect(tc.status).toBe(0);
      for (const workers of ['1', '2']) {
        const r = bin(dir, ['check', '--variant', './what-if.ts', '--host', 'iommu', '--quiet', '--no-trace', '--workers', workers]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(/Invariant dma-isolation is violated after 3 step\(s\)/);
      }
    });
  it('a type error in the copied example is refused before the run (exit 2, file:line:col)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-check-readme-'));
    writeFileSync(join(dir, 'what-if.ts'), readmeExample().replace('phys_addr: number): number', 'phys_addr: string): number'));
    const r = bin(dir, ['check', '--variant', './what-if.ts', '--typecheck', '--quiet', '--no-trace']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/what-if\.ts:\d+:\d+: /);
  });
});
