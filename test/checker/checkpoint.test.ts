/**
 * Checkpoints inside a level and at level boundaries: a run cut at any point resumes from its
 * last checkpoint to the same result as one uninterrupted run (states, transitions, levels,
 * violations and their paths).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check, type CheckResult } from '../../checker/index.ts';
import { ownModel, ownProperties } from '../toys/own.ts';

const root = mkdtempSync(join(tmpdir(), 'pkvm-check-cp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const model = () => ownModel({ pages: 4, guests: 2, variant: 'share-skips-owner-check' });
const identity = 'own-4-2-buggy';

function comparable(r: CheckResult) {
  return {
    status: r.status,
    exhausted: r.exhausted,
    stats: { distinctStates: r.stats.distinctStates, transitions: r.stats.transitions, depth: r.stats.depth, levels: r.stats.levels },
    violations: r.status === 'violation' ? r.violations.map((v) => ({ property: v.property, path: v.path })) : [],
  };
}

describe('checkpoint and resume', () => {
  const whole = check(model(), ownProperties, { stopAtFirstViolation: false });

  it('the whole run (pages owned and shared at once: 9^4 states), in levels larger than the checkpoint step', () => {
    expect(whole.stats.distinctStates).toBe(9 ** 4);
    expect(Math.max(...whole.stats.levels)).toBeGreaterThan(1000);
    expect(whole.status).toBe('violation');
  });

  // cut points inside levels (checkpoints every 256 expanded states) and the first level boundaries
  it.each([40, 300, 1500, 4000, 6500])('cut by --max-states %i, resumed from the last checkpoint: the same result', (maxStates) => {
    const dir = join(root, `cut-${maxStates}`);
    const cut = check(model(), ownProperties, { stopAtFirstViolation: false, maxStates, checkpoint: { dir, everySeconds: 0, identity } });
    expect(cut.cutBy).toBe('states');
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    if (maxStates >= 1500) expect(meta.inLevel).toBe(true);
    const resumed = check(model(), ownProperties, { stopAtFirstViolation: false, resume: { dir, identity } });
    expect(comparable(resumed)).toEqual(comparable(whole));
  });

  it('a checkpoint of another search is refused', () => {
    const dir = join(root, 'other');
    check(model(), ownProperties, { stopAtFirstViolation: false, maxStates: 2000, checkpoint: { dir, everySeconds: 0, identity } });
    expect(() => check(model(), ownProperties, { resume: { dir, identity: 'another' } })).toThrow(/of another search/);
  });
});
