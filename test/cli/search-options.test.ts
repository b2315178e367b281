/**
 * Search options: symmetry reduction (exact orbit count, same verdicts, concrete traces),
 * bitstate search (coverage reported), checkpoint and resume (same result as one run).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../checker/index.ts';
import { editedFingerprint, fingerprint, fingerprintTables } from '../../checker/fingerprint.ts';
import { traceDigest } from '../../traces/build.ts';
import { pkvmProperties } from '../../invariants/index.ts';
import { DEFAULT_CONFIG } from '../../model/config.ts';
import { PackedPkvmModel } from '../../model/system.ts';
import { MUTANTS, RFC_V1_FIXED } from '../../model/variants/index.ts';
import { runCli as run } from '../run-cli.ts';

const json = async (args: string[]) => JSON.parse((await run([...args, '--quiet', '--json'])).out);

/** Every reachable state of a model, by breadth-first search without reduction. */
function allStates(m: PackedPkvmModel): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const queue = [...m.initialStates()];
  while (queue.length) {
    const s = queue.pop()!;
    const k = s.join(',');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(s);
    for (const a of m.actions(s)) queue.push(m.step(s, a).state);
  }
  return out;
}

describe('symmetry reduction', () => {
  const config = { ...DEFAULT_CONFIG, domains: 3, guests: 2, ramPages: 1, mmioPages: 0 };

  it('stores exactly one state per orbit of the group (3! domain x 2! guest permutations)', () => {
    const m = new PackedPkvmModel(config, RFC_V1_FIXED);
    const states = allStates(m);
    const orbits = new Set(states.map((s) => m.canonicalize(s).join(','))).size;
    const props = pkvmProperties(config, RFC_V1_FIXED, (b: Uint8Array) => m.read(b));
    const full = check(m, props, { stopAtFirstViolation: false });
    const reduced = check(m, props, { stopAtFirstViolation: false, symmetry: true });
    expect(full.stats.distinctStates).toBe(states.length);
    expect(reduced.stats.distinctStates).toBe(orbits);
    expect(states.length).toBe(828);
    expect(orbits).toBe(213);
    // every orbit's representative is itself reachable (the model is symmetric)
    const representatives = states.filter((s) => m.canonicalize(s).every((x, i) => x === s[i])).length;
    expect(representatives).toBe(orbits);
    // less than |G| = 12 because many states are their own image under some permutation
    // (e.g. two domains with nothing mapped)
    expect(states.length / orbits).toBeGreaterThan(3.8);
  });

  it('the number of states stored is the number of orbits that Burnside counts from the fixed points of each permutation', () => {
    const m = new PackedPkvmModel(config, RFC_V1_FIXED);
    const states = allStates(m);
    const L = m.layout;
    const perms = (n: number): number[][] => (n <= 1 ? [[0]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])));
    const permute = (b: Uint8Array, offset: number, size: number, p: number[]) => {
      const out = b.slice();
      p.forEach((from, to) => out.set(b.subarray(offset + from * size, offset + (from + 1) * size), offset + to * size));
      return out;
    };
    let fixed = 0;
    const group = perms(config.domains).flatMap((pd) => perms(config.guests).map((pg) => [pd, pg] as const));
    expect(group.length).toBe(12);
    for (const [pd, pg] of group)
      for (const s of states) {
        const t = permute(permute(s, L.domOffset, L.domBytes, pd), L.vmOffset, L.vmBytes, pg);
        if (t.every((x, i) => x === s[i])) fixed++;
      }
    const burnside = fixed / group.length;
    expect(Number.isInteger(burnside)).toBe(true);
    const reduced = check(m, [], { symmetry: true });
    expect(reduced.stats.distinctStates).toBe(burnside);
    // the identity fixes every state; the other 11 permutations fix the states that are their own images
    expect(fixed - states.length).toBeGreaterThan(0);
  });

  it('the canonical form is idempotent and invariant under permutations', () => {
    const m = new PackedPkvmModel(config, RFC_V1_FIXED);
    for (const s of allStates(m).slice(0, 300)) {
      const c = m.canonicalize(s);
      expect(m.canonicalize(c)).toEqual(c);
    }
  });

  it('every mutant has the same verdict with and without symmetry (depth 4, iommu host)', () => {
    const cfg = { ...DEFAULT_CONFIG, host: 'iommu' as const };
    for (const v of MUTANTS) {
      const m = new PackedPkvmModel(cfg, v);
      const props = pkvmProperties(cfg, v, (b: Uint8Array) => m.read(b));
      const verdict = (symmetry: boolean) => {
        const r = check(m, props, { stopAtFirstViolation: false, maxDepth: 4, symmetry });
        if (r.status !== 'violation') return [];
        const first = new Map<string, number>();
        for (const x of r.violations) if (!first.has(x.property)) first.set(x.property, x.path.actions.length);
        return [...first].sort();
      };
      expect(verdict(true), v.name).toEqual(verdict(false));
    }
  });

  it('a violation found under symmetry is written as an ordinary trace that replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkvm-sym-'));
    const t = join(dir, 't.json');
    const r = await json(['check', '--symmetry', '--domains', '3', '--variant', 'dma-shared-skip-hyp-check', '--invariant', 'dma-isolation', '--trace-out', t]);
    expect(r.violation.length).toBe(3);
    const rep = await run(['replay', t, '--json']);
    expect(JSON.parse(rep.out)).toMatchObject({ result: 'reproduced', identical: true });
  });
});

