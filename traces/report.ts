/**
 * The HTML report: one self-contained page (inline CSS and script, nothing fetched, a content
 * security policy that lets only those two run) with the configuration and verdict of each run
 * and every violation step by step: the call and its nested calls, the state changes the trace
 * recorded (traces/describe.ts), and with several CPUs where each CPU is and which locks it holds.
 * Pure: trace files and a summary of the run in, a string out.
 */
import { createHash } from 'node:crypto';
import { retName } from '../model/constants.ts';
import { HOST_BEHAVIOURS, type PkvmConfig } from '../model/config.ts';
import { stateFacts } from './describe.ts';
import type { TraceFile, TraceStep } from './format.ts';
import { describeConfig } from './render.ts';

/** How a search ended: the verdict the report gives its invariants. */
export type ReportVerdict =
  | { readonly kind: 'exhausted' }
  | { readonly kind: 'cut'; readonly bound: string; readonly unexpanded: number }
  | { readonly kind: 'stopped-at-violation' }
  | { readonly kind: 'interrupted'; readonly unexpanded: number }
  | { readonly kind: 'random'; readonly seed: number; readonly walks: number; readonly requested: number; readonly timeCut: boolean };

/** One search: a check, or one variant of a verify. */
export interface ReportRun {
  readonly variant: string;
  readonly engine: string;
  readonly config: PkvmConfig;
  /** The search and its bounds, in words ("breadth-first, depth <= 5"). */
  readonly search: string;
  readonly invariants: readonly { readonly name: string; readonly description: string }[];
  readonly stats: { readonly distinctStates: number | null; readonly transitions: number; readonly depth: number; readonly seconds: number; readonly peakMemoryBytes: number | null };
  readonly verdict: ReportVerdict;
  /** The shortest trace of each violation found, in the order the run reports them. */
  readonly traces: readonly TraceFile[];
}

