import { builtinVariant } from "/work/main/model/variants/index.ts";
import { check } from '/work/main/checker/index.ts';
import { selectProperties } from '/work/main/invariants/index.ts';
import { DEFAULT_CONFIG } from '/work/main/model/config.ts';
import { PackedPkvmModel, CompiledPkvmModel } from '/work/main/model/system.ts';
const [vname, over, eng] = [process.argv[2], JSON.parse(process.argv[3] ?? '{}'), process.argv[4] ?? 'both'];
const variant = builtinVariant(vname)!;
const config = { ...DEFAULT_CONFIG, ...over };
for (const M of eng === 'both' ? [PackedPkvmModel, CompiledPkvmModel] : eng === 'packed' ? [PackedPkvmModel] : [CompiledPkvmModel]) {
  const m = new M(config, variant);
  const props = selectProperties(config, undefined, variant, (s: any) => m.read(s));
  const r = check(m as any, props as any, { stopAtFirstViolation: false, maxDepth: over.depth });
  console.log(M.name, r.stats.distinctStates, r.stats.transitions, r.stats.depth, r.stats.seconds, r.status, r.status === 'violation' ? r.violations.map((v) => v.property + ':' + v.path.actions.length).join(' ') : '', (m as any).compiledStats?.());
}
