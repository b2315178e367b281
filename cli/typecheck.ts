/**
 * `pkvm-check typecheck FILE...`: type-checks variant modules with the TypeScript compiler
 * pkvm-check depends on (the native `tsc` of TypeScript 7, run on a generated tsconfig in a
 * temporary folder). `pkvm-check` resolves to this installation's API (api.ts), and each
 * module's default export is checked against VariantModule, so a replacement whose signature
 * differs from the piece it replaces is an error at that piece. Errors in pkvm-check's own
 * sources are not the author's and are left out.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.ts';
import { looksLikePath } from './variants.ts';

/** The package's root (where api.ts is). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** pkvm-check's own sources: errors there are not the variant author's. */
const OWN = ['api.ts', 'model', 'checker', 'invariants', 'traces', 'cli'].map((p) => join(ROOT, p));

export interface TypeDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export interface TypecheckReport {
  readonly files: readonly string[];
  readonly diagnostics: readonly TypeDiagnostic[];
}

/** The tsc of the typescript package pkvm-check depends on. */
function tscPath(): string {
  const pkg = createRequire(import.meta.url).resolve('typescript/package.json');
  return join(dirname(pkg), 'bin', 'tsc');
}

/** Node's types, when installed beside pkvm-check (a variant module may use them). */
function nodeTypes(): string | null {
  try {
    return dirname(dirname(createRequire(import.meta.url).resolve('@types/node/package.json')));
  } catch {
    return null;
  }
}

const isOwn = (file: string) => OWN.some((o) => file === o || file.startsWith(o + sep)) || file.split(sep).includes('node_modules');

/** Where the stub's check of module i points in the module: the piece named by the error, else `export default`. */
function locate(file: string, message: string): { line: number; col: number } {
  const text = readFileSync(file, 'utf8');
  const at = (i: number) => {
    const before = text.slice(0, i).split('\n');
    return { line: before.length, col: before[before.length - 1].length + 1 };
  };
  const exp = Math.max(0, text.search(/\bexport\s+default\b/));
  // the deepest property the error names
  const paths = [...message.matchAll(/(?:The types of|Types of property) '([^']+)'/g)].map((m) => m[1]);
  const name = paths.pop()?.split('.').pop()?.replace(/\(.*$/, '');
  if (name && /^[\w$]+$/.test(name)) {
    const m = new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\s*[(:]`).exec(text.slice(exp));
    if (m) return at(exp + m.index);
  }
  return at(exp);
}

/** Whether Node (and tsc, with NodeNext) reads a .ts file as CommonJS: .cts, or .ts with no "type": "module" in its package.json. */
function isCommonJs(file: string): boolean {
  if (file.endsWith('.cts')) return true;
  if (file.endsWith('.mts')) return false;
  for (let d = dirname(file); ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type !== 'module';
      } catch {
        return true;
      }
    }
    if (dirname(d) === d) return true;
  }
}

/** tsc's plain output: `file(line,col): error TSn: message`, elaborations indented on the lines after. */
function parse(out: string, cwd: string): { file: string; line: number; col: number; first: string; rest: string[] }[] {
  const diags: { file: string; line: number; col: number; first: string; rest: string[] }[] = [];
  for (const line of out.split('\n')) {
    const m = /^(.+)\((\d+),(\d+)\): error TS\d+: (.*)$/.exec(line);
    if (m) diags.push({ file: resolve(cwd, m[1]), line: Number(m[2]), col: Number(m[3]), first: m[4], rest: [] });
    else if (/^error TS\d+: /.test(line)) diags.push({ file: '', line: 0, col: 0, first: line.replace(/^error TS\d+: /, ''), rest: [] });
    else if (line.trim() && diags.length) diags[diags.length - 1].rest.push(line.trim());
  }
  return diags;
}

export function runTypecheck(files: readonly string[]): TypecheckReport {
  if (!files.length) throw new UsageError('name the variant files to type-check');
  const abs = files.map((f) => resolve(f));
  abs.forEach((f, i) => {
    if (!existsSync(f)) throw new UsageError(`variant module ${files[i]} does not exist`);
    if (!/\.(c|m)?ts$/.test(f)) throw new UsageError(`${files[i]} is not a TypeScript file (.ts, .mts or .cts)`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'pkvm-check-typecheck-'));
  try {
    // one ES module that imports every module's default export and checks it against VariantModule
    const stub = join(dir, 'check.mts');
    const lines = [`import type { VariantModule } from 'pkvm-check';`];
    // (an ES module's default import is its default export; a CommonJS module's is its exports object)
    abs.forEach((f, i) => lines.push(`import m${i} from ${JSON.stringify(f)};`, `export const check${i}: VariantModule = m${i}${isCommonJs(f) ? '.default' : ''};`));
    writeFileSync(stub, `${lines.join('\n')}\n`);
    const types = nodeTypes();
    const config = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: types ? ['node'] : [],
        ...(types ? { typeRoots: [types] } : {}),
        paths: { 'pkvm-check': [join(ROOT, 'api.ts')] },
      },
      files: [stub],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
    const r = spawnSync(process.execPath, [tscPath(), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run tsc: ${r.error.message}`);
    const diagnostics: TypeDiagnostic[] = [];
    for (const d of parse(r.stdout, dir)) {
      if (d.file === stub) {
        // the default export of module i does not fit: said at the module, with the reason
        // (line 1 imports the type; module i has lines 2i + 2 and 2i + 3)
        const file = abs[Math.max(0, Math.floor((d.line - 2) / 2))];
        // (the lines that only spell out the whole object's type say nothing the others do not)
        const said = d.rest.filter((l) => !/^Type '\{.*\}' is not assignable to type /.test(l));
        const reason = said.length ? said.join(' ') : d.first;
        const text = /has no default export/.test(d.first) ? 'the module has no default export (a variant spec, or a function of the modelling API returning one)' : `the default export is not a variant module: ${reason}`;
        diagnostics.push({ file, ...locate(file, reason), message: text });
      } else if (d.file === '') diagnostics.push({ file: '', line: 0, col: 0, message: [d.first, ...d.rest].join(' ') });
      else if (!isOwn(d.file)) diagnostics.push({ file: d.file, line: d.line, col: d.col, message: [d.first, ...d.rest].join(' ') });
    }
    if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`tsc exited with ${r.status}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    return { files: abs, diagnostics };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A diagnostic as one line, `file:line:col: message`, the file relative to the working folder when it is inside it. */
export function diagnosticLine(d: TypeDiagnostic): string {
  if (!d.file) return `tsc: ${d.message}`;
  const rel = relative(process.cwd(), d.file);
  return `${rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** `--typecheck`: the variants named on the command line that are TypeScript modules (built-in names have nothing to check). */
export function typescriptVariants(names: readonly (string | undefined)[]): string[] {
  return names.filter((n): n is string => n !== undefined && looksLikePath(n) && /\.(c|m)?ts$/.test(n));
}
