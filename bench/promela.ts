/**
 * The Promela twin of pkvm-check's model, for SPIN: variant rfc-v1-fixed, host behaviour `driver`,
 * sequential (one CPU, every operation one atomic `d_step`), generated for a configuration.
 *
 * The twin keeps exactly the distinctions the TypeScript state makes in its canonical encoding
 * (model/codec.ts), and no other, so that SPIN's "states stored" equals pkvm-check's distinct
 * states:
 *
 *   hs2[p]      host stage-2 entry, coded as the codec codes it: 0 zero (never faulted / unmapped),
 *               1 + state for a valid entry (1 OWNED, 2 SHARED_OWNED, 3 SHARED_BORROWED),
 *               8 + owner for an annotation (9 PKVM_ID_HYP, 10 PKVM_ID_GUEST, 11 PKVM_ID_IOMMU)
 *   hyp1[p]     hyp stage-1 linear-map entry: 0 unmapped, 1 + state
 *   refc[p], flg[p]   struct hyp_page of the pages whose vmemmap is backed (RAM, then the first
 *               mmioBacked MMIO pages)
 *   pins[p], pool[p], dmarefs[p]   the ghost counters (dmarefs stays 0: the driver host never calls
 *               __pkvm_host_share_dma directly)
 *   dying[g], gpfn[g*I+i] (pfn + 1, 0 when empty), gst[g*I+i] (state)   guest stage-2s
 *   iot/iob/ioc[d*L+k]   level-1 entry k of domain d: (0,0,0) empty, (1,pfn,0) a block,
 *               (2, leaf0 + 1 or 0, leaf1 + 1 or 0) a table (which can exist with no leaf left)
 *
 * The scratch variables of the d_steps (return values, loop indexes, the invariants' counts) are
 * globals that every d_step sets back to 0 before it ends: SPIN's breadth-first search refuses
 * `hidden` variables, and a scratch value left behind would split one state into several.
 *
 * Each operation of the model is one do-option per argument tuple, guarded by the operation's
 * enabling condition (operations.ts `enabled`), so SPIN takes the same transitions pkvm-check
 * does; the first option is a self-loop that asserts the state invariants (so SPIN's transition
 * count is pkvm-check's plus one per state). The effects follow the kernel functions of
 * rfc-v1-fixed (model/variants/fixed.ts over model/kernel/*.ts) step by step, with the branches
 * that rfc-v1-fixed makes unreachable (WARN_ON, BUG_ON) kept as assertions.
 *
 *   node bin/run-ts.js bench/promela.ts [--ram-pages N --mmio-pages N ...] > twin.pml
 */
import { DEFAULT_CONFIG, type PkvmConfig } from '../model/config.ts';

const PAGE_SIZE = 4096;
const BLOCK_SIZE = 2 * PAGE_SIZE;
const PHYS_BASE = 0x8000_0000;
const EPERM = -1;
const EINVAL = -22;
const EEXIST = -17;

/** The bounds the twin is generated for (refcountBits and host are fixed: 16 bits, driver). */
export type TwinConfig = Pick<PkvmConfig, 'ramPages' | 'mmioPages' | 'mmioBacked' | 'domains' | 'iovas' | 'guests' | 'guestIpas' | 'maxRange' | 'maxPins'>;

/** iommu_pgsize() of the Linux IOMMU core, as model/operations.ts has it (2 page sizes: 4K, 8K). */
export function iommuPgsize(iova: number, paddr: number, size: number): { pgsize: number; count: number } {
  const addrMerge = iova | paddr;
  let pgsize = PAGE_SIZE;
  if (size >= BLOCK_SIZE && addrMerge % BLOCK_SIZE === 0) pgsize = BLOCK_SIZE;
  if (pgsize === BLOCK_SIZE) return { pgsize, count: Math.floor(size / pgsize) };
  if (((iova ^ paddr) & (BLOCK_SIZE - 1)) === 0) {
    const offset = BLOCK_SIZE - (addrMerge & (BLOCK_SIZE - 1));
    if (offset + BLOCK_SIZE <= size) size = offset;
  }
  return { pgsize, count: Math.floor(size / pgsize) };
}

