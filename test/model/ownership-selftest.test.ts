/**
 * domain.md §12: upstream's pkvm_ownership_selftest() oracle (UNEW), adapted to the seed's base.
 * One host page P, guest IPAs g and g+1 of guest 0. The base differs from UNEW:
 *  - no FF-A (share_ffa / unshare_ffa): rows 5 and 6 are skipped, FF-A calls dropped from the others;
 *  - no __pkvm_host_unshare_guest and no host_share_guest_count: row 8 is skipped except for what the
 *    base does instead (a second share of a shared page fails), unshare_guest (-ENOENT) is dropped;
 *  - no force reclaim: row 11 is skipped; row 12 reclaims through __pkvm_teardown_vm +
 *    __pkvm_host_reclaim_page instead of __pkvm_host_reclaim_page_guest;
 *  - errnos follow the base's mem_protect.c (jpbrucker/linux snapshot), e.g. in row 7
 *    __pkvm_host_unshare_hyp on a guest-shared page is not refused (see that test).
 * Each failing call must leave the whole state unchanged.
 */
import { describe, expect, it } from 'vitest';
import {
  EBUSY,
  EFAULT,
  EPERM,
  HOST_PAGE_NEED_POISONING,
  HOST_PAGE_PENDING_RECLAIM,
  PKVM_ID_GUEST,
  PKVM_ID_HYP,
  PKVM_NOPAGE,
  PKVM_PAGE_OWNED,
  PKVM_PAGE_SHARED_BORROWED,
  PKVM_PAGE_SHARED_OWNED,
  type PageState,
} from '../../model/constants.ts';
import type { Args } from '../../model/operations.ts';
import type { PkvmState } from '../../model/state.ts';
import {
  ZERO,
  annot,
  apply,
  applyAny,
  build,
  flags,
  guestState,
  hostState,
  hypState,
  initial,
  makeModel,
  refcount,
  valid,
} from './helpers.ts';

const P = 0;
const Q = 1;
const VM = 0;
const g = 0;

const model = makeModel({
  ramPages: 2,
  mmioPages: 0,
  mmioBacked: 0,
  domains: 0,
  iovas: 2,
  guests: 1,
  guestIpas: 2,
  refcountBits: 16,
  maxRange: 2,
  maxPins: 2,
  host: 'adversarial',
});

/** The host calls of the oracle, on page P (guest calls at IPA gfn of guest 0). */
const call = {
  donate_hyp: ['__pkvm_host_donate_hyp', { pfn: P, nr_pages: 1 }],
  share_hyp: ['__pkvm_host_share_hyp', { pfn: P }],
  unshare_hyp: ['__pkvm_host_unshare_hyp', { pfn: P }],
  hyp_donate_host: ['__pkvm_hyp_donate_host', { pfn: P }],
  pin: ['hyp_pin_shared_mem', { pfn: P }],
  unpin: ['hyp_unpin_shared_mem', { pfn: P }],
  share_guest: (gfn: number) => ['__pkvm_host_share_guest', { pfn: P, gfn, vm: VM }] as const,
  donate_guest: (gfn: number) => ['__pkvm_host_donate_guest', { pfn: P, gfn, vm: VM }] as const,
  guest_share_host: (ipa: number) => ['__pkvm_guest_share_host', { vm: VM, ipa }] as const,
  guest_unshare_host: (ipa: number) => ['__pkvm_guest_unshare_host', { vm: VM, ipa }] as const,
  teardown: ['__pkvm_teardown_vm', { vm: VM }],
  reclaim: ['__pkvm_host_reclaim_page', { pfn: P }],
} as const;

type Call = readonly [string, Args];

/** (H, Y, G[g], G[g+1]) as the oracle lists them. */
function view(s: PkvmState): [PageState, PageState, PageState, PageState] {
  return [hostState(s, P), hypState(s, P), guestState(s, VM, g), guestState(s, VM, g + 1)];
}

const OWNED = PKVM_PAGE_OWNED;
const SO = PKVM_PAGE_SHARED_OWNED;
const SB = PKVM_PAGE_SHARED_BORROWED;
const NOPAGE = PKVM_NOPAGE;

/** Each call fails with `errno` and leaves the state exactly as it was. */
function expectAllFail(s: PkvmState, calls: readonly Call[], errno: number): void {
  for (const [op, args] of calls) {
    const r = applyAny(model, s, op, args);
    expect({ op, args, ret: r.ret }).toEqual({ op, args, ret: -errno });
    expect(r.outcome.failures).toEqual([]);
    expect(r.state).toEqual(s);
  }
}

function ok(s: PkvmState, [op, args]: Call): PkvmState {
  const r = apply(model, s, op, args);
  expect({ op, ret: r.ret, failures: r.outcome.failures }).toEqual({ op, ret: 0, failures: [] });
  return r.state;
}

