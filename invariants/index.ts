/**
 * The safety properties of the ownership protocol, as data: a name, a one-line description, and
 * a check that returns why it fails. State properties read one state; step properties read a
 * transition (before, action, outcome, after). They read states through a StateReader, so the
 * same properties check the readable model (objects) and the packed one (bytes).
 */
import type { Finding, Property, ReachableProperty, StateProperty, StepProperty } from '../checker/types.ts';
import { PKVM_ID_GUEST, PKVM_ID_HYP, PKVM_NOPAGE, PKVM_PAGE_OWNED, PKVM_PAGE_SHARED_BORROWED, PKVM_PAGE_SHARED_OWNED, retName } from '../model/constants.ts';
import { lockName, lockRank } from '../model/kernel/base.ts';
import type { PkvmConfig } from '../model/config.ts';
import { ObjectReader, type StateReader } from '../model/memory.ts';
import { UndoneReader } from '../model/concurrent/cpu-memory.ts';
import type { PkvmAction } from '../model/operations.ts';
import { deepEqual, lockCount, type FailureKind, type HostPte, type IoPte, type PkvmState } from '../model/state.ts';
import { hostRecoverable, HOST_RECOVERABLE } from './recoverable.ts';
import type { PkvmOutcome } from '../model/system.ts';
import type { Variant } from '../model/variant.ts';
import { isPoolPage, POOL_STATE_NAMES } from '../model/pool.ts';
import { tablePages } from './pool.ts';
import { domainRefs, endpointCount, lifecycleOn, modelExtensions, steDomain } from '../model/lifecycle.ts';
import { deviceTranslate } from '../model/views.ts';
import { borrowerCount, borrowers, dmaMappings, heldByHypOrGuest, inaccessibleToHost, iommuMappingCounts, iommuMappings, ownerCount, owners, ownerState, pageViews, type DmaMapping, type PageView } from '../model/views.ts';

export type PkvmProperty<S = PkvmState> = Property<S, PkvmAction, PkvmOutcome>;

/** How a property reads a state of representation S. */
export type ReadState<S> = (s: S) => StateReader;

