/**
 * npm run bench:symmetry: symmetry reduction against the best any reduction can do. Explores a
 * configuration with interchangeable SMMU domains and guests with and without --symmetry, and
 * counts the orbits of the reachable states by Burnside's lemma (the mean number of states each
 * permutation of the group fixes). The reduced search should store exactly one state per orbit.
 *
 *   npm run bench:symmetry                          3 domains, 2 guests (group order 12)
 *   npm run bench:symmetry -- --domains 2 --guests 2
 */
import { cpus } from 'node:os';
import { check, type StateProperty } from '../checker/index.ts';
import { pkvmProperties } from '../invariants/index.ts';
import { DEFAULT_CONFIG } from '../model/config.ts';
import { PackedPkvmModel } from '../model/system.ts';
import { RFC_V1_FIXED } from '../model/variants/index.ts';

const args = process.argv.slice(2);
const num = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const config = { ...DEFAULT_CONFIG, domains: num('domains', 3), guests: num('guests', 2) };
const m = new PackedPkvmModel(config, RFC_V1_FIXED);
const props = pkvmProperties(config, RFC_V1_FIXED, (b: Uint8Array) => m.read(b));
const n = (x: number) => x.toLocaleString('en-US');

console.log(`# symmetry reduction: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}; rfc-v1-fixed, host driver, ${config.domains} domains, ${config.guests} guests, other bounds default\n`);

// every reachable state: a state property that records each state the full search finds
const states: Uint8Array[] = [];
const record: StateProperty<Uint8Array> = { kind: 'state', name: 'record', description: 'records every state', check: (s) => {
    states.push(s.slice());
    return null;
  },
};
const full = check(m, [...props, record], { stopAtFirstViolation: false });
const reduced = check(m, props, { stopAtFirstViolation: false, symmetry: true });

const perms = (k: number): number[][] => (k <= 1 ? [[0]] : perms(k - 1).flatMap((p) => Array.from({ length: k }, (_, i) => [...p.slice(0, i), k - 1, ...p.slice(i)])));
const L = m.layout;
const group = perms(config.domains).flatMap((pd) => perms(config.guests).map((pg) => [pd, pg] as const));
const t0 = Date.now();
let fixed = 0;
const scratch = new Uint8Array(states[0].length);
for (const [pd, pg] of group)
  for (const s of states) {
    scratch.set(s);
    pd.forEach((from, to) => scratch.set(s.subarray(L.domOffset + from * L.domBytes, L.domOffset + (from + 1) * L.domBytes), L.domOffset + to * L.domBytes));
    pg.forEach((from, to) => scratch.set(s.subarray(L.vmOffset + from * L.vmBytes, L.vmOffset + (from + 1) * L.vmBytes), L.vmOffset + to * L.vmBytes));
    let same = true;
    for (let i = 0; i < s.length && same; i++) same = scratch[i] === s[i];
    if (same) fixed++;
  }
const orbits = fixed / group.length;

console.log('| search | distinct states | transitions | seconds | verdict |');
console.log('|---|---:|---:|---:|---|');
console.log(`| full | ${n(full.stats.distinctStates)} | ${n(full.stats.transitions)} | ${full.stats.seconds.toFixed(1)} | ${full.status} |`);
console.log(`| --symmetry | ${n(reduced.stats.distinctStates)} | ${n(reduced.stats.transitions)} | ${reduced.stats.seconds.toFixed(1)} | ${reduced.status} |`);
console.log('');
console.log(`group order ${group.length} (${config.domains}! domain x ${config.guests}! guest permutations); states fixed by the ${group.length - 1} other permutations: ${n(fixed - states.length)}`);
console.log(`orbits (Burnside, ${((Date.now() - t0) / 1000).toFixed(1)} s): ${n(orbits)}; stored under --symmetry: ${n(reduced.stats.distinctStates)}; reduction ${(full.stats.distinctStates / reduced.stats.distinctStates).toFixed(2)}x of at most ${group.length}x`);
if (states.length !== full.stats.distinctStates || reduced.stats.distinctStates !== orbits) {
  console.log('FAILED: the reduced search does not store exactly one state per orbit');
  process.exit(1);
}