/** A chunk of an IOMMU core map/unmap: first IOVA slot (and pfn), pages per unit, units. */
interface Chunk {
  readonly slot: number;
  readonly pfn: number;
  readonly pg: 1 | 2;
  readonly count: number;
}

/** __iommu_map's split of [slot, slot + npages) onto [pfn, ...) into kvm_iommu_map_pages calls. */
export function mapChunks(slot: number, pfn: number, npages: number): Chunk[] {
  const out: Chunk[] = [];
  let iova = slot * PAGE_SIZE;
  let paddr = PHYS_BASE + pfn * PAGE_SIZE;
  let size = npages * PAGE_SIZE;
  while (size) {
    const { pgsize, count } = iommuPgsize(iova, paddr, size);
    out.push({ slot: iova / PAGE_SIZE, pfn: (paddr - PHYS_BASE) / PAGE_SIZE, pg: pgsize === BLOCK_SIZE ? 2 : 1, count });
    size -= pgsize * count;
    iova += pgsize * count;
    paddr += pgsize * count;
  }
  return out;
}

/** __iommu_unmap's split of [slot, slot + npages) into kvm_iommu_unmap_pages calls. */
export function unmapChunks(slot: number, npages: number): Chunk[] {
  const out: Chunk[] = [];
  let iova = slot * PAGE_SIZE;
  let left = npages * PAGE_SIZE;
  while (left > 0) {
    const { pgsize, count } = iommuPgsize(iova, iova, left);
    out.push({ slot: iova / PAGE_SIZE, pfn: -1, pg: pgsize === BLOCK_SIZE ? 2 : 1, count });
    iova += pgsize * count;
    left -= pgsize * count;
  }
  return out;
}

// ------------------------------------------------------------------ Promela text helpers

const ind = (s: string): string =>
  s
    .split('\n')
    .map((l) => (l ? `   ${l}` : l))
    .join('\n');

/** Statements in sequence (empty ones dropped). */
function seq(...stmts: (string | false | null | undefined)[]): string {
  const kept = stmts.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  return kept.length ? kept.join(';\n') : 'skip';
}

/** A selection with exclusive guards and an else branch (a d_step must never block inside). */
function sel(branches: [guard: string, body: string][], otherwise = 'skip'): string {
  const lines = ['if'];
  for (const [g, b] of branches) lines.push(`:: ${g} ->\n${ind(b)}`);
  lines.push(`:: else ->\n${ind(otherwise)}`);
  lines.push('fi');
  return lines.join('\n');
}

const any = (xs: string[]): string => (xs.length ? `(${xs.join(' || ')})` : 'false');
const all = (xs: string[]): string => (xs.length ? `(${xs.join(' && ')})` : 'true');

/** Scratch variables: globals every d_step sets back to 0. */
const SCRATCH_INT = ['r_page', 'r_dma', 'r_map', 'r_unmap', 'r_range'];
const SCRATCH_BYTE = ['up', 'blk', 'own', 'bor', 'ost', 'lent', 'pend', 'gi', 'og'];

