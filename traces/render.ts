/** Human-readable rendering of a trace: per step, who did what, what it returned, what changed. */
import { retName } from '../model/constants.ts';
import { HOST_BEHAVIOURS } from '../model/config.ts';
import type { TraceFile } from './format.ts';
import type { TraceReplay } from './replay.ts';

export function describeConfig(t: Pick<TraceFile, 'config' | 'variant'>): string {
  const c = t.config;
  return `variant ${t.variant}; host ${c.host}; ${c.ramPages} RAM + ${c.mmioPages} MMIO page(s) (${c.mmioBacked} MMIO with a backed vmemmap); ${c.domains} SMMU domain(s) x ${c.iovas} IOVA pages${c.domainLifecycle ? ` (allocated by hypercalls; ${c.endpoints} endpoint(s))` : ''}${c.memcache ? ` (table pages from a memcache of ${c.memcache} page(s))` : ''}; ${c.guests} guest(s) x ${c.guestIpas} IPA page(s); ${c.refcountBits}-bit refcount${c.refcountHelpers === 'upstream' ? " (upstream's helpers)" : ''}${c.lockRanks === 'distinct' ? '; lock ranks host, hyp, then a VM' : ''}; ${(c.cpus ?? 1) > 1 ? `${c.cpus} CPUs` : '1 CPU'}, ${c.iotlb ? 'SMMU IOTLB modelled' : (c.cpus ?? 1) > 1 ? 'no SMMU IOTLB (--iotlb models it)' : 'SMMU IOTLB as tlb-invalidated (--iotlb models its entries)'}`;
}

export function renderTrace(t: TraceFile): string {
  const out: string[] = [];
  if (t.violation) {
    out.push(
      t.violation.stuck
        ? `Invariant ${t.violation.invariant} is violated: the state after ${t.steps.length} step(s) is stuck (${t.violation.stuck.key} can never come back).`
        : `Invariant ${t.violation.invariant} is violated after ${t.steps.length} step(s).`,
    );
    out.push(`  ${t.violation.description}`);
  } else out.push(`Trace of ${t.steps.length} step(s).`);
  out.push(`  ${describeConfig(t)}`);
  out.push(`  host behaviour: ${HOST_BEHAVIOURS[t.config.host]}`);
  out.push('');
  for (const s of t.steps) {
    if (s.cpu) {
      const what = s.call.replace(/^cpu \d+: /, '');
      const ret = s.cpu.finished ? ` = ${s.retName}` : '';
      out.push(`${String(s.step).padStart(3)}. [cpu ${s.cpu.cpu}] ${what === 'next step' ? `${s.cpu.from} -> ${s.cpu.to}` : `${what}: -> ${s.cpu.to}`}${ret}`);
      out.push(`        holds: ${s.cpu.holds.length ? s.cpu.holds.join(', ') : 'no lock'}${s.acquired && s.acquired.length ? `   (took ${s.acquired.join(', ')})` : ''}`);
    } else out.push(`${String(s.step).padStart(3)}. [${s.actor}] ${s.call} = ${s.retName}`);
    for (const c of s.subcalls) out.push(`        -> ${c.call} = ${retName(c.ret)}`);
    for (const f of s.failures) out.push(`        !! ${f.kind} in ${f.where}: ${f.detail}`);
    for (const a of s.accesses) out.push(`        ${a.by} accesses page ${a.pfn}`);
    for (const ch of s.changes) out.push(`        ${ch.what}: ${ch.before ?? '-'} => ${ch.after ?? '-'}`);
  }
  if (t.violation) {
    out.push('');
    out.push(`  => ${t.violation.invariant}: ${t.violation.message}`);
    for (const line of t.violation.stuck?.why ?? []) out.push(`     ${line}`);
  }
  return out.join('\n');
}

export function renderReplay(r: TraceReplay, variant: string): string {
  const out: string[] = [];
  for (const s of r.steps) {
    const notes: string[] = [];
    if (!s.sameRet) notes.push(`recorded ${s.recordedRet}`);
    if (!s.sameState) notes.push('state differs from the recording');
    for (const v of s.violated) notes.push(`violates ${v.invariant}`);
    out.push(`${String(s.step).padStart(3)}. ${s.call} = ${s.ret}${notes.length ? `   (${notes.join('; ')})` : ''}`);
  }
  switch (r.status) {
    case 'reproduced':
      out.push(`reproduced on ${variant}: ${r.invariant} is violated at step ${r.atStep}${r.identical ? ', identical to the recording' : ''}: ${r.message}`);
      break;
    case 'not-reproduced':
      out.push(
        r.note
          ? `not reproduced on ${variant}: every step ran; ${r.invariant}: ${r.note}`
          : `not reproduced on ${variant}: every step ran${r.invariant ? `, ${r.invariant} holds throughout` : ''}${r.identical ? '' : ' (the run differs from the recording)'}`,
      );
      break;
    case 'diverged':
      out.push(`diverged on ${variant} at step ${r.atStep}: ${r.reason}`);
  }
  return out.join('\n');
}