// The states the oracle walks through, built once.
const s1 = build(model, [call.donate_hyp]);
const s2 = build(model, [call.hyp_donate_host], s1);
const s3 = build(model, [call.share_hyp], s2);
const s4 = build(model, [call.pin, call.pin, call.unpin], s3);
const s4done = build(model, [call.unpin, call.unshare_hyp], s4);
const s7 = build(model, [call.share_guest(g)], s4done);
const s9 = build(model, [call.donate_guest(g)]);
const s10 = build(model, [call.guest_share_host(g)], s9);

describe('domain.md §12 ownership selftest oracle, adapted to the SB base', () => {
  it('row 1: H NOPAGE, Y OWNED (donated to hyp): host calls fail -EPERM; hyp_donate_host gives it back', () => {
    expect(view(s1)).toEqual([NOPAGE, OWNED, NOPAGE, NOPAGE]);
    expect(s1.hostS2[P]).toEqual(annot(PKVM_ID_HYP));
    expectAllFail(s1, [call.donate_hyp, call.share_hyp, call.unshare_hyp, call.pin, call.share_guest(g), call.donate_guest(g)], EPERM);
    // hyp_donate_host -> H OWNED (a zero PTE in the SB base), Y NOPAGE
    expect(view(s2)).toEqual([OWNED, NOPAGE, NOPAGE, NOPAGE]);
    expect(s2.hostS2[P]).toEqual(ZERO);
  });

  it('row 2: H OWNED: hyp_donate_host, unshare_hyp, pin fail -EPERM; share_hyp -> H SO, Y SB', () => {
    expect(view(s2)).toEqual([OWNED, NOPAGE, NOPAGE, NOPAGE]);
    // __pkvm_hyp_donate_host is not among the enabled actions here (the hyp does not own P): call it anyway.
    expectAllFail(s2, [call.hyp_donate_host, call.unshare_hyp, call.pin], EPERM);
    expect(view(s3)).toEqual([SO, SB, NOPAGE, NOPAGE]);
    expect(s3.hostS2[P]).toEqual(valid(SO));
  });

  it('row 3: H SO, Y SB: share_hyp, donate_hyp, hyp_donate_host, share_guest, donate_guest fail -EPERM; pin x2, unpin x1 -> rc 1', () => {
    expectAllFail(s3, [call.share_hyp, call.donate_hyp, call.hyp_donate_host, call.share_guest(g), call.donate_guest(g)], EPERM);
    expect(refcount(s4, P)).toBe(1);
    expect(s4.ghost.pins[P]).toBe(1);
    expect(view(s4)).toEqual([SO, SB, NOPAGE, NOPAGE]);
  });

  it('row 4: pinned (rc 1): unshare_hyp fails -EBUSY, the rest -EPERM; unpin, unshare_hyp -> H OWNED, Y NOPAGE', () => {
    expectAllFail(s4, [call.unshare_hyp], EBUSY);
    expectAllFail(s4, [call.share_hyp, call.donate_hyp, call.hyp_donate_host, call.share_guest(g), call.donate_guest(g)], EPERM);
    expect(refcount(s4done, P)).toBe(0);
    expect(view(s4done)).toEqual([OWNED, NOPAGE, NOPAGE, NOPAGE]);
    // host_initiate_unshare remaps the page OWNED: a valid PTE, not the zero one of the start
    expect(s4done.hostS2[P]).toEqual(valid(OWNED));
  });

  it('row 7: share_guest(g) -> H SO, G[g] SB; a repeat, and donate/share_hyp/pin, fail -EPERM', () => {
    expect(view(s7)).toEqual([SO, NOPAGE, SB, NOPAGE]);
    expect(s7.vms[VM].s2[g]).toEqual({ pfn: P, state: SB });
    expectAllFail(s7, [call.share_guest(g), call.donate_guest(g), call.donate_guest(g + 1), call.donate_hyp, call.share_hyp, call.pin], EPERM);
    // A different page at the same IPA: the guest's ack (G NOPAGE) refuses it.
    expectAllFail(s7, [['__pkvm_host_share_guest', { pfn: Q, gfn: g, vm: VM }]], EPERM);
  });

  it('row 7, unshare_hyp: UNEW says -EPERM; the SB base passes the check and WARNs half-way (H OWNED, G still SB)', () => {
    // SB hyp_ack_unshare: rc 0, and __hyp_ack_skip_pgtable_check() skips the SHARED_BORROWED check
    // for a host initiator in non-debug builds (fixed upstream by 985bb51f17ab). __do_unshare then
    // remaps the host OWNED and hyp_complete_unshare unmaps 0 bytes -> -EFAULT -> WARN_ON -> returns 1.
    const r = applyAny(model, s7, ...call.unshare_hyp);
    expect(r.ret).toBe(1);
    expect(r.outcome.failures.map((f) => [f.kind, f.where])).toEqual([['WARN_ON', 'do_unshare']]);
    expect(view(r.state)).toEqual([OWNED, NOPAGE, SB, NOPAGE]);
  });

  it('row 8 (adapted: no host_share_guest_count in SB): a second share_guest of P at g+1 fails -EPERM', () => {
    expectAllFail(s7, [call.share_guest(g + 1)], EPERM);
  });

  it('row 9: donate_guest(g) -> H NOPAGE (annotated GUEST), G[g] OWNED; any second donate/share fails -EPERM', () => {
    expect(view(s9)).toEqual([NOPAGE, NOPAGE, OWNED, NOPAGE]);
    expect(s9.hostS2[P]).toEqual(annot(PKVM_ID_GUEST));
    expect(s9.vms[VM].s2[g]).toEqual({ pfn: P, state: OWNED });
    expectAllFail(
      s9,
      [call.donate_guest(g), call.donate_guest(g + 1), call.share_guest(g + 1), call.donate_hyp, call.share_hyp, call.unshare_hyp, call.pin],
      EPERM,
    );
    // another page onto the occupied IPA: guest_ack_donation / guest_ack_share refuse it
    expectAllFail(
      s9,
      [
        ['__pkvm_host_donate_guest', { pfn: Q, gfn: g, vm: VM }],
        ['__pkvm_host_share_guest', { pfn: Q, gfn: g, vm: VM }],
      ],
      EPERM,
    );
  });

  it('row 10: guest_share_host -> H SB, G SO; again -EPERM; guest_unshare_host -> back to the row 9 state', () => {
    expect(view(s10)).toEqual([SB, NOPAGE, SO, NOPAGE]);
    expect(s10.hostS2[P]).toEqual(valid(SB));
    expectAllFail(s10, [call.guest_share_host(g)], EPERM);
    // the host cannot take a borrowed page anywhere
    expectAllFail(s10, [call.donate_hyp, call.share_hyp, call.donate_guest(g + 1), call.share_guest(g + 1), call.unshare_hyp], EPERM);
    const back = ok(s10, call.guest_unshare_host(g));
    expect(back).toEqual(s9);
    expectAllFail(back, [call.guest_unshare_host(g)], EPERM);
    // an IPA the guest does not map: -EFAULT from __guest_request_page_transition
    expectAllFail(s9, [call.guest_share_host(g + 1), call.guest_unshare_host(g + 1)], EFAULT);
  });

  it('row 12 (adapted): donate_guest(g+1); teardown + reclaim_page -> H OWNED; donate_hyp -> H NOPAGE, Y OWNED', () => {
    let s = ok(initial(model), call.donate_guest(g + 1));
    expect(view(s)).toEqual([NOPAGE, NOPAGE, NOPAGE, OWNED]);
    // a live guest's page cannot be reclaimed
    expectAllFail(s, [call.reclaim], EPERM);
    s = ok(s, call.teardown);
    expect(s.vms[VM].dying).toBe(true);
    expect(flags(s, P)).toBe(HOST_PAGE_PENDING_RECLAIM | HOST_PAGE_NEED_POISONING);
    expect(view(s)).toEqual([NOPAGE, NOPAGE, NOPAGE, NOPAGE]);
    expectAllFail(s, [call.donate_hyp, call.share_hyp], EPERM);
    s = ok(s, call.reclaim);
    expect(s.hostS2[P]).toEqual(ZERO);
    expect(flags(s, P)).toBe(0);
    expect(view(s)).toEqual([OWNED, NOPAGE, NOPAGE, NOPAGE]);
    // reclaiming a page the host owns again is a no-op success
    const again = applyAny(model, s, ...call.reclaim);
    expect(again.ret).toBe(0);
    expect(again.state).toEqual(s);
    s = ok(s, call.donate_hyp);
    expect(view(s)).toEqual([NOPAGE, OWNED, NOPAGE, NOPAGE]);
    expect(s.hostS2[P]).toEqual(annot(PKVM_ID_HYP));
  });

  it('row 12 variant: a page the dead guest had shared with the host is reclaimed without poisoning', () => {
    let s = ok(s10, call.teardown);
    expect(flags(s, P)).toBe(HOST_PAGE_PENDING_RECLAIM);
    expect(view(s)).toEqual([SB, NOPAGE, NOPAGE, NOPAGE]);
    s = ok(s, call.reclaim);
    expect(s.hostS2[P]).toEqual(ZERO);
    expect(flags(s, P)).toBe(0);
  });
});