export function promelaTwin(config: TwinConfig): string {
  const c = config;
  const R = c.ramPages;
  const N = c.ramPages + c.mmioPages;
  const NB = c.ramPages + c.mmioBacked;
  const L = c.iovas / 2;
  const G = c.guests;
  const I = c.guestIpas;
  if (c.iovas < 2 || (c.iovas & (c.iovas - 1)) !== 0) throw new Error('iovas must be a power of two, at least 2');
  if (N > 16 || R < 1) throw new Error('1 to 16 pages, at least one RAM page');

  const E = (d: number, s: number) => d * L + Math.floor(s / 2);
  const leaf = (d: number, s: number) => (s % 2 === 0 ? `iob[${E(d, s)}]` : `ioc[${E(d, s)}]`);
  /** softwareTranslate(...) !== null: a block, or a table whose leaf is set. */
  const mapped = (d: number, s: number) => `(iot[${E(d, s)}] == 1 || (iot[${E(d, s)}] == 2 && ${leaf(d, s)} != 0))`;
  const free = (d: number, s: number) => `(iot[${E(d, s)}] == 0 || (iot[${E(d, s)}] == 2 && ${leaf(d, s)} == 0))`;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const guestEntries = range(G * I);
  /** Host state as host_get_page_state reads a RAM page: OWNED (zero or valid OWNED), SHARED_OWNED, ... */
  const hostOwned = (p: string) => `(hs2[${p}] == 0 || hs2[${p}] == 1)`;

  // ---------------------------------------------------------------- the seed, as rfc-v1-fixed has it

  /** __pkvm_host_share_dma_page(phys(p), is_ram) -> r_page. */
  function sharePage(p: number, isRam: boolean): string {
    if (p >= R) return `r_page = ${isRam ? EINVAL : 0}`; // !addr_is_memory: is_ram ? -EINVAL : 0
    if (!isRam) return `r_page = ${EINVAL}`;
    return seq(
      `assert(refc[${p}] < 255)  /* twin's byte; the model's 16-bit refcount BUGs only at 32768 */`,
      `refc[${p}] = refc[${p}] + 1 /* hyp_page_ref_inc_return */`,
      sel(
        [
          [
            `refc[${p}] == 1`,
            // do_share(host -> IOMMU): host_request_owned_transition; iommu_ack_share; host_initiate_share
            sel([[hostOwned(String(p)), `hs2[${p}] = 2; r_page = 0`]], `r_page = ${EPERM}`),
          ],
        ],
        // __host_check_page_dma_shared: host SHARED_OWNED, hyp PKVM_NOPAGE
        sel([[`hs2[${p}] == 2 && hyp1[${p}] == 0`, 'r_page = 0']], `r_page = ${EPERM}`),
      ),
      sel([['r_page != 0', `refc[${p}] = refc[${p}] - 1 /* hyp_page_ref_dec */`]]),
    );
  }

  /** __pkvm_host_unshare_dma_page(phys(P)) -> r_page, for a RAM page P (an expression). */
  function unshareRamPage(P: string): string {
    return seq(
      `assert(refc[${P}] > 0) /* hyp_page_ref_dec_and_test: no underflow (no-bug) */`,
      `refc[${P}] = refc[${P}] - 1`,
      sel(
        [['refc[' + P + '] != 0', 'r_page = 0']],
        // do_unshare(host -> IOMMU): host_request_unshare (SHARED_OWNED); host_initiate_unshare (valid OWNED)
        sel([[`hs2[${P}] == 2`, `hs2[${P}] = 1; r_page = 0`]], `r_page = ${EPERM}`),
      ),
    );
  }

  function unsharePage(p: number): string {
    return p >= R ? 'r_page = 0' : unshareRamPage(String(p));
  }

  /** __pkvm_host_share_dma(phys(p0), n pages, is_ram) -> r_dma, with the rollback of the fixed seed. */
  function shareDma(p0: number, n: number, isRam: boolean): string {
    const build = (i: number): string => {
      if (i === n) return 'r_dma = 0';
      const rollback = range(i)
        .reverse()
        .map((j) => unsharePage(p0 + j));
      return seq(sharePage(p0 + i, isRam), sel([['r_page != 0', seq('r_dma = r_page', ...rollback)]], build(i + 1)));
    };
    return build(0);
  }

  /** arm_lpae_iova_to_phys as a pfn into `up` (the caller knows the slot is mapped). */
  function iovaToPfn(d: number, s: number): string {
    const e = E(d, s);
    return sel([[`iot[${e}] == 1`, `up = iob[${e}] | ${s % 2}`]], `up = ${leaf(d, s)} - 1`);
  }

  /** iopt_unmap_pages(domain, iova, PAGE_SIZE, 1): split a block, or clear a leaf (the table stays). */
  function unmapOnePage(d: number, s: number): string {
    const e = E(d, s);
    const split =
      s % 2 === 0
        ? `blk = iob[${e}]; iot[${e}] = 2; iob[${e}] = 0; ioc[${e}] = blk + 2`
        : `blk = iob[${e}]; iot[${e}] = 2; iob[${e}] = blk + 1; ioc[${e}] = 0`;
    return sel(
      [
        [`iot[${e}] == 1`, `${split} /* arm_lpae_split_blk_unmap */`],
        [`iot[${e}] == 2 && ${leaf(d, s)} != 0`, `${leaf(d, s)} = 0`],
      ],
      'assert(false) /* WARN_ON in __arm_lpae_unmap: IOVA not mapped */',
    );
  }

  /** kvm_iommu_map_pages of rfc-v1-fixed -> r_map. */
  function kvmMap(d: number, ch: Chunk, isRam: boolean): string {
    const pages = ch.pg * ch.count;
    const slots = range(pages).map((i) => ch.slot + i);
    if (ch.pg === 2 && ch.slot % 2 !== 0) throw new Error('block chunk at an odd IOVA slot');
    const iopt: string[] = [];
    if (ch.pg === 2)
      for (let j = 0; j < ch.count; j++) {
        const e = E(d, ch.slot + 2 * j);
        iopt.push(`assert(iot[${e}] != 1) /* arm_lpae_init_pte: -EEXIST (WARN) */`, `iot[${e}] = 1; iob[${e}] = ${ch.pfn + 2 * j}; ioc[${e}] = 0`);
      }
    else
      for (let j = 0; j < ch.count; j++) {
        const s = ch.slot + j;
        const e = E(d, s);
        iopt.push(
          sel(
            [
              [`iot[${e}] == 0`, `iot[${e}] = 2; iob[${e}] = 0; ioc[${e}] = 0 /* install a level-2 table */`],
              [`iot[${e}] == 1`, 'assert(false) /* __arm_lpae_map: inside a block (WARN) */'],
            ],
            'skip',
          ),
          `assert(${leaf(d, s)} == 0) /* arm_lpae_init_pte: -EEXIST (WARN) */`,
          `${leaf(d, s)} = ${ch.pfn + j + 1}`,
        );
      }
    return sel(
      [
        [
          all(slots.map((s) => free(d, s))),
          seq(shareDma(ch.pfn, pages, isRam), sel([['r_dma == 0', seq(...iopt, 'r_map = 0')]], 'r_map = r_dma')),
        ],
      ],
      `r_map = ${EEXIST}`,
    );
  }

  /** kvm_iommu_unmap_pages of rfc-v1-fixed -> r_unmap: check the range is mapped, then page by page. */
  function kvmUnmap(d: number, ch: Chunk): string {
    const slots = range(ch.pg * ch.count).map((i) => ch.slot + i);
    const build = (i: number): string => {
      if (i === slots.length) return 'skip';
      const s = slots[i];
      return seq(
        iovaToPfn(d, s),
        unmapOnePage(d, s),
        `assert(up < ${N})`,
        // __pkvm_host_unshare_dma(phys, PAGE_SIZE): non-memory is a no-op
        sel([[`up >= ${R}`, 'r_page = 0']], unshareRamPage('up')),
        'r_unmap = r_page',
        i + 1 < slots.length ? sel([['r_unmap == 0', build(i + 1)]]) : '',
      );
    };
    return sel([[all(slots.map((s) => mapped(d, s))), seq('r_unmap = 0', build(0))]], `r_unmap = ${EINVAL}`);
  }

  /** __iommu_unmap(domain, slot, npages) -> r_range. */
  function unmapRange(d: number, slot: number, npages: number): string {
    const chunks = unmapChunks(slot, npages);
    const build = (i: number): string => {
      const body = seq(kvmUnmap(d, chunks[i]), 'r_range = r_unmap');
      return i + 1 < chunks.length ? seq(body, sel([['r_range == 0', build(i + 1)]])) : body;
    };
    return build(0);
  }

  /** __iommu_map(domain, slot, pfn, npages): chunks; on a failure, unmap what was mapped. */
  function iommuMap(d: number, slot: number, pfn: number, npages: number): string {
    const chunks = mapChunks(slot, pfn, npages);
    const isRam = pfn < R;
    const build = (i: number, done: number): string => {
      if (i === chunks.length) return 'skip';
      const ch = chunks[i];
      return seq(kvmMap(d, ch, isRam), sel([['r_map != 0', done > 0 ? unmapRange(d, slot, done) : 'skip']], build(i + 1, done + ch.pg * ch.count)));
    };
    return build(0, 0);
  }

  // ---------------------------------------------------------------- the invariants

  function invariants(): string {
    const out: string[] = [];
    // mp[q]: (domain, IOVA slot) pairs through which a device reaches page q (deviceTranslate)
    for (let d = 0; d < c.domains; d++)
      for (let s = 0; s < c.iovas; s++) {
        const e = E(d, s);
        out.push(
          sel([
            [`iot[${e}] == 1`, seq(`blk = (iob[${e}] / 2) * 2 + ${s % 2}`, sel([[`blk < ${N}`, 'mp[blk] = mp[blk] + 1']]), 'blk = 0')],
            [`iot[${e}] == 2 && ${leaf(d, s)} != 0`, `mp[${leaf(d, s)} - 1] = mp[${leaf(d, s)} - 1] + 1`],
          ]),
        );
      }
    for (let q = 0; q < N; q++) {
      const guestMaps = any(guestEntries.map((k) => `gpfn[${k}] == ${q + 1}`));
      out.push(`/* page ${q} (${q < R ? 'RAM' : 'MMIO'}) */`);
      // dma-isolation
      out.push(`assert(mp[${q}] == 0 || !(hs2[${q}] == 9 || hs2[${q}] == 10 || hyp1[${q}] != 0 || ${guestMaps})) /* dma-isolation */`);
      // refcount-accounting
      if (q < NB) out.push(`assert(refc[${q}] == ${q < R ? `mp[${q}]` : '0'} + dmarefs[${q}] + pins[${q}] + pool[${q}]) /* refcount-accounting */`);
      if (q >= R) {
        out.push(`assert(hs2[${q}] <= 1) /* host-s2-coherent: MMIO holds no state */`);
        continue;
      }
      // single-owner
      const cnt = (cond: string) => `(${cond} -> 1 : 0)`;
      out.push(
        `own = ${[cnt(`hs2[${q}] <= 2`), cnt(`hyp1[${q}] == 1 || hyp1[${q}] == 2`), ...guestEntries.map((k) => cnt(`gpfn[${k}] == ${q + 1} && gst[${k}] <= 1`))].join(' + ')}`,
        `bor = ${[cnt(`hs2[${q}] == 3`), cnt(`hyp1[${q}] == 3`), ...guestEntries.map((k) => cnt(`gpfn[${k}] == ${q + 1} && gst[${k}] == 2`))].join(' + ')}`,
        `pend = flg[${q}] & 2`,
        sel(
          [['own == 0 && pend != 0', 'skip /* a dead guest\'s page awaiting reclaim */']],
          seq(
            'assert(own == 1) /* single-owner: one owner */',
            sel(
              [
                [`hs2[${q}] <= 2`, `ost = (hs2[${q}] == 0 -> 0 : hs2[${q}] - 1)`],
                [`hyp1[${q}] == 1 || hyp1[${q}] == 2`, `ost = hyp1[${q}] - 1`],
              ],
              G * I === 0
                ? 'assert(false)'
                : seq(
                    // the owning guest's first mapping of the page (views.ts: guests.find(vm))
                    `gi = 0`,
                    `do\n:: gi < ${G * I} && !(gpfn[gi] == ${q + 1} && gst[gi] <= 1) -> gi++\n:: else -> break\nod`,
                    `assert(gi < ${G * I})`,
                    `og = gi / ${I}`,
                    `gi = og * ${I}`,
                    `do\n:: gpfn[gi] != ${q + 1} -> gi++\n:: else -> break\nod`,
                    'ost = gst[gi]',
                  ),
            ),
            `lent = (mp[${q}] > 0 || dmarefs[${q}] > 0 || (hs2[${q}] <= 2 && refc[${q}] > pins[${q}]) -> 1 : 0)`,
            'assert(bor == 0 || ost == 1) /* single-owner: a borrower\'s owner holds it SHARED_OWNED */',
            'assert(!(ost == 1 && bor == 0 && lent == 0 && pend == 0)) /* single-owner: SHARED_OWNED has a borrower */',
          ),
        ),
      );
      // host-s2-coherent
      out.push(
        `assert(hs2[${q}] != 9 || hyp1[${q}] == 1) /* host-s2-coherent: annotated HYP */`,
        `assert(hs2[${q}] != 10 || (flg[${q}] & 2) != 0 || ${any(guestEntries.map((k) => `(gpfn[${k}] == ${q + 1} && gst[${k}] <= 1)`))}) /* host-s2-coherent: annotated GUEST */`,
        `assert(hs2[${q}] >= 9 || !(hyp1[${q}] == 1 || ${any(guestEntries.map((k) => `(gpfn[${k}] == ${q + 1} && gst[${k}] == 0)`))})) /* host-s2-coherent: exclusive owner */`,
        `assert(hs2[${q}] != 0 || (hyp1[${q}] == 0 && !${guestMaps})) /* host-s2-coherent: zero entry */`,
      );
    }
    return seq(...out);
  }

  // ---------------------------------------------------------------- the operations

  const options: { name: string; guard: string | null; body: string }[] = [];
  const op = (name: string, guard: string | null, body: string) => options.push({ name, guard, body });
  const ramPfns = range(R);

  for (let p = 0; p < N; p++) op(`host_access(pfn=${p})`, null, sel([[`hs2[${p}] == 0`, `hs2[${p}] = 1 /* host_stage2_idmap: valid OWNED */`]]));
  for (const p of ramPfns)
    op(`__pkvm_host_share_hyp(pfn=${p})`, null, sel([[hostOwned(String(p)), `hs2[${p}] = 2; hyp1[${p}] = 3`]]));
  for (const p of ramPfns)
    op(`__pkvm_host_unshare_hyp(pfn=${p})`, null, sel([[`hs2[${p}] == 2 && refc[${p}] == 0 && hyp1[${p}] == 3`, `hs2[${p}] = 1; hyp1[${p}] = 0`]]));
  for (const p of ramPfns)
    for (let n = 1; n <= c.maxRange && p + n <= R; n++) {
      const pages = range(n).map((i) => p + i);
      op(`__pkvm_host_donate_hyp(pfn=${p}, nr_pages=${n})`, null, sel([[all(pages.map((q) => hostOwned(String(q)))), pages.map((q) => `hs2[${q}] = 9; hyp1[${q}] = 1`).join('; ')]]));
    }
  if (c.maxPins > 0)
    for (const p of ramPfns)
      op(
        `hyp_pin_shared_mem(pfn=${p})`,
        `pins[${p}] < ${c.maxPins}`,
        sel([[`hs2[${p}] == 2 && hyp1[${p}] == 3`, seq(`assert(refc[${p}] < 255)`, `refc[${p}] = refc[${p}] + 1`, `pins[${p}] = pins[${p}] + 1`)]]),
      );
  for (let g = 0; g < G; g++)
    for (let i = 0; i < I; i++)
      for (const p of ramPfns)
        op(`__pkvm_host_share_guest(pfn=${p}, gfn=${i}, vm=${g})`, `!dying[${g}]`, sel([[`${hostOwned(String(p))} && gpfn[${g * I + i}] == 0`, `hs2[${p}] = 2; gpfn[${g * I + i}] = ${p + 1}; gst[${g * I + i}] = 2`]]));
  for (let g = 0; g < G; g++)
    for (let i = 0; i < I; i++)
      for (const p of ramPfns)
        op(`__pkvm_host_donate_guest(pfn=${p}, gfn=${i}, vm=${g})`, `!dying[${g}]`, sel([[`${hostOwned(String(p))} && gpfn[${g * I + i}] == 0`, `hs2[${p}] = 10; gpfn[${g * I + i}] = ${p + 1}; gst[${g * I + i}] = 0`]]));
  for (let g = 0; g < G; g++) {
    const flagsOf = range(I).map((i) => {
      const k = g * I + i;
      return sel([
        [
          `gpfn[${k}] != 0`,
          seq(
            `up = gpfn[${k}] - 1`,
            `assert(up < ${NB}) /* no-vmemmap-fault */`,
            sel([[`gst[${k}] == 0`, 'flg[up] = flg[up] | 3 /* NEED_POISONING | PENDING_RECLAIM */']], 'flg[up] = flg[up] | 2 /* PENDING_RECLAIM */'),
          ),
        ],
      ]);
    });
    op(`__pkvm_teardown_vm(vm=${g})`, `!dying[${g}]`, seq(...flagsOf, ...range(I).map((i) => `gpfn[${g * I + i}] = 0; gst[${g * I + i}] = 0`), `dying[${g}] = 1`));
  }
  for (const p of ramPfns)
    op(
      `__pkvm_host_reclaim_page(pfn=${p})`,
      null,
      sel([[`!${hostOwned(String(p))} && (flg[${p}] & 2) != 0`, `hs2[${p}] = 0; flg[${p}] = flg[${p}] & 252 /* clear NEED_POISONING, PENDING_RECLAIM */`]]),
    );
  for (let d = 0; d < c.domains; d++)
    for (let slot = 0; slot < c.iovas; slot++)
      for (let pfn = 0; pfn < N; pfn++)
        for (let np = 1; np <= c.maxRange; np++) {
          if (slot + np > c.iovas || pfn + np > N) continue;
          if (pfn < R !== pfn + np - 1 < R) continue;
          op(`iommu_map(domain=${d}, iova=${slot}, pfn=${pfn}, npages=${np})`, all(range(np).map((i) => free(d, slot + i))), iommuMap(d, slot, pfn, np));
        }
  for (let d = 0; d < c.domains; d++)
    for (let slot = 0; slot < c.iovas; slot++)
      for (let np = 1; np <= c.maxRange && slot + np <= c.iovas; np++)
        op(`iommu_unmap(domain=${d}, iova=${slot}, npages=${np})`, all(range(np).map((i) => mapped(d, slot + i))), unmapRange(d, slot, np));
  for (let g = 0; g < G; g++)
    for (let i = 0; i < I; i++) {
      const k = g * I + i;
      op(
        `__pkvm_guest_share_host(vm=${g}, ipa=${i})`,
        `!dying[${g}]`,
        sel([[`gpfn[${k}] != 0 && gst[${k}] == 0 && gpfn[${k}] <= ${R}`, seq(`up = gpfn[${k}] - 1`, sel([['hs2[up] >= 8', `gst[${k}] = 1; hs2[up] = 3`]]))]]),
      );
    }
  for (let g = 0; g < G; g++)
    for (let i = 0; i < I; i++) {
      const k = g * I + i;
      op(
        `__pkvm_guest_unshare_host(vm=${g}, ipa=${i})`,
        `!dying[${g}]`,
        sel([[`gpfn[${k}] != 0 && gst[${k}] == 1 && gpfn[${k}] <= ${R}`, seq(`up = gpfn[${k}] - 1`, sel([['hs2[up] == 3', `gst[${k}] = 0; hs2[up] = 10`]]))]]),
      );
    }
  for (let g = 0; g < G; g++) for (let i = 0; i < I; i++) op(`guest_access(vm=${g}, ipa=${i})`, `!dying[${g}]`, 'skip');
  if (c.maxPins > 0)
    for (const p of ramPfns) op(`hyp_unpin_shared_mem(pfn=${p})`, `pins[${p}] > 0`, seq(`assert(refc[${p}] > 0)`, `refc[${p}] = refc[${p}] - 1`, `pins[${p}] = pins[${p}] - 1`));
  for (const p of ramPfns)
    op(`hyp_alloc_page(pfn=${p})`, `hyp1[${p}] == 1 && pool[${p}] == 0`, seq(`assert(refc[${p}] == 0) /* WARN in hyp_set_page_refcounted */`, `refc[${p}] = 1`, `pool[${p}] = 1`));
  for (const p of ramPfns) op(`hyp_put_page(pfn=${p})`, `pool[${p}] > 0`, seq(`assert(refc[${p}] > 0)`, `refc[${p}] = refc[${p}] - 1`, `pool[${p}] = pool[${p}] - 1`));
  for (const p of ramPfns) op(`__pkvm_hyp_donate_host(pfn=${p})`, `hyp1[${p}] == 1 && pool[${p}] == 0`, `hyp1[${p}] = 0; hs2[${p}] = 0`);
  for (let d = 0; d < c.domains; d++) for (let s = 0; s < c.iovas; s++) op(`device_dma(domain=${d}, iova=${s})`, mapped(d, s), 'skip');
  if (c.mmioPages > 0)
    op(
      'host_stage2_unmap_dev_all()',
      null,
      range(c.mmioPages)
        .map((i) => `hs2[${R + i}] = 0`)
        .join('; '),
    );

  // ---------------------------------------------------------------- the text

  const reset = [...SCRATCH_INT, ...SCRATCH_BYTE].map((v) => `${v} = 0`).join('; ');
  const decl = (type: string, name: string, n: number) => (n > 0 ? `${type} ${name}[${n}];` : `/* ${name}: none */`);
  const head = [
    `/* Promela twin of pkvm-check (rfc-v1-fixed, host driver, sequential), generated by bench/promela.ts`,
    ` * ram pages ${c.ramPages}, MMIO pages ${c.mmioPages} (${c.mmioBacked} backed), domains ${c.domains}, IOVAs ${c.iovas},`,
    ` * guests ${c.guests} x ${c.guestIpas} IPAs, max range ${c.maxRange}, max pins ${c.maxPins}; ${options.length} actions. */`,
    '',
    decl('byte', 'hs2', N),
    decl('byte', 'hyp1', N),
    decl('byte', 'refc', NB),
    decl('byte', 'flg', NB),
    decl('byte', 'pins', N),
    decl('byte', 'pool', N),
    decl('byte', 'dmarefs', N),
    decl('bit', 'dying', G),
    decl('byte', 'gpfn', G * I),
    decl('byte', 'gst', G * I),
    decl('byte', 'iot', c.domains * L),
    decl('byte', 'iob', c.domains * L),
    decl('byte', 'ioc', c.domains * L),
    '',
    '/* scratch: 0 between transitions */',
    `short ${SCRATCH_INT.join(', ')};`,
    `byte ${SCRATCH_BYTE.join(', ')};`,
    `byte mp[${N}];`,
    '',
  ];
  // G*I == 0 or domains == 0: arrays are absent; the generated code never names them then.
  const body: string[] = ['active proctype pkvm()', '{', 'do'];
  body.push(`:: d_step { /* the state invariants: a self-loop */\n${ind(ind(seq(invariants(), range(N).map((q) => `mp[${q}] = 0`).join('; '), reset)))}\n   }`);
  for (const o of options) {
    const inner = seq(o.body, reset);
    body.push(`:: d_step { /* ${o.name} */\n${ind(ind(o.guard ? `(${o.guard}) ->\n${inner}` : inner))}\n   }`);
  }
  body.push('od', '}', '');
  return [...head, ...body].join('\n');
}

