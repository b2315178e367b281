/**
 * Recoverable properties (host-recoverable) are decided on the graph the sequential breadth-first
 * search keeps: the search modes that keep no such graph, or whose graph is not the model's, are
 * refused in one line.
 */
import { UsageError } from './errors.ts';

const WHY: Readonly<Record<string, string>> = {
  random: 'random walks keep no graph',
  workers: 'the parallel search keeps no graph',
  por: 'partial-order reduction drops transitions a recovery may need',
  symmetry: 'the graph of representatives is not the one traces replay on',
  bitstate: 'a bitstate search may skip states and cannot number them',
  checkpoint: 'checkpoints do not hold the graph',
  resume: 'checkpoints do not hold the graph',
};

/** Throws a UsageError when a recoverable property is selected with a mode that cannot decide it (`given`: flag -> value). */
export function refuseForRecoverable(properties: readonly { readonly name: string; readonly kind: string }[], given: Readonly<Record<string, unknown>>): void {
  const rec = properties.filter((p) => p.kind === 'recoverable');
  if (!rec.length) return;
  for (const [flag, value] of Object.entries(given))
    if (value !== undefined && value !== false && !(flag === 'workers' && (value as number) <= 1))
      throw new UsageError(`--invariant ${rec[0].name} cannot be combined with --${flag} (${WHY[flag] ?? 'it keeps no explored graph'}; it is decided on the graph of the sequential breadth-first search)`);
}
