/**
 * The HTML report as a person sees it: reports of real runs (the seed with every violation, and
 * two CPUs) opened in headless Chromium, read and clicked through. In CI a missing Chromium is a
 * failure; elsewhere the test is skipped with a message.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../run-cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium for the browser test of the HTML report`);
if (!present) console.warn(`skipping the browser test of the HTML report: ${CHROMIUM} is missing (apt-get install chromium)`);

let dir: string;
let context: BrowserContext;
/** A report of a run: the file, and what the run's JSON says of its violations. */
const reports: Record<string, { file: string; violations: { invariant: string; length: number }[] }> = {};

async function report(name: string, args: string[]) {
  const file = join(dir, `${name}.html`);
  const r = await runCli(['check', ...args, '--quiet', '--json', '--no-trace', '--report', file]);
  expect(r.code).toBe(1);
  reports[name] = { file, violations: JSON.parse(r.out).violations };
}

const hash = (page: Page) => page.evaluate('location.hash') as Promise<string>;

/** Opens a report, recording every request and every console error or uncaught exception. */
async function open(name: string): Promise<{ page: Page; url: string; requests: string[]; errors: string[] }> {
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const url = pathToFileURL(reports[name].file).href;
  await page.goto(url);
  return { page, url, requests, errors };
}

describe.skipIf(!present)('the HTML report in Chromium', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pkvm-check-report-'));
    await report('seed', ['--all', '--depth', '5']);
    await report('cpus', ['--cpus', '2', '--all', '--depth', '5']);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'pkvm-check-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the seed: as many violations and steps as the run found, and the verdict', async () => {
    const { page, url, requests, errors } = await open('seed');
    const { violations } = reports.seed;
    expect(violations.length).toBeGreaterThan(1);
    expect(await page.locator('section.violation').count()).toBe(violations.length);
    expect(await page.locator('li.step').count()).toBe(violations.reduce((k, v) => k + v.length, 0));
    for (const [k, v] of violations.entries()) {
      const section = page.locator('section.violation').nth(k);
      await expect.poll(() => section.locator('h3').innerText()).toBe(`Violation ${k + 1} of ${violations.length}: ${v.invariant} after ${v.length} step(s)`);
      expect(await section.locator('li.step').count()).toBe(v.length);
    }
    expect(await page.locator('dd.verdict').innerText()).toMatch(/violation\(s\); not exhausted: the depth bound cut the search \([\d,]+ states left unexpanded\)/);
    expect(await page.locator('dd.variant').innerText()).toBe('rfc-v1');
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
  });

  it('a refcount change shows in a step of the seed, old and new value side by side', async () => {
    const { page, errors } = await open('seed');
    const rows = page.locator('table.diff tr', { has: page.locator('td.field', { hasText: /^hyp_page\.refcount$/ }) });
    expect(await rows.count()).toBeGreaterThan(0);
    const row = rows.first();
    await row.scrollIntoViewIfNeeded();
    expect(await row.isVisible()).toBe(true);
    const [before, after] = [await row.locator('td').nth(2).innerText(), await row.locator('td').nth(3).innerText()];
    expect(before).toMatch(/^\d+$|^-$/);
    expect(after).toMatch(/^\d+$|^-$/);
    expect(before).not.toBe(after);
    expect(errors).toEqual([]);
  });

  it('a call tree opens on a click and shows the nested call', async () => {
    const { page, errors } = await open('seed');
    expect(await page.locator('details.calls li.subcall').count()).toBeGreaterThan(0);
    const tree = page.locator('details.calls', { has: page.locator('li.subcall') }).first();
    const sub = tree.locator('li.subcall').first();
    expect(await tree.getAttribute('open')).toBeNull();
    expect(await sub.isVisible()).toBe(false);
    await tree.locator('summary').click();
    expect(await tree.getAttribute('open')).not.toBeNull();
    expect(await sub.isVisible()).toBe(true);
    expect(await sub.innerText()).toMatch(/^kvm_iommu_(un)?map_pages\(domain=\d.*\) = \S+$/);
    // the toolbar's button closes every tree again
    await page.locator('button[data-open="none"]').click();
    expect(await sub.isVisible()).toBe(false);
    expect(errors).toEqual([]);
  });

  it('links go to steps: from a violation to the step that caused it, next, and the keys k and j', async () => {
    const { page, errors } = await open('seed');
    const section = page.locator('section.violation').nth(1);
    const steps = section.locator('li.step');
    const last = steps.last();
    const lastId = await last.getAttribute('id');
    await section.locator('a.cause').click();
    await expect.poll(() => hash(page)).toBe(`#${lastId}`);
    expect(await page.locator(':target').getAttribute('id')).toBe(lastId);
    const box = (await last.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeLessThan(page.viewportSize()!.height);
    // from the first step, 'next', then k and j move one step each
    const first = steps.first();
    await first.locator('a.num').click();
    await first.locator('a.next').click();
    await expect.poll(() => hash(page)).toBe(`#${await steps.nth(1).getAttribute('id')}`);
    await page.keyboard.press('k');
    await expect.poll(() => hash(page)).toBe(`#${await first.getAttribute('id')}`);
    await page.keyboard.press('j');
    await expect.poll(() => hash(page)).toBe(`#${await steps.nth(1).getAttribute('id')}`);
    // and the violation's invariant links to its row in the table of invariants
    await section.locator('h3 a.invariant').click();
    const inv = await hash(page);
    expect(await page.locator(`tr${inv}`).innerText()).toMatch(/violated/);
    expect(errors).toEqual([]);
  });

  it('two CPUs: every step says where each CPU is and the locks it holds', async () => {
    const { page, url, requests, errors } = await open('cpus');
    const { violations } = reports.cpus;
    expect(await page.locator('section.violation').count()).toBe(violations.length);
    expect(await page.locator('li.step').count()).toBe(violations.reduce((k, v) => k + v.length, 0));
    const step = page.locator('li.step').first();
    const rows = step.locator('table.cpus tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toMatch(/^cpu 0\t.+: to take .+\thost_mmu\.lock$/);
    expect(await rows.nth(1).innerText()).toBe('cpu 1\tidle\tno lock');
    expect(await page.locator('table.cpus td', { hasText: 'pkvm_pgd_lock' }).count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
  });
});