/** The page views of a state (computed once per state and shared by the properties). */
type Views = (r: StateReader) => PageView[];
/** What devices reach, and the io-pgtable mappings per page (computed once per state, shared). */
interface Mappings {
  dma(r: StateReader): DmaMapping[];
  counts(r: StateReader): number[];
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const phys = (pfn: number) => `0x${(0x8000_0000 + pfn * 4096).toString(16)}`;
const page = (pfn: number) => `page ${pfn} (${phys(pfn)})`;
const slotIova = (slot: number) => `0x${(slot * 4096).toString(16)}`;

function dmaIsolation<S>(read: ReadState<S>, mappings: Mappings, views: Views): StateProperty<S> {
  return {
    kind: 'state',
    name: 'dma-isolation',
    description:
      'No page a device can reach through an SMMU domain is owned by, or lent to, the hypervisor or a guest (through an identity map that mirrors the host, no page the host itself cannot access).',
    check(s) {
      const r = read(s);
      const maps = mappings.dma(r);
      if (maps.length === 0) return null;
      const all = views(r);
      for (const m of maps) {
        const v = all[m.pfn];
        if (!v) continue;
        // a mapping outside the domains (domain -1) is an identity map acting for the host: it may
        // reach what the host can reach, shared pages included
        const why = m.domain < 0 ? inaccessibleToHost(v) : heldByHypOrGuest(v);
        if (why) return { message: `${page(m.pfn)} is reachable by DMA through ${m.domain < 0 ? 'the SMMU identity map' : `domain ${m.domain} at IOVA ${slotIova(m.slot)}${m.cached ? ' (a translation cached in its IOTLB)' : ''}`} but is ${why}` };
      }
      return null;
    },
  };
}

/**
 * With several CPUs, an invariant relating components that one critical section updates together
 * (the refcount and the io-pgtable, the host and the hyp page tables) is read where no update is
 * in flight: in the states where no CPU holds a lock. A lost or torn update outlives its critical
 * section, so it is still seen there; what devices can reach, which they reach at any time, is
 * checked in every state (dma-isolation).
 */
function whenNoLockHeld<S>(read: ReadState<S>, p: StateProperty<S>): StateProperty<S> {
  return {
    ...p,
    description: `${p.description} (With several CPUs: in the states where no CPU holds a lock.)`,
    check(s) {
      const r = read(s);
      if (r.config.cpus > 1) for (let id = 0, n = lockCount(r.config); id < n; id++) if (r.lockOwner(id) >= 0) return null;
      return p.check(s);
    },
  };
}

function refcountAccounting<S>(read: ReadState<S>, config: PkvmConfig, mappings: Mappings): StateProperty<S> {
  return {
    kind: 'state',
    name: 'refcount-accounting',
    description:
      "A page's hyp_page.refcount equals the number of SMMU mappings of it (RAM only) plus its outstanding direct DMA shares, its pins and the hyp allocator's references.",
    check(s) {
      const r = read(s);
      if (r.panic()) return null;
      let maps: number[] | null = null;
      for (let pfn = 0; pfn < r.nrPages; pfn++) {
        if (!(pfn < config.ramPages || pfn < config.ramPages + config.mmioBacked)) continue;
        const ram = pfn < config.ramPages;
        if (ram && maps === null) maps = mappings.counts(r);
        const dma = ram ? maps![pfn] : 0;
        const direct = r.ghost('dmaRefs', pfn);
        const pins = r.ghost('pins', pfn);
        const pool = r.ghost('pool', pfn);
        const rc = r.refcount(pfn);
        const expected = dma + direct + pins + pool;
        if (rc !== expected)
          return {
            message: `${page(pfn)} has hyp_page.refcount ${rc}, expected ${expected} (${dma} SMMU mapping(s), ${direct} direct DMA share(s), ${pins} pin(s), ${pool} allocator reference(s))`,
          };
      }
      return null;
    },
  };
}

function singleOwner<S>(read: ReadState<S>, views: Views, mappings: Mappings): StateProperty<S> {
  return {
    kind: 'state',
    name: 'single-owner',
    description:
      "Every RAM page has exactly one owner; an owner holding it PKVM_PAGE_OWNED shares it with nobody; every borrower's owner holds it PKVM_PAGE_SHARED_OWNED, and a SHARED_OWNED page has a borrower (a component or a device).",
    check(s) {
      const r = read(s);
      let maps: number[] | null = null;
      const vs = views(r);
      for (let i = 0; i < vs.length; i++) {
        const v = vs[i];
        if (!v.ram) continue;
        // counted, not listed (the lists are built for the messages)
        if (ownerCount(v) !== 1) {
          const own = owners(v);
          return { message: `${page(v.pfn)} has ${own.length === 0 ? 'no owner' : `${own.length} owners (${own.join(', ')})`}` };
        }
        const held = ownerState(v);
        if (held === PKVM_NOPAGE) continue; // a dead guest's: its stage-2 is gone, what it lent awaits reclaim
        const nBor = borrowerCount(v);
        if (nBor && held !== PKVM_PAGE_SHARED_OWNED)
          return {
            message: `${page(v.pfn)} is borrowed by ${borrowers(v).join(', ')} but its owner (${owners(v)[0]}) holds it ${held === PKVM_PAGE_OWNED ? 'PKVM_PAGE_OWNED' : 'in another state'}`,
          };
        if (held === PKVM_PAGE_SHARED_OWNED && !nBor && !v.pendingReclaim) {
          maps ??= mappings.counts(r);
          const hostOwns = v.host === PKVM_PAGE_SHARED_OWNED;
          const lentToDevice = maps[v.pfn] > 0 || r.ghost('dmaRefs', v.pfn) > 0 || (hostOwns && r.refcount(v.pfn) > r.ghost('pins', v.pfn));
          if (!lentToDevice) return { message: `${page(v.pfn)} is PKVM_PAGE_SHARED_OWNED by ${owners(v)[0]} but nobody borrows it and no device maps it` };
        }
      }
      return null;
    },
  };
}

function hostStage2Coherent<S>(read: ReadState<S>, views: Views): StateProperty<S> {
  return {
    kind: 'state',
    name: 'host-s2-coherent',
    description:
      "The host stage-2 agrees with the other components: an annotation names the page's real owner, a zero (lazily mapped) entry means nobody else maps the page, and MMIO entries carry no state that memory pressure would drop.",
    check(s) {
      const r = read(s);
      for (const v of views(r)) {
        const pte = r.hostPte(v.pfn);
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
        if (pte.kind === 'zero' && v.host === PKVM_PAGE_OWNED && (v.hyp !== PKVM_NOPAGE || v.guests.length > 0))
          return { message: `${page(v.pfn)} has a zero host stage-2 entry (host exclusively owns it) but ${v.hyp !== PKVM_NOPAGE ? 'the hypervisor' : 'a guest'} maps it` };
      }
      return null;
    },
  };
}

function noFailure<S>(kind: FailureKind, name: string, description: string): StepProperty<S, PkvmAction, PkvmOutcome> {
  return {
    kind: 'step',
    name,
    description,
    check(_before, _action, outcome) {
      const fs = outcome.failures;
      if (fs.length === 0) return null;
      for (const f of fs) if (f.kind === kind) return { message: `${f.kind} in ${f.where}: ${f.detail}`, key: f.where };
      return null;
    },
    relevant: (_action, outcome) => outcome.failures.some((f) => f.kind === kind),
  };
}

/**
 * What a caller can observe of a state: a valid host stage-2 entry with the default state and a
 * zero (lazily mapped) one are the same to the host, and an io-pgtable table with no leaf left
 * maps nothing, like no table.
 */
export function observableKey(r: StateReader): string {
  const out: (string | number)[] = [];
  for (let pfn = 0; pfn < r.nrPages; pfn++) {
    const p = r.hostPte(pfn);
    out.push(p.kind === 'valid' && hostClass(p) === 1 ? `v${p.state}` : p.kind === 'annot' ? `a${p.owner}` : 'z');
    out.push(r.hypPte(pfn) ?? '-', r.refcount(pfn), r.pageFlags(pfn), r.ghost('pins', pfn), r.ghost('pool', pfn), r.ghost('dmaRefs', pfn));
  }
  for (let vm = 0; vm < r.config.guests; vm++) {
    out.push(r.vmDying(vm) ? 'd' : 'l');
    for (let ipa = 0; ipa < r.config.guestIpas; ipa++) {
      const g = r.guestPte(vm, ipa);
      out.push(g ? `${g.pfn}:${g.state}` : '-');
    }
  }
  for (let d = 0; d < r.config.domains; d++)
    for (let i = 0; i < r.ioEntries(d); i++) {
      const e = r.ioPgd(d, i);
      out.push(e === null || ioEmpty(e) ? '-' : e.type === 'block' ? `b${e.pfn}` : `t${e.ptes.join(',')}`);
    }
  return out.join('|');
}

/**
 * observableKey(a) === observableKey(b), without building the keys: the same parts, in the same
 * order, compared as they are read (stops at the first difference). Tested to agree with
 * comparing the keys; observableKey stays the definition.
 */
export function observablyEqual(a: StateReader, b: StateReader, skip?: (pfn: number) => boolean): boolean {
  for (let pfn = 0; pfn < a.nrPages; pfn++) {
    if (skip?.(pfn)) continue;
    if (!sameHostPart(a.hostPte(pfn), b.hostPte(pfn))) return false;
    if ((a.hypPte(pfn) ?? '-') !== (b.hypPte(pfn) ?? '-')) return false;
    if (a.refcount(pfn) !== b.refcount(pfn) || a.pageFlags(pfn) !== b.pageFlags(pfn)) return false;
    if (a.ghost('pins', pfn) !== b.ghost('pins', pfn) || a.ghost('pool', pfn) !== b.ghost('pool', pfn) || a.ghost('dmaRefs', pfn) !== b.ghost('dmaRefs', pfn)) return false;
  }
  for (let vm = 0; vm < a.config.guests; vm++) {
    if (a.vmDying(vm) !== b.vmDying(vm)) return false;
    for (let ipa = 0; ipa < a.config.guestIpas; ipa++) {
      const x = a.guestPte(vm, ipa);
      const y = b.guestPte(vm, ipa);
      if (x === null || y === null ? x !== y : x.pfn !== y.pfn || x.state !== y.state) return false;
    }
  }
  for (let d = 0; d < a.config.domains; d++) {
    const n = a.ioEntries(d);
    if (n !== b.ioEntries(d)) return false;
    for (let i = 0; i < n; i++) if (!sameIoPart(a.ioPgd(d, i), b.ioPgd(d, i))) return false;
  }
  return true;
}

/** The host parts of observableKey are equal: 'z', `v${state}` or `a${owner}`. */
function sameHostPart(x: HostPte, y: HostPte): boolean {
  if (hostClass(x) !== hostClass(y)) return false;
  if (x.kind === 'valid' && y.kind === 'valid') return x.state === y.state;
  if (x.kind === 'annot' && y.kind === 'annot') return x.owner === y.owner;
  return true;
}

/** The host part's kind in observableKey: 0 'z' (zero, or valid and OWNED), 1 `v${state}`, 2 `a${owner}`. */
function hostClass(p: HostPte): number {
  return p.kind === 'zero' || (p.kind === 'valid' && p.state === PKVM_PAGE_OWNED) ? 0 : p.kind === 'valid' ? 1 : 2;
}

/** The io-pgtable parts of observableKey are equal: '-' (absent, or a table of empty entries), `b${pfn}` or `t${ptes}`. */
function sameIoPart(x: IoPte, y: IoPte): boolean {
  const ex = ioEmpty(x);
  const ey = ioEmpty(y);
  if (x === null || y === null || ex || ey) return ex === ey;
  if (x.type === 'block' || y.type === 'block') return x.type === 'block' && y.type === 'block' && x.pfn === y.pfn;
  const px = x.ptes;
  const py = y.ptes;
  if (px.length !== py.length) return false;
  // joined with ',', where null and undefined both print as nothing
  for (let k = 0; k < px.length; k++) if ((px[k] ?? null) !== (py[k] ?? null)) return false;
  return true;
}

/** Absent, or a table of empty entries: maps nothing, like no table. */
function ioEmpty(e: IoPte): boolean {
  if (e === null) return true;
  if (e.type !== 'table') return false;
  for (let k = 0; k < e.ptes.length; k++) if (e.ptes[k] !== null) return false;
  return true;
}

/**
 * A failing call leaves the state as it was. With one CPU a call is one step: its before and after
 * states. With several, a call is judged whole, at its last step: the state then against the same
 * state with the call's own writes undone (what other CPUs did meanwhile is in both).
 */
function failureAtomicity<S>(read: ReadState<S>, extKey: (r: StateReader) => string, extNames: readonly string[], config: PkvmConfig): StepProperty<S, PkvmAction, PkvmOutcome> {
  return {
    kind: 'step',
    name: 'failure-atomicity',
    description: 'A host or guest call that returns an error leaves the state as it was (with several CPUs: the call as a whole, its own writes).',
    check(before, action, outcome, after) {
      if (outcome.ret === 0) return null;
      if (outcome.failures.some((f) => f.kind === 'uninitialised')) return null;
      if (outcome.cpu) {
        const call = outcome.call;
        if (!outcome.cpu.finished || !call || call.undo.length === 0) return null;
        const ra = read(after);
        if (ra.panic()) return null;
        const undone = new UndoneReader(ra, call.undo, extNames);
        if (observablyEqual(undone, ra, poolSkip(undone, ra)) && extKey(undone) === extKey(ra)) return null;
        return { message: `${outcome.cpu.op} (CPU ${outcome.cpu.cpu}) returned ${retName(outcome.ret)} but changed the state`, key: outcome.cpu.op };
      }
      if (before === after) return null;
      if (before instanceof Uint8Array ? bytesEqual(before, after as Uint8Array) : deepEqual(before, after)) return null;
      const ra = read(after);
      if (ra.panic()) return null;
      const rb = read(before);
      if (observablyEqual(rb, ra, poolSkip(rb, ra)) && extKey(rb) === extKey(ra)) return null;
      return { message: `${action.op} returned ${retName(outcome.ret)} but changed the state`, key: action.op };
    },
    relevant: (_action, outcome) => outcome.ret !== 0 && !outcome.failures.some((f) => f.kind === 'uninitialised') && (!outcome.cpu || outcome.cpu.finished),
    // (with several CPUs the call's last step may write nothing after earlier steps did)
    holdsWhenUnchanged: config.cpus === 1,
  };
}

/**
 * With --memcache: the pages the host gave the SMMU memcache are the hypervisor's to take (a call
 * that fails with -ENOMEM may keep the table pages it took), so failure atomicity leaves them out.
 */
function poolSkip(a: StateReader, b: StateReader): ((pfn: number) => boolean) | undefined {
  return a.config.memcache ? (pfn) => isPoolPage(a, pfn) || isPoolPage(b, pfn) : undefined;
}

function noDeadlock<S>(read: ReadState<S>): StateProperty<S> {
  return {
    kind: 'state',
    name: 'no-deadlock',
    description: 'No CPU waits forever: no cycle of CPUs waiting for locks the others hold, and no lock held by a CPU that has finished its call.',
    check(s) {
      const r = read(s);
      const n = r.config.cpus;
      // a stopped hypervisor (a panic) runs no CPU: nothing waits, whatever its locks say
      if (n < 2 || r.panic()) return null;
      for (let id = 0; id < 4 + r.config.guests; id++) {
        const o = r.lockOwner(id);
        if (o >= 0 && r.cpu(o).op === 0) return { message: `CPU ${o} finished its call but still holds ${lockName(id)}: every later taker waits forever`, key: 'leak' };
      }
      // a cycle: following "waits for the holder of" from CPU c comes back to c within n steps
      for (let c = 0; c < n; c++) {
        let x = c;
        for (let k = 0; k < n && x >= 0; k++) {
          const wait = r.cpu(x).wait;
          x = wait ? r.lockOwner(wait - 1) : -1;
          if (x === c) return { message: deadlockMessage(r, c), key: 'cycle' };
        }
      }
      return null;
    },
  };
}

/** The wait cycle through CPU c, CPU by CPU (only once a deadlock is found). */
function deadlockMessage(r: StateReader, c: number): string {
  const chain: string[] = [];
  let x = c;
  do {
    const wait = r.cpu(x).wait;
    const next = r.lockOwner(wait - 1);
    chain.push(`CPU ${x} waits for ${lockName(wait - 1)}, held by CPU ${next}`);
    x = next;
  } while (x !== c);
  return `deadlock: ${chain.join('; ')}`;
}

function lockOrder(config: PkvmConfig): StepProperty<unknown, PkvmAction, PkvmOutcome> {
  const distinct = config.lockRanks === 'distinct';
  const check: StepProperty<unknown, PkvmAction, PkvmOutcome>['check'] = (_before, action, outcome) => {
    const acq = outcome.acquisitions;
    for (let i = 0; i < acq.length; i++) {
      const a = acq[i];
      if (a.held.length === 0) continue;
      const rank = lockRank(a.lock, distinct);
      for (let j = 0; j < a.held.length; j++) {
        const h = a.held[j];
        if (h !== a.lock && lockRank(h, distinct) >= rank) return { message: `${action.op} takes ${a.lock} while holding ${h}, against the lock order`, key: `${h}>${a.lock}` };
      }
    }
    return null;
  };
  return {
    kind: 'step',
    name: 'lock-order',
    description: distinct
      ? "Locks are taken in the later trees' order: iommu_lock, then host_mmu.lock, then pkvm_pgd_lock, then a VM's lock (never two VMs'), the hyp pool lock innermost."
      : "Locks are taken in the kernel's order: iommu_lock, then host_mmu.lock, then pkvm_pgd_lock or a VM's lock (never both), the hyp pool lock innermost.",
    relevant: (action, outcome) => check(undefined, action, outcome, undefined) !== null,
    check,
  };
}

/**
 * With one CPU and no IOTLB in the state, the IOTLB changes a verdict only through a call that
 * returns leaving a translation a device may have cached (any translation valid when the call
 * began) removed or changed in the io-pgtable without an invalidation. The model reports those
 * (PkvmOutcome.staleTlb), so this property is decided by the outcome alone. With --iotlb or
 * several CPUs the IOTLB is in the state and dma-isolation reads it; nothing is reported here.
 */
const tlbInvalidated: StepProperty<unknown, PkvmAction, PkvmOutcome> = {
  kind: 'step',
  name: 'tlb-invalidated',
  description:
    'A call that removes or changes an SMMU translation invalidates it (TLBI) before it returns, else a device may go on using it from its IOTLB (one CPU without --iotlb; otherwise dma-isolation reads the IOTLB itself).',
  relevant: (_action, outcome) => outcome.staleTlb.length > 0,
  holdsWhenUnchanged: true,
  check(_before, action, outcome) {
    const t = outcome.staleTlb[0];
    if (!t) return null;
    return {
      message: `${action.op} returns with domain ${t.domain}'s translation of IOVA 0x${(t.slot * 4096).toString(16)} to page ${t.pfn} removed or changed in the io-pgtable but not invalidated: a device may still reach page ${t.pfn} through its IOTLB (--iotlb shows what it can do with it)`,
    };
  },
};

function pinnedShared<S>(read: ReadState<S>, views: Views): StateProperty<S> {
  return {
    kind: 'state',
    name: 'pinned-shared',
    description: 'A page the hypervisor has pinned (hyp_pin_shared_mem) stays shared: host PKVM_PAGE_SHARED_OWNED and hypervisor PKVM_PAGE_SHARED_BORROWED.',
    check(s) {
      const r = read(s);
      if (r.panic()) return null;
      for (let pfn = 0; pfn < r.config.ramPages; pfn++) {
        if (r.ghost('pins', pfn) === 0) continue;
        const v = views(r)[pfn];
        if (v.host !== PKVM_PAGE_SHARED_OWNED || v.hyp !== PKVM_PAGE_SHARED_BORROWED)
          return { message: `${page(pfn)} is pinned by the hypervisor but its host state is ${stateName(v.host)} and its hypervisor state ${stateName(v.hyp)}` };
      }
      return null;
    },
  };
}

/**
 * --domain-lifecycle: a domain's refs say whether it is allocated and how many endpoints use it,
 * and a domain that is not allocated translates nothing, for no device.
 */
/** Endpoints attached per domain, reused by every check of domain-lifecycle (no allocation per state). */
let attachedScratch = new Int32Array(8);

function domainLifecycle<S>(read: ReadState<S>): StateProperty<S> {
  return {
    kind: 'state',
    name: 'domain-lifecycle',
    description:
      "An SMMU domain's refs are 0 when it is free and 1 + the endpoints attached to it when it is allocated; every endpoint's stream table entry points to an allocated domain; a free domain's io-pgtable maps nothing.",
    check(s) {
      const r = read(s);
      if (r.panic()) return null;
      const attached = (attachedScratch.length >= r.config.domains ? attachedScratch : (attachedScratch = new Int32Array(r.config.domains))).fill(0, 0, r.config.domains);
      for (let e = 0, n = endpointCount(r.config); e < n; e++) {
        const d = steDomain(r, e);
        if (d < 0) continue;
        if (domainRefs(r, d) === 0) return { message: `endpoint ${e}'s stream table entry points to domain ${d}, which is not allocated (its io-pgtable was freed)` };
        attached[d]++;
      }
      for (let d = 0; d < r.config.domains; d++) {
        const refs = domainRefs(r, d);
        if (refs === 0) {
          for (let slot = 0, n = r.ioEntries(d) * 2; slot < n; slot++)
            if (deviceTranslate(r, d, slot) !== null) return { message: `domain ${d} is free but its io-pgtable still maps IOVA ${slotIova(slot)}` };
        } else if (refs !== 1 + attached[d]) return { message: `domain ${d} has refs ${refs} but ${attached[d]} endpoint(s) attached (expected refs ${1 + attached[d]})` };
      }
      return null;
    },
  };
}

const stateName = (st: number) => (st === PKVM_PAGE_OWNED ? 'OWNED' : st === PKVM_PAGE_SHARED_OWNED ? 'SHARED_OWNED' : st === PKVM_PAGE_SHARED_BORROWED ? 'SHARED_BORROWED' : 'NOPAGE');

export const HYP_FAILURE_GROUP = 'hyp-failure';
export const HYP_FAILURE_INVARIANTS = ['no-bug', 'no-vmemmap-fault', 'no-hang', 'no-warn', 'no-uninitialised-return', 'lock-discipline'];

/** The properties of a state representation: objects (the default) or, with a reader, anything. */
export function pkvmProperties(config: PkvmConfig, variant?: Pick<Variant, 'views' | 'state'>): PkvmProperty[];
export function pkvmProperties<S>(config: PkvmConfig, variant: Pick<Variant, 'views' | 'state'> | undefined, read: ReadState<S>): PkvmProperty<S>[];
export function pkvmProperties<S>(config: PkvmConfig, variant?: Pick<Variant, 'views' | 'state'>, read?: ReadState<S>): PkvmProperty<S>[] {
  return buildProperties(config, variant, read).always;
}

/** Properties checked only when named (--invariant NAME): host-recoverable (its graph costs memory, and only the breadth-first search decides it). */
export const OPTIONAL_INVARIANTS: readonly string[] = [HOST_RECOVERABLE];

/** The optional properties (OPTIONAL_INVARIANTS), e.g. for replaying a trace that violates one. */
export function pkvmOptionalProperties<S = PkvmState>(config: PkvmConfig, variant?: Pick<Variant, 'views' | 'state'>, read?: ReadState<S>): PkvmProperty<S>[] {
  return buildProperties(config, variant, read).optional;
}

/** Every property, the default ones and the optional ones, sharing one cache of the last state read. */
function buildProperties<S>(config: PkvmConfig, variant?: Pick<Variant, 'views' | 'state'>, read?: ReadState<S>): { always: PkvmProperty<S>[]; optional: PkvmProperty<S>[] } {
  const hooks = variant?.views ?? {};
  const raw = (read ?? ((s: PkvmState) => new ObjectReader(s, config))) as ReadState<S>;
  // the last state read, its reader and its page views, shared by the properties that read it
  let lastS: S | undefined;
  let lastR: StateReader | undefined;
  let lastViews: PageView[] | undefined;
  // what devices reach, from the io-pgtable mappings computed once for the last state
  let lastIommu: DmaMapping[] | undefined;
  let lastDma: DmaMapping[] | undefined;
  let lastCounts: number[] | undefined;
  const rd: ReadState<S> = (s) => {
    if (s !== lastS || !lastR) {
      lastS = s;
      lastR = raw(s);
      lastViews = lastIommu = lastDma = lastCounts = undefined;
    }
    return lastR;
  };
  const views: Views = (r) => (r === lastR ? (lastViews ??= pageViews(r, hooks)) : pageViews(r, hooks));
  const mappings: Mappings = {
    dma: (r) => (r === lastR ? (lastDma ??= dmaMappings(r, hooks, (lastIommu ??= iommuMappings(r)))) : dmaMappings(r, hooks)),
    counts: (r) => (r === lastR ? (lastCounts ??= iommuMappingCounts(r, (lastIommu ??= iommuMappings(r)))) : iommuMappingCounts(r)),
  };
  // every extension of the model (the pool's with --memcache, the domain lifecycle's), as the CPUs' records name them
  const extState = modelExtensions(config, variant?.state);
  const extNames = Object.keys(extState).sort();
  // (the pool's state is the hypervisor's allocator's: not observable)
  const keyNames = extNames.filter((n) => !POOL_STATE_NAMES.includes(n));
  const extKey = (r: StateReader) => {
    if (!keyNames.length) return '';
    return keyNames.map((n) => Array.from({ length: extState[n].size === 'pages' ? r.nrPages : (extState[n].size as number) }, (_, i) => r.ext(n, i)).join(',')).join('|');
  };
  const always: PkvmProperty<S>[] = [
    dmaIsolation(rd, mappings, views),
    whenNoLockHeld(rd, refcountAccounting(rd, config, mappings)),
    whenNoLockHeld(rd, singleOwner(rd, views, mappings)),
    whenNoLockHeld(rd, hostStage2Coherent(rd, views)),
    noFailure<S>('BUG_ON', 'no-bug', 'No host-reachable BUG_ON: the hypervisor never panics on a host or guest call.'),
    noFailure<S>('vmemmap-fault', 'no-vmemmap-fault', 'The hypervisor never touches an unbacked hyp_vmemmap entry (EL2 translation fault).'),
    noFailure<S>('hang', 'no-hang', 'Every hypercall terminates (no loop that spins at EL2).'),
    noFailure<S>('WARN_ON', 'no-warn', 'No host-reachable WARN_ON at EL2.'),
    noFailure<S>('uninitialised', 'no-uninitialised-return', 'No hypercall returns, or branches on, an uninitialised value.'),
    noFailure<S>('lock-assert', 'lock-discipline', 'Every hyp_assert_lock_held() holds: page tables are changed only under their lock; locks are released by whoever took them.'),
    failureAtomicity(rd, extKey, extNames, config),
    whenNoLockHeld(rd, pinnedShared(rd, views)),
    noDeadlock(rd),
    lockOrder(config) as StepProperty<S, PkvmAction, PkvmOutcome>,
    tlbInvalidated as StepProperty<S, PkvmAction, PkvmOutcome>,
    ...(config.memcache ? [whenNoLockHeld(rd, tablePages(rd))] : []),
    // only with the domain lifecycle (without it, domains are not allocated or attached)
    ...(lifecycleOn(config) ? [whenNoLockHeld(rd, domainLifecycle(rd))] : []),
  ];
  return { always, optional: [hostRecoverable(config, rd, views, mappings.dma)] };
}

/** Sanity targets: states the model must be able to reach within usual bounds. */
export function pkvmReachables<S = PkvmState>(config: PkvmConfig, variant?: Pick<Variant, 'views'>, read?: ReadState<S>): ReachableProperty<S>[] {
  const hooks = variant?.views ?? {};
  const rd = (read ?? ((s: PkvmState) => new ObjectReader(s, config))) as ReadState<S>;
  return [
    {
      kind: 'reachable',
      name: 'page-dma-mapped',
      description: 'Some RAM page is reachable by a device.',
      holds: (s) => dmaMappings(rd(s), hooks).some((m) => m.pfn < config.ramPages),
    },
    {
      kind: 'reachable',
      name: 'page-donated-to-guest',
      description: 'Some page is owned by a guest.',
      holds: (s) => {
        const r = rd(s);
        for (let vm = 0; vm < config.guests; vm++) for (let ipa = 0; ipa < config.guestIpas; ipa++) if (r.guestPte(vm, ipa)?.state === PKVM_PAGE_OWNED) return true;
        return false;
      },
    },
  ];
}

export function invariantNames(config: PkvmConfig): string[] {
  return pkvmProperties(config).map((p) => p.name);
}

/** Selects properties by name or group; throws a message listing the known names on an unknown one. */
/** The property of one name, on the readable states (what a trace shrinker judges runs by). */
export function selectProperty(config: PkvmConfig, name: string, variant?: Pick<Variant, 'views' | 'state'>): PkvmProperty | undefined {
  return selectProperties(config, [name], variant)[0];
}

export function selectProperties(config: PkvmConfig, names: readonly string[] | undefined, variant?: Pick<Variant, 'views' | 'state'>): PkvmProperty[];
export function selectProperties<S>(config: PkvmConfig, names: readonly string[] | undefined, variant: Pick<Variant, 'views' | 'state'> | undefined, read: ReadState<S>): PkvmProperty<S>[];
export function selectProperties<S>(config: PkvmConfig, names: readonly string[] | undefined, variant?: Pick<Variant, 'views' | 'state'>, read?: ReadState<S>): PkvmProperty<S>[] {
  const built = buildProperties<S>(config, variant, (read ?? ((s: PkvmState) => new ObjectReader(s, config))) as ReadState<S>);
  if (!names || names.length === 0) return built.always;
  const all = [...built.always, ...built.optional];
  const groups: Record<string, string[]> = { [HYP_FAILURE_GROUP]: HYP_FAILURE_INVARIANTS };
  const wanted = new Set<string>();
  for (const n of names) {
    if (groups[n]) groups[n].forEach((g) => wanted.add(g));
    else if (all.some((p) => p.name === n)) wanted.add(n);
    else throw new Error(`unknown invariant '${n}' (known: ${[...all.map((p) => p.name), ...Object.keys(groups)].join(', ')})`);
  }
  return all.filter((p) => wanted.has(p.name));
}

export type { Finding };