/** The number of actions (do-options besides the invariant self-loop) of a twin. */
export function twinActionCount(text: string): number {
  return (text.match(/^:: d_step \{ \/\* /gm)?.length ?? 1) - 1;
}

/** Parse the bound flags of pkvm-check (--ram-pages N ...) into a configuration. */
export function parseBounds(argv: readonly string[], base: TwinConfig = DEFAULT_CONFIG): TwinConfig {
  const keys: Record<string, keyof TwinConfig> = {
    '--ram-pages': 'ramPages',
    '--mmio-pages': 'mmioPages',
    '--mmio-backed': 'mmioBacked',
    '--domains': 'domains',
    '--iovas': 'iovas',
    '--guests': 'guests',
    '--guest-ipas': 'guestIpas',
    '--max-range': 'maxRange',
    '--max-pins': 'maxPins',
  };
  const out: Record<string, number> = { ...base } as unknown as Record<string, number>;
  for (let i = 0; i < argv.length; i++) {
    const k = keys[argv[i]];
    if (!k) continue;
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v)) throw new Error(`${argv[i]} needs an integer`);
    out[k] = v;
    i++;
  }
  const { ramPages, mmioPages, mmioBacked, domains, iovas, guests, guestIpas, maxRange, maxPins } = out;
  return { ramPages, mmioPages, mmioBacked, domains, iovas, guests, guestIpas, maxRange, maxPins };
}

/** The same bounds as pkvm-check flags. */
export function boundFlags(c: TwinConfig): string[] {
  return [
    '--ram-pages', String(c.ramPages),
    '--mmio-pages', String(c.mmioPages),
    '--mmio-backed', String(c.mmioBacked),
    '--domains', String(c.domains),
    '--iovas', String(c.iovas),
    '--guests', String(c.guests),
    '--guest-ipas', String(c.guestIpas),
    '--max-range', String(c.maxRange),
    '--max-pins', String(c.maxPins),
  ];
}

if (process.argv[1] && /promela\.ts$/.test(process.argv[1])) process.stdout.write(promelaTwin(parseBounds(process.argv.slice(2))));
