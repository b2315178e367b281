/**
 * Ctrl-C (SIGINT) on the installed binary: the search stops after the state it is expanding, the
 * partial statistics and the traces found so far are printed and written, a last checkpoint is
 * written when the run keeps them, and resuming from it ends as one uninterrupted run does (the
 * same states and transitions).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/pkvm-check.js');

/** Runs the binary; once stderr has shown `after` (a progress line: the search is running), sends SIGINT `times` times. */
function interrupted(args: string[], after: RegExp): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sent = false;
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => {
      err += d;
      if (!sent && after.test(err)) {
        sent = true;
        p.kill('SIGINT');
      }
    });
    p.on('close', (code) => done({ code, out, err }));
  });
}

const json = (out: string) => JSON.parse(out) as { stats: { distinctStates: number; transitions: number; exhausted: boolean; cutBy: string | null }; violations: unknown[]; interrupted?: boolean };

describe('Ctrl-C', () => {
  it('stops the search, writes a last checkpoint and prints partial statistics (exit 130); the resumed search ends as one run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-int-'));
    const cp = join(dir, 'cp');
    const bounds = ['check', '--variant', 'rfc-v1-fixed', '--ram-pages', '4', '--guest-ipas', '2', '--no-trace', '--json'];
    const r = await interrupted([...bounds, '--checkpoint', cp], /distinct states/);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/pkvm-check: interrupted: the search stops after the state it is expanding/);
    const j = json(r.out);
    expect(j.interrupted).toBe(true);
    expect(j.stats.cutBy).toBe('interrupt');
    expect(j.stats.exhausted).toBe(false);
    expect(j.stats.distinctStates).toBeGreaterThan(0);
    expect(j.stats.distinctStates).toBeLessThan(2_273_428);
    expect(existsSync(join(cp, 'meta.json'))).toBe(true);
    const resumed = await interrupted([...bounds, '--quiet', '--resume', cp], /never/);
    expect(resumed.code).toBe(0);
    expect(json(resumed.out).stats).toMatchObject({ distinctStates: 2_273_428, transitions: 135_271_264, exhausted: true });
  }, 300_000);

  it('keeps what it found: the traces of the violations so far are written (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-int-'));
    const r = await interrupted(['check', '--cpus', '2', '--all', '--trace-out', join(dir, 't.json')], /distinct states/);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/VIOLATION of no-warn/);
    expect(r.out).toMatch(/not exhausted: interrupted/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(1);
  }, 300_000);
});
