/**
 * Architectural promises: the checker is generic (imports nothing of ours), the model knows
 * nothing of the checker, and only the CLI ties everything together.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+'([^']+)'/g)].map((m) => m[1]).filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(dirname(file), s)).split('/')[0]);
}

const ALLOWED: Record<string, string[]> = {
  checker: ['checker'],
  model: ['model'],
  invariants: ['invariants', 'model', 'checker'],
  traces: ['traces', 'model', 'checker'],
  cli: ['cli', 'model', 'checker', 'invariants', 'traces'],
};

describe('dependency direction', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED))
    it(`${layer}/ imports only ${allowed.join(', ')}`, () => {
      for (const f of files(join(ROOT, layer))) for (const target of imports(f)) expect(allowed, `${relative(ROOT, f)} imports ${target}/`).toContain(target);
    });

  it('the checker has no third-party dependency but fast-check (for random walks); Node built-ins are fine', () => {
    for (const f of files(join(ROOT, 'checker'))) {
      const text = readFileSync(f, 'utf8');
      const pkgs = [...text.matchAll(/from\s+'([^'.][^']*)'/g)].map((m) => m[1]).filter((p) => !p.startsWith('node:'));
      for (const p of pkgs) expect(['fast-check'], `${relative(ROOT, f)} imports ${p}`).toContain(p);
    }
  });
});
