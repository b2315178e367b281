/**
 * A state as a flat list of named, printable facts ("page 1 / host stage-2" -> "valid SHARED_OWNED"),
 * so that a step of a trace can show only what changed.
 */
import { COMPONENT_NAMES, HOST_PAGE_NEED_POISONING, HOST_PAGE_PENDING_RECLAIM, PAGE_SIZE, PHYS_BASE, PAGE_STATE_NAMES, type ComponentId } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { HostPte, PkvmState } from '../model/state.ts';
import type { Variant } from '../model/variant.ts';
import { ObjectReader } from '../model/memory.ts';
import { deviceTranslate } from '../model/views.ts';
import { modelExtensions } from '../model/lifecycle.ts';

export const hexPhys = (pfn: number) => `0x${(PHYS_BASE + pfn * PAGE_SIZE).toString(16)}`;

function hostPte(p: HostPte): string {
  if (p.kind === 'zero') return 'zero (host owns it, mapped lazily)';
  if (p.kind === 'valid') return `valid, ${PAGE_STATE_NAMES[p.state]}`;
  return `invalid, owner ${COMPONENT_NAMES[p.owner as ComponentId]}`;
}

function flags(f: number): string {
  const out: string[] = [];
  if (f & HOST_PAGE_NEED_POISONING) out.push('HOST_PAGE_NEED_POISONING');
  if (f & HOST_PAGE_PENDING_RECLAIM) out.push('HOST_PAGE_PENDING_RECLAIM');
  return out.length ? out.join('|') : '0';
}

export function pageLabel(config: PkvmConfig, pfn: number): string {
  return `page ${pfn} (${pfn < config.ramPages ? 'RAM' : 'MMIO'} ${hexPhys(pfn)})`;
}

/** Facts of a state, in a stable order. Defaults (nothing mapped, zero counts) are left out. */
export function stateFacts(s: PkvmState, config: PkvmConfig, variant?: Pick<Variant, 'state'>): Map<string, string> {
  const f = new Map<string, string>();
  for (let pfn = 0; pfn < s.hostS2.length; pfn++) {
    const label = pageLabel(config, pfn);
    f.set(`${label} / host stage-2`, hostPte(s.hostS2[pfn]));
    const h = s.hypS1[pfn];
    if (h !== null) f.set(`${label} / hyp stage-1`, `mapped, ${PAGE_STATE_NAMES[h]}`);
    const v = s.vmemmap[pfn];
    if (v) {
      if (pfn < config.ramPages || v.refcount) f.set(`${label} / hyp_page.refcount`, String(v.refcount));
      if (v.flags) f.set(`${label} / hyp_page.flags`, flags(v.flags));
    }
    if (s.ghost.pins[pfn]) f.set(`${label} / pins (spec)`, String(s.ghost.pins[pfn]));
    if (s.ghost.pool[pfn]) f.set(`${label} / hyp allocator references (spec)`, String(s.ghost.pool[pfn]));
    if (s.ghost.dmaRefs[pfn]) f.set(`${label} / direct DMA shares (spec)`, String(s.ghost.dmaRefs[pfn]));
  }
  s.vms.forEach((vm, v) => {
    if (vm.dying) f.set(`guest ${v}`, 'torn down');
    vm.s2.forEach((pte, ipa) => {
      if (pte) f.set(`guest ${v} / IPA 0x${(ipa * PAGE_SIZE).toString(16)}`, `${pageLabel(config, pte.pfn)}, ${PAGE_STATE_NAMES[pte.state]}`);
    });
  });
  s.iommu.forEach((d, dom) => {
    d.pgd.forEach((pte, i) => {
      if (pte === null) return;
      if (pte.type === 'block') f.set(`domain ${dom} / block at IOVA 0x${(i * 2 * PAGE_SIZE).toString(16)}`, `${hexPhys(pte.pfn)}, 2 pages`);
      else
        pte.ptes.forEach((leaf, k) => {
          f.set(`domain ${dom} / page at IOVA 0x${((i * 2 + k) * PAGE_SIZE).toString(16)}`, leaf === null ? 'none (table kept)' : pageLabel(config, leaf));
        });
    });
    for (let slot = 0; slot < d.pgd.length * 2; slot++) {
      const pfn = deviceTranslate(new ObjectReader(s, config), dom, slot);
      if (pfn !== null) f.set(`domain ${dom} / device reaches IOVA 0x${(slot * PAGE_SIZE).toString(16)}`, pageLabel(config, pfn));
    }
  });
  // cached translations (only when the IOTLBs are modelled): they outlive the io-pgtable entry
  s.iotlb.forEach((slots, dom) =>
    slots.forEach((pfn, slot) => {
      if (pfn !== null) f.set(`domain ${dom} / IOTLB caches IOVA 0x${(slot * PAGE_SIZE).toString(16)}`, pageLabel(config, pfn));
    }),
  );
  for (const [name, values] of Object.entries(s.ext ?? {})) {
    const ext = modelExtensions(config, variant?.state)[name];
    values.forEach((v, i) => {
      const text = ext?.describe ? ext.describe(v, i) : v === (typeof ext?.initial === 'number' ? ext.initial : 0) ? null : String(v);
      if (text !== null) f.set(`${ext?.size === 'pages' ? `${pageLabel(config, i)} / ` : ''}${name}${ext?.size === 'pages' ? '' : `[${i}]`}`, text);
    });
  }
  if (s.panic) f.set('hypervisor', `stopped: ${s.panic.kind} in ${s.panic.where}`);
  return f;
}

export interface Change {
  readonly what: string;
  readonly before: string | null;
  readonly after: string | null;
}

export function diffStates(a: PkvmState, b: PkvmState, config: PkvmConfig, variant?: Pick<Variant, 'state'>): Change[] {
  const fa = stateFacts(a, config, variant);
  const fb = stateFacts(b, config, variant);
  const out: Change[] = [];
  const keys = new Set([...fa.keys(), ...fb.keys()]);
  for (const k of keys) {
    const x = fa.get(k) ?? null;
    const y = fb.get(k) ?? null;
    if (x !== y) out.push({ what: k, before: x, after: y });
  }
  return out;
}
