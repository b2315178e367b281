/**
 * The safety properties of the ownership protocol, as data: a name, a one-line description, and
 * a check that returns why it fails. State properties read one state; step properties read a
 * transition (before, action, outcome, after).
 */
import type { Finding, Property, ReachableProperty, StateProperty, StepProperty } from '../checker/types.ts';
import { PKVM_ID_GUEST, PKVM_ID_HYP, PKVM_NOPAGE, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_OWNED, retName } from '../model/constants.ts';
import type { PkvmConfig } from '../model/config.ts';
import type { PkvmAction } from '../model/operations.ts';
import { deepEqual, type FailureKind, type PkvmState } from '../model/state.ts';
import type { PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { borrowers, dmaMappingCounts, dmaMappings, heldByHypOrGuest, owners, pageViews, type ViewHooks } from '../model/views.ts';

export type PkvmProperty = Property<PkvmState, PkvmAction, PkvmOutcome>;

const phys = (pfn: number) => `0x${(0x8000_0000 + pfn * 4096).toString(16)}`;
const page = (pfn: number) => `page ${pfn} (${phys(pfn)})`;
const slotIova = (slot: number) => `0x${(slot * 4096).toString(16)}`;

function dmaIsolation(config: PkvmConfig, hooks: ViewHooks): StateProperty<PkvmState> {
  return {
    kind: 'state',
    name: 'dma-isolation',
    description: 'No page a device can reach through an SMMU domain is owned by, or lent to, the hypervisor or a guest.',
    check(s) {
      const views = pageViews(s, config, hooks);
      for (const m of dmaMappings(s, config, hooks)) {
        const v = views[m.pfn];
        if (!v) continue;
        const why = heldByHypOrGuest(v);
        if (why) return { message: `${page(m.pfn)} is reachable by DMA through domain ${m.domain} at IOVA ${slotIova(m.slot)} but is ${why}` };
      }
      return null;
    },
  };
}

function refcountAccounting(config: PkvmConfig, hooks: ViewHooks): StateProperty<PkvmState> {
  return {
    kind: 'state',
    name: 'refcount-accounting',
    description:
      "A page's hyp_page.refcount equals the number of SMMU mappings of it (RAM only) plus its outstanding direct DMA shares, its pins and the hyp allocator's references.",
    check(s) {
      if (s.panic) return null;
      const maps = dmaMappingCounts(s, config, hooks);
      for (let pfn = 0; pfn < s.vmemmap.length; pfn++) {
        const e = s.vmemmap[pfn];
        if (!e) continue;
        const ram = pfn < config.ramPages;
        const dma = ram ? maps[pfn] : 0;
        const expected = dma + s.ghost.dmaRefs[pfn] + s.ghost.pins[pfn] + s.ghost.pool[pfn];
        if (e.refcount !== expected)
          return {
            message: `${page(pfn)} has hyp_page.refcount ${e.refcount}, expected ${expected} (${dma} SMMU mapping(s), ${s.ghost.dmaRefs[pfn]} direct DMA share(s), ${s.ghost.pins[pfn]} pin(s), ${s.ghost.pool[pfn]} allocator reference(s))`,
          };
      }
      return null;
    },
  };
}

function singleOwner(config: PkvmConfig, hooks: ViewHooks): StateProperty<PkvmState> {
  return {
    kind: 'state',
    name: 'single-owner',
    description:
      'Every RAM page has exactly one owner; an owner holding it PKVM_PAGE_OWNED shares it with nobody; every borrower\'s owner holds it PKVM_PAGE_SHARED_OWNED, and a SHARED_OWNED page has a borrower (a component or a device).',
    check(s) {
      const maps = dmaMappingCounts(s, config, hooks);
      for (const v of pageViews(s, config, hooks)) {
        if (!v.ram) continue;
        const own = owners(v);
        const bor = borrowers(v);
        if (own.length !== 1) return { message: `${page(v.pfn)} has ${own.length === 0 ? 'no owner' : `${own.length} owners (${own.join(', ')})`}` };
        const o = own[0];
        if (o === 'dead guest') continue; // its stage-2 is gone: what it lent awaits reclaim
        const ownerState =
          o === 'host' ? v.host : o === 'hyp' ? v.hyp : v.guests.find((g) => `guest ${g.vm}` === o)!.state;
        const lentToDevice = maps[v.pfn] > 0 || s.ghost.dmaRefs[v.pfn] > 0 || (o === 'host' && (s.vmemmap[v.pfn]?.refcount ?? 0) > s.ghost.pins[v.pfn]);
        if (bor.length && ownerState !== PKVM_PAGE_SHARED_OWNED)
          return { message: `${page(v.pfn)} is borrowed by ${bor.join(', ')} but its owner (${o}) holds it ${ownerState === PKVM_PAGE_OWNED ? 'PKVM_PAGE_OWNED' : 'in another state'}` };
        if (ownerState === PKVM_PAGE_SHARED_OWNED && !bor.length && !lentToDevice && !v.pendingReclaim)
          return { message: `${page(v.pfn)} is PKVM_PAGE_SHARED_OWNED by ${o} but nobody borrows it and no device maps it` };
      }
      return null;
    },
  };
}

function hostStage2Coherent(config: PkvmConfig, hooks: ViewHooks): StateProperty<PkvmState> {
  return {
    kind: 'state',
    name: 'host-s2-coherent',
    description:
      "The host stage-2 agrees with the other components: an annotation names the page's real owner, a zero (lazily mapped) entry means nobody else maps the page, and MMIO entries carry no state that memory pressure would drop.",
    check(s) {
      for (const v of pageViews(s, config, hooks)) {
        const pte = s.hostS2[v.pfn];
        if (!v.ram) {
          if (pte.kind === 'annot' || (pte.kind === 'valid' && pte.state !== PKVM_PAGE_OWNED))
            return { message: `MMIO ${page(v.pfn)} holds non-default state in the host stage-2 (${pte.kind === 'annot' ? `annotated owner ${pte.owner}` : `state ${pte.state}`}), which host_stage2_unmap_dev_all() discards` };
          continue;
        }
        if (pte.kind === 'annot' && pte.owner === PKVM_ID_HYP && v.hyp !== PKVM_PAGE_OWNED)
          return { message: `${page(v.pfn)} is annotated as owned by the hypervisor but the hypervisor does not map it OWNED` };
        if (pte.kind === 'annot' && pte.owner === PKVM_ID_GUEST && !v.pendingReclaim && !v.guests.some((g) => g.state === PKVM_PAGE_OWNED || g.state === PKVM_PAGE_SHARED_OWNED))
          return { message: `${page(v.pfn)} is annotated as owned by a guest but no guest owns it` };
        if (pte.kind !== 'annot' && (v.hyp === PKVM_PAGE_OWNED || v.guests.some((g) => g.state === PKVM_PAGE_OWNED)))
          return { message: `${page(v.pfn)} is accessible to the host (${pte.kind === 'zero' ? 'lazily mapped' : 'mapped'}) while ${v.hyp === PKVM_PAGE_OWNED ? 'the hypervisor' : 'a guest'} owns it exclusively` };
        if (pte.kind === 'zero' && (v.hyp !== PKVM_NOPAGE || v.guests.length > 0))
          return { message: `${page(v.pfn)} has a zero host stage-2 entry (host exclusively owns it) but ${v.hyp !== PKVM_NOPAGE ? 'the hypervisor' : 'a guest'} maps it` };
      }
      return null;
    },
  };
}

function noFailure(kind: FailureKind, name: string, description: string): StepProperty<PkvmState, PkvmAction, PkvmOutcome> {
  return {
    kind: 'step',
    name,
    description,
    check(_before, _action, outcome) {
      const f = outcome.failures.find((x) => x.kind === kind);
      return f ? { message: `${f.kind} in ${f.where}: ${f.detail}`, key: f.where } : null;
    },
  };
}

const failureAtomicity: StepProperty<PkvmState, PkvmAction, PkvmOutcome> = {
  kind: 'step',
  name: 'failure-atomicity',
  description: 'A host or guest call that returns an error leaves the state as it was.',
  check(before, action, outcome, after) {
    if (outcome.ret === 0 || after.panic || before === after) return null;
    if (outcome.failures.some((f) => f.kind === 'uninitialised')) return null;
    if (deepEqual(abstractState(before), abstractState(after))) return null;
    return { message: `${action.op} returned ${retName(outcome.ret)} but changed the state`, key: action.op };
  },
};

/**
 * What a caller can observe of a state: a valid host stage-2 entry with the default state and a
 * zero (lazily mapped) one are the same to the host, so they compare equal.
 */
function abstractState(s: PkvmState): unknown {
  return {
    ...s,
    hostS2: s.hostS2.map((p) => (p.kind === 'valid' && p.state === PKVM_PAGE_OWNED ? { kind: 'zero' } : p)),
    // an io-pgtable table with no leaf left maps nothing: the same as no table
    iommu: s.iommu.map((d) => d.pgd.map((e) => (e && e.type === 'table' && e.ptes.every((x) => x === null) ? null : e))),
  };
}

export const HYP_FAILURE_GROUP = 'hyp-failure';

export function pkvmProperties(config: PkvmConfig, variant?: Pick<Variant, 'views'>): PkvmProperty[] {
  const hooks = variant?.views ?? {};
  return [
    dmaIsolation(config, hooks),
    refcountAccounting(config, hooks),
    singleOwner(config, hooks),
    hostStage2Coherent(config, hooks),
    noFailure('BUG_ON', 'no-bug', 'No host-reachable BUG_ON: the hypervisor never panics on a host or guest call.'),
    noFailure('vmemmap-fault', 'no-vmemmap-fault', 'The hypervisor never touches an unbacked hyp_vmemmap entry (EL2 translation fault).'),
    noFailure('hang', 'no-hang', 'Every hypercall terminates (no loop that spins at EL2).'),
    noFailure('WARN_ON', 'no-warn', 'No host-reachable WARN_ON at EL2.'),
    noFailure('uninitialised', 'no-uninitialised-return', 'No hypercall returns, or branches on, an uninitialised value.'),
    noFailure('lock-assert', 'lock-discipline', 'Every hyp_assert_lock_held() holds: page tables are changed only under their lock.'),
    failureAtomicity,
  ];
}

/** Sanity targets: states the model must be able to reach within usual bounds. */
export function pkvmReachables(config: PkvmConfig, variant?: Pick<Variant, 'views'>): ReachableProperty<PkvmState>[] {
  const hooks = variant?.views ?? {};
  return [
    {
      kind: 'reachable',
      name: 'page-dma-mapped',
      description: 'Some RAM page is mapped for DMA in an SMMU domain.',
      holds: (s) => dmaMappings(s, config, hooks).some((m) => m.pfn < config.ramPages),
    },
    {
      kind: 'reachable',
      name: 'page-donated-to-guest',
      description: 'Some page is owned by a guest.',
      holds: (s) => s.vms.some((vm) => vm.s2.some((p) => p?.state === PKVM_PAGE_OWNED)),
    },
  ];
}

export function invariantNames(config: PkvmConfig): string[] {
  return pkvmProperties(config).map((p) => p.name);
}

/** Selects properties by name or group; throws a message listing the known names on an unknown one. */
export function selectProperties(config: PkvmConfig, names: readonly string[] | undefined, variant?: Pick<Variant, 'views'>): PkvmProperty[] {
  const all = pkvmProperties(config, variant);
  if (!names || names.length === 0) return all;
  const groups: Record<string, string[]> = { [HYP_FAILURE_GROUP]: ['no-bug', 'no-vmemmap-fault', 'no-hang', 'no-warn', 'no-uninitialised-return', 'lock-discipline'] };
  const wanted = new Set<string>();
  for (const n of names) {
    if (groups[n]) groups[n].forEach((g) => wanted.add(g));
    else if (all.some((p) => p.name === n)) wanted.add(n);
    else throw new Error(`unknown invariant '${n}' (known: ${[...all.map((p) => p.name), ...Object.keys(groups)].join(', ')})`);
  }
  return all.filter((p) => wanted.has(p.name));
}

export type { Finding };