export interface ReportInput {
  /** The command line that made the run. */
  readonly command: string;
  readonly generator: string;
  readonly runs: readonly ReportRun[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text (or an attribute value) as HTML: every character that could open markup is escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const n = (x: number) => x.toLocaleString('en-US');

/** Element ids: readable slugs, made unique by a counter when two would be the same. */
class Ids {
  readonly #used = new Set<string>();
  make(...parts: (string | number)[]): string {
    const base =
      parts
        .map((p) => String(p).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, ''))
        .filter((p) => p !== '')
        .join('-') || 'x';
    let id = base;
    for (let k = 2; this.#used.has(id); k++) id = `${base}-${k}`;
    this.#used.add(id);
    return id;
  }
}

const CSS = `
:root{--fg:#1d2125;--muted:#5b6570;--bg:#fff;--panel:#f5f7f9;--line:#d8dee4;--bad:#b3261e;--badbg:#fdecea;--add:#e6f4ea;--del:#fdecea;--accent:#0b57d0;--hl:#fff4c2}
@media (prefers-color-scheme:dark){:root{--fg:#e3e6e8;--muted:#9aa4ad;--bg:#16191c;--panel:#1f2327;--line:#353b41;--bad:#ff8a80;--badbg:#3b1f1d;--add:#1e3325;--del:#3b1f1d;--accent:#8ab4f8;--hl:#3d3618}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:1rem 1.5rem 4rem;font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
code,.mono,td,summary{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
a{color:var(--accent)}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.25rem;border-bottom:2px solid var(--line);padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.muted{color:var(--muted)}
.toolbar{position:sticky;top:0;background:var(--bg);padding:.4rem 0;border-bottom:1px solid var(--line);z-index:1;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
button{font:inherit;padding:.15rem .6rem;border:1px solid var(--line);border-radius:4px;background:var(--panel);color:var(--fg);cursor:pointer}
table{border-collapse:collapse;margin:.3rem 0;width:100%}
th,td{border:1px solid var(--line);padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;font-family:system-ui,sans-serif}
table.invariants td:first-child,table.invariants td:nth-child(2){white-space:nowrap}table.invariants td.says{font-family:system-ui,sans-serif;font-size:14px}
dl.config{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
dl.config dt{font-weight:600}dl.config dd{margin:0}
.verdict{font-weight:600}
.violated{color:var(--bad);font-weight:600}
.violation{border:1px solid var(--line);border-radius:6px;padding:.4rem 1rem 1rem;margin:1rem 0;background:var(--bg)}
.violation>h3{margin-top:.4rem}
.finding{background:var(--badbg);border-left:4px solid var(--bad);padding:.4rem .7rem;margin:.5rem 0}
ol.steps{list-style:none;padding:0;margin:0}
li.step{border-top:1px solid var(--line);padding:.5rem 0 .6rem;scroll-margin-top:3rem}
li.step:target,tr:target,section:target{background:var(--hl)}
.stephead{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.stephead .num{font-weight:700;min-width:4.5rem}
.stepnav{margin-left:auto;white-space:nowrap}
.actor{color:var(--muted)}
.ret{font-weight:600}
details.calls,div.calls{margin:.3rem 0 .3rem 1rem}
details.calls summary{cursor:pointer}
ul.tree{margin:.2rem 0 .2rem .6rem;padding-left:1rem;border-left:2px solid var(--line);list-style:none}
ul.tree li{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;margin:.1rem 0}
li.failure{color:var(--bad)}
table.diff td.before{background:var(--del)}table.diff td.after{background:var(--add)}
table.diff td.none{background:transparent;color:var(--muted)}
table.cpus td.changed{background:var(--add)}
.nochange{color:var(--muted);font-style:italic;margin:.3rem 0 0 1rem}
.sub{margin:.4rem 0 0 1rem}
`;

/** Opens and closes every call tree; j and k go to the next and previous step. */
const SCRIPT = `
(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll('li.step'));
  function go(d) {
    var id = decodeURIComponent(location.hash.slice(1));
    var cur = steps.findIndex(function (s) { return s.id === id; });
    var next = steps[cur < 0 ? 0 : Math.max(0, Math.min(steps.length - 1, cur + d))];
    if (next) location.hash = next.id;
  }
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j') go(1);
    else if (e.key === 'k') go(-1);
  });
  document.querySelectorAll('button[data-open]').forEach(function (b) {
    b.addEventListener('click', function () {
      var open = b.getAttribute('data-open') === 'all';
      document.querySelectorAll('details.calls').forEach(function (d) { d.open = open; });
    });
  });
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export function renderReport(input: ReportInput): string {
  const ids = new Ids();
  const runs = input.runs.map((run) => renderRun(run, ids, input.runs.length > 1));
  const title = input.runs.length === 1 ? `pkvm-check report: ${input.runs[0].variant}` : `pkvm-check report: ${input.runs.length} variants`;
  const total = input.runs.reduce((k, r) => k + r.traces.length, 0);
  const toc = input.runs.length > 1 ? `<nav><h3>Variants</h3><ul>${runs.map((r) => `<li><a href="#${r.id}">${escapeHtml(r.run.variant)}</a>: ${r.run.traces.length} violation(s)</li>`).join('')}</ul></nav>` : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // nothing is fetched: the only style and script are the ones inline, recognised by their hashes
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${sha256(CSS)}; script-src ${sha256(SCRIPT)}; img-src 'none'; form-action 'none'; base-uri 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    `<header><h1>${escapeHtml(title)}</h1>`,
    `<p class="muted">${escapeHtml(input.generator)}: <code class="command">${escapeHtml(input.command)}</code></p>`,
    `<p class="summary">${total} violation(s) in ${input.runs.length} run(s).</p>`,
    toc,
    '<div class="toolbar"><button type="button" data-open="all">open all call trees</button><button type="button" data-open="none">close all call trees</button><span class="muted">keys j / k: next / previous step</span></div>',
    '</header><main>',
    ...runs.map((r) => r.html),
    '</main>',
    `<script>${SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}

function verdictText(v: ReportVerdict, violated: boolean): string {
  switch (v.kind) {
    case 'exhausted':
      return 'state space exhausted';
    case 'cut':
      return `not exhausted: the ${v.bound} bound cut the search (${n(v.unexpanded)} states left unexpanded)`;
    case 'stopped-at-violation':
      return 'not exhausted: stopped at the first violation';
    case 'interrupted':
      return `not exhausted: interrupted (${n(v.unexpanded)} states left unexpanded)`;
    case 'random':
      return `random walks (seed ${v.seed}): ${violated ? `stopped at the violation, in walk ${n(v.walks)} of ${n(v.requested)}` : `${n(v.walks)} of ${n(v.requested)} walks ran to their end${v.timeCut ? ' (the time bound stopped the others)' : ''}`}; they prove nothing about the states they did not visit`;
  }
}

interface RenderedRun {
  readonly id: string;
  readonly run: ReportRun;
  readonly html: string;
}

function renderRun(run: ReportRun, ids: Ids, many: boolean): RenderedRun {
  const id = ids.make('run', run.variant);
  const prefix = many ? run.variant : '';
  // anchors first, so that invariants and violations can link to each other
  const invIds = new Map(run.invariants.map((i) => [i.name, ids.make(prefix, 'invariant', i.name)]));
  for (const t of run.traces) if (t.violation && !invIds.has(t.violation.invariant)) invIds.set(t.violation.invariant, ids.make(prefix, 'invariant', t.violation.invariant));
  const traceIds = run.traces.map((t, k) => {
    const v = ids.make(prefix, 'violation', k + 1, t.violation?.invariant ?? 'trace');
    return { violation: v, steps: t.steps.map((s) => ids.make(v, 'step', s.step)) };
  });
  const out: string[] = [`<section class="run" id="${id}">`, `<h2>${many ? `Variant ${escapeHtml(run.variant)}` : 'Configuration'}</h2>`];
  const s = run.stats;
  const stats = [
    s.distinctStates !== null ? `${n(s.distinctStates)} distinct states` : null,
    `${n(s.transitions)} transitions`,
    `depth ${s.depth}`,
    `${s.seconds.toFixed(1)} s`,
    s.peakMemoryBytes !== null ? `peak memory ${(s.peakMemoryBytes / 2 ** 20).toFixed(0)} MiB` : null,
  ].filter((x) => x !== null);
  const dl: [string, string][] = [
    ['variant', escapeHtml(run.variant)],
    ['host', `${escapeHtml(run.config.host)}: ${escapeHtml(HOST_BEHAVIOURS[run.config.host] ?? '')}`],
    ['bounds', escapeHtml(describeConfig({ config: run.config, variant: run.variant }))],
    ['search', escapeHtml(run.search)],
    ['engine', escapeHtml(run.engine)],
    ['statistics', escapeHtml(stats.join(', '))],
    ['verdict', `<span class="verdict">${run.traces.length ? `<span class="violated">${run.traces.length} violation(s)</span>; ` : 'no violation; '}${escapeHtml(verdictText(run.verdict, run.traces.length > 0))}</span>`],
  ];
  out.push(`<dl class="config">${dl.map(([k, v]) => `<dt>${k}</dt><dd class="${k}">${v}</dd>`).join('')}</dl>`);

  // each invariant: holds, holds within the bounds, or the violations that break it
  out.push('<h3>Invariants</h3>', '<table class="invariants"><thead><tr><th>invariant</th><th>result</th><th>what it says</th></tr></thead><tbody>');
  const described = new Map(run.invariants.map((i) => [i.name, i.description]));
  for (const t of run.traces) if (t.violation && !described.has(t.violation.invariant)) described.set(t.violation.invariant, t.violation.description);
  for (const [name, description] of described) {
    const broken = run.traces.map((t, k) => ({ t, k })).filter(({ t }) => t.violation?.invariant === name);
    const result = broken.length
      ? `<span class="violated">violated</span>: ${broken.map(({ t, k }) => `<a href="#${traceIds[k].violation}">violation ${k + 1}</a> (${t.steps.length} step(s))`).join(', ')}`
      : run.verdict.kind === 'exhausted'
        ? 'holds'
        : 'holds within the bounds';
    out.push(`<tr id="${invIds.get(name)}"><td><a href="#${invIds.get(name)}">${escapeHtml(name)}</a></td><td>${result}</td><td class="says">${escapeHtml(description)}</td></tr>`);
  }
  out.push('</tbody></table>');

  out.push(`<h3>Violations (${run.traces.length})</h3>`);
  if (!run.traces.length) out.push('<p class="muted">No invariant is violated in the part of the space this run explored.</p>');
  run.traces.forEach((t, k) => out.push(renderTrace(t, k, run.traces.length, traceIds, invIds)));
  out.push('</section>');
  return { id, run, html: out.join('\n') };
}

function renderTrace(t: TraceFile, k: number, count: number, traceIds: readonly { violation: string; steps: string[] }[], invIds: ReadonlyMap<string, string>): string {
  const { violation: vid, steps: stepIds } = traceIds[k];
  const v = t.violation;
  const last = t.steps.length - 1;
  const out: string[] = [`<section class="violation" id="${vid}">`];
  out.push(
    `<h3><a href="#${vid}">Violation ${k + 1} of ${count}</a>: ${v ? `<a class="invariant" href="#${invIds.get(v.invariant)}">${escapeHtml(v.invariant)}</a>` : 'trace'} after ${t.steps.length} step(s)</h3>`,
  );
  if (v) {
    out.push(`<div class="finding"><div>${escapeHtml(v.description)}</div><div class="message mono">${escapeHtml(v.message)}</div>`);
    if (last >= 0) out.push(`<div>caused by <a class="cause" href="#${stepIds[last]}">step ${t.steps[last].step}</a>${v.kind === 'state' ? ' (the state after it breaks the invariant)' : ' (the step itself breaks it)'}</div>`);
    out.push('</div>');
  }
  const init = [...stateFacts(t.initialState, t.config)];
  out.push(
    `<details class="initial"><summary>initial state ${t.init} (${init.length} facts)</summary><table class="facts"><tbody>${init.map(([what, value]) => `<tr><td>${escapeHtml(what)}</td><td>${escapeHtml(value)}</td></tr>`).join('')}</tbody></table></details>`,
  );
  out.push('<ol class="steps">');
  const cpus = t.config.cpus ?? 1;
  const where = Array.from({ length: cpus }, () => 'idle');
  const holds: (readonly string[])[] = Array.from({ length: cpus }, () => []);
  t.steps.forEach((s, i) => {
    const before = { where: [...where], holds: holds.map((h) => h.join(', ')) };
    if (s.cpu) {
      where[s.cpu.cpu] = s.cpu.finished ? 'idle' : s.cpu.to;
      holds[s.cpu.cpu] = s.cpu.holds;
    }
    const prev = i > 0 ? `<a class="prev" href="#${stepIds[i - 1]}">previous</a>` : `<a class="prev" href="#${vid}">violation</a>`;
    const next = i < last ? `<a class="next" href="#${stepIds[i + 1]}">next</a>` : k + 1 < count ? `<a class="next" href="#${traceIds[k + 1].violation}">next violation</a>` : '';
    out.push(`<li class="step" id="${stepIds[i]}">`);
    out.push(
      `<div class="stephead"><a class="num" href="#${stepIds[i]}">step ${s.step}</a><span class="actor">${s.cpu ? `cpu ${s.cpu.cpu}` : escapeHtml(s.actor)}</span><span class="stepnav">${prev} · ${next}</span></div>`,
      callTree(s),
    );
    if (cpus > 1) out.push(cpuTable(where, holds, before, s));
    out.push(diffTable(s));
    if (i === last && v) out.push(`<div class="finding">violates <a href="#${invIds.get(v.invariant)}">${escapeHtml(v.invariant)}</a>: ${escapeHtml(v.message)}</div>`);
    out.push('</li>');
  });
  out.push('</ol></section>');
  return out.join('\n');
}

/** The step's call and, folded under it, what it called, the failures it hit and the pages it accessed. */
function callTree(s: TraceStep): string {
  const ret = !s.cpu || s.cpu.finished ? ` = <span class="ret">${escapeHtml(s.retName)}</span>` : '';
  // a CPU's later steps are named by the call they go on with
  const what = s.cpu ? s.call.replace(/^cpu \d+: /, '') : s.call;
  const call = escapeHtml(s.cpu && what === 'next step' && s.cpu.op ? `${s.cpu.op}: next step` : what);
  const head = `<code class="call">${call}</code>${ret}`;
  const children = [
    ...(s.cpu ? [`<li class="cpu-path">runs from ${escapeHtml(s.cpu.from)} to ${escapeHtml(s.cpu.to)}</li>`] : []),
    ...s.subcalls.map((c) => `<li class="subcall">${escapeHtml(c.call)} = <span class="ret">${escapeHtml(retName(c.ret))}</span></li>`),
    ...s.failures.map((f) => `<li class="failure">${escapeHtml(f.kind)} in ${escapeHtml(f.where)}: ${escapeHtml(f.detail)}</li>`),
    ...s.accesses.map((a) => `<li class="access">${escapeHtml(a.by)} accesses page ${a.pfn}</li>`),
  ];
  if (!children.length) return `<div class="calls">${head}</div>`;
  return `<details class="calls"><summary>${head} <span class="muted">(${children.length} nested)</span></summary><ul class="tree">${children.join('')}</ul></details>`;
}

function cpuTable(where: readonly string[], holds: readonly (readonly string[])[], before: { where: string[]; holds: string[] }, s: TraceStep): string {
  const rows = where.map((w, c) => {
    const h = holds[c].join(', ');
    const cls = (changed: boolean) => (changed ? ' class="changed"' : '');
    return `<tr${s.cpu?.cpu === c ? ' class="ran"' : ''}><td>cpu ${c}</td><td${cls(w !== before.where[c])}>${escapeHtml(w)}</td><td${cls(h !== before.holds[c])}>${escapeHtml(h || 'no lock')}</td></tr>`;
  });
  const took = s.acquired && s.acquired.length ? `<div class="sub muted">took ${escapeHtml(s.acquired.join(', '))}</div>` : '';
  return `<table class="cpus sub"><thead><tr><th>CPU</th><th>where it is after the step</th><th>locks it holds</th></tr></thead><tbody>${rows.join('')}</tbody></table>${took}`;
}

function diffTable(s: TraceStep): string {
  if (!s.changes.length) return '<div class="nochange">no change of state</div>';
  const cell = (x: string | null, cls: string) => (x === null ? '<td class="none">-</td>' : `<td class="${cls}">${escapeHtml(x)}</td>`);
  const rows = s.changes.map((c) => {
    const cut = c.what.lastIndexOf(' / ');
    const [subject, field] = cut < 0 ? [c.what, ''] : [c.what.slice(0, cut), c.what.slice(cut + 3)];
    return `<tr><td>${escapeHtml(subject)}</td><td class="field">${escapeHtml(field)}</td>${cell(c.before, 'before')}${cell(c.after, 'after')}</tr>`;
  });
  return `<table class="diff sub"><thead><tr><th>of</th><th>what</th><th>before</th><th>after</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