describe('bitstate search', () => {
  it('with a large bit array it finds every state and says so', async () => {
    const r = await json(['check', '--variant', 'rfc-v1-fixed', '--bitstate', '16']);
    expect(r.stats.distinctStates).toBe(13196);
    expect(r.stats.bitstate.expectedCoverage).toBeGreaterThan(0.9999);
    expect(r.stats.bitstate.hashFactor).toBeGreaterThan(1000);
  });

  it('with a tiny bit array it misses states and reports a lower expected coverage', async () => {
    const r = await json(['check', '--variant', 'rfc-v1-fixed', '--bitstate', '0.001']);
    expect(r.stats.distinctStates).toBeLessThan(13196);
    expect(r.stats.bitstate.expectedCoverage).toBeLessThan(0.9);
  });
});

describe('frontier on disk (--frontier-memory)', () => {
  it('the same states, transitions, levels and verdicts with every level beyond 0 MiB written to disk', async () => {
    const inMemory = await json(['check', '--variant', 'rfc-v1-fixed', '--ram-pages', '3', '--no-trace']);
    const onDisk = await json(['check', '--variant', 'rfc-v1-fixed', '--ram-pages', '3', '--no-trace', '--frontier-memory', '0']);
    expect(inMemory.stats.spilled).toBeUndefined();
    expect(onDisk.stats.spilled.chunks).toBeGreaterThan(10);
    for (const k of ['distinctStates', 'transitions', 'depth', 'levels', 'exhausted']) expect(onDisk.stats[k]).toEqual(inMemory.stats[k]);
    const seedMem = await json(['check', '--all', '--depth', '6', '--no-trace']);
    const seedDisk = await json(['check', '--all', '--depth', '6', '--no-trace', '--frontier-memory', '0']);
    expect(seedDisk.violations.map((v: { invariant: string; length: number }) => [v.invariant, v.length])).toEqual(seedMem.violations.map((v: { invariant: string; length: number }) => [v.invariant, v.length]));
  });
});

describe('checkpoint and resume', () => {
  it('a run stopped by a bound resumes from its last checkpoint to the same result as one run', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pkvm-cp-')), 'cp');
    const first = await json(['check', '--variant', 'rfc-v1-fixed', '--checkpoint', dir, '--checkpoint-every', '0.000001', '--max-states', '6000']);
    expect(first.stats.exhausted).toBe(false);
    const resumed = await json(['check', '--variant', 'rfc-v1-fixed', '--resume', dir]);
    expect(resumed.stats.exhausted).toBe(true);
    expect(resumed.stats.distinctStates).toBe(13196);
    expect(resumed.stats.depth).toBe(10);
    const whole = await json(['check', '--variant', 'rfc-v1-fixed']);
    expect(resumed.stats.transitions).toBe(whole.stats.transitions);
    expect(resumed.stats.levels).toEqual(whole.stats.levels);
  });

  it('resuming another search is refused with exit 2', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pkvm-cp-')), 'cp');
    await run(['check', '--quiet', '--variant', 'rfc-v1-fixed', '--checkpoint', dir, '--checkpoint-every', '0.000001', '--max-states', '2000']);
    const r = await run(['check', '--quiet', '--variant', 'rfc-v1-fixed', '--host', 'iommu', '--resume', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/checkpoint .* is of another search/);
    const missing = await run(['check', '--quiet', '--resume', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/holds no checkpoint/);
  });
});

describe('fingerprints', () => {
  it('are pinned: a fixed input has a fixed fingerprint (checkpoints and workers rely on it)', () => {
    const fp = new Uint32Array(2);
    fingerprint(new Uint8Array([1, 2, 3, 4, 5]), fp);
    expect([...fp]).toEqual([820870001, 4068447252]);
  });

  it("a trace's state digest is its own fixed function, unchanged since the first trace format", () => {
    expect(traceDigest(new Uint8Array([1, 2, 3, 4, 5]))).toBe('5a06626a344198c1');
  });

  it('follow a change of bytes: the fingerprint of an edited string is the old one with the changed positions swapped in', () => {
    const fp = new Uint32Array(2);
    const edited = new Uint32Array(2);
    const b = new Uint8Array(300).map((_, i) => (i * 37) & 255);
    fingerprint(b, fp);
    const { hi, lo } = fingerprintTables(b.length);
    let h = fp[0] | 0;
    let l = fp[1] | 0;
    for (const [o, v] of [[0, 9], [17, 0], [299, 255], [128, 128]]) {
      h ^= hi[o * 256 + b[o]] ^ hi[o * 256 + v];
      l ^= lo[o * 256 + b[o]] ^ lo[o * 256 + v];
      b[o] = v;
    }
    fingerprint(b, edited);
    expect([h >>> 0, l >>> 0]).toEqual([...edited]);
    // the search's helper: the same from the original bytes and the writes
    const orig = new Uint8Array(300).map((_, i) => (i * 37) & 255);
    const out = new Int32Array(2);
    expect(editedFingerprint(orig, [0, 17, 299, 128], [9, 0, 255, 128], fp[0] | 0, fp[1] | 0, out)).toBe(true);
    expect([out[0] >>> 0, out[1] >>> 0]).toEqual([...edited]);
    expect(editedFingerprint(orig, [128], [128], fp[0] | 0, fp[1] | 0, out)).toBe(false);
  });
});
