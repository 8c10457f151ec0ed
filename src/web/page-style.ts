/**
 * The status page's CSS, inlined into the page (no external resources).
 * Colours follow the tier states: OK green, WAITING teal, LATE amber, FAILED red, NEVER grey.
 * Below 700 px wide (a phone) the padding shrinks and a tier's charts and runs stack.
 */

/** The stylesheet of the status page. */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #1d2330; --muted: #667085; --grid: #e4e7ec;
  --ok: #1a7f37; --waiting: #0e7490; --late: #b54708; --failed: #c11b1b; --never: #667085;
  --s1: #2e6fdb; --s2: #d9480f;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12151b; --card: #1b2029; --fg: #e6e9ef; --muted: #98a2b3; --grid: #2c3340;
    --ok: #3fb950; --waiting: #22b8cf; --late: #f0a742; --failed: #f85149; --never: #98a2b3;
    --s1: #6ea8ff; --s2: #ff8f5a;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; padding: 16px 24px 8px; }
header h1 { font-size: 20px; margin: 0; }
header .meta { color: var(--muted); font-size: 13px; }
main { padding: 8px 24px 32px; }
#error { display: none; margin: 0 0 12px; padding: 8px 12px; border-radius: 6px; background: var(--failed); color: #fff; }
#error.shown { display: block; }
#deliveries { display: none; margin: 0 0 12px; padding: 8px 12px; border-radius: 6px; background: var(--late); color: #fff; overflow-wrap: anywhere; }
#deliveries.shown { display: block; }
#deliveries p { margin: 0; }
#deliveries p + p { margin-top: 6px; }
td.outbox.waiting { color: var(--late); font-weight: 700; }
table.summary { width: 100%; border-collapse: collapse; background: var(--card); border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table.summary th, table.summary td { padding: 8px 12px; text-align: left; border-bottom: 1px solid var(--grid); white-space: nowrap; }
table.summary th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
table.summary tr:last-child td { border-bottom: none; }
td.num { font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 2px 8px; border-radius: 999px; font-weight: 700; font-size: 12px; color: #fff; }
.state-OK { background: var(--ok); }
.state-WAITING { background: var(--waiting); }
.state-LATE { background: var(--late); }
.state-FAILED { background: var(--failed); }
.state-NEVER { background: var(--never); }
.running { margin-left: 6px; font-size: 12px; color: var(--s1); font-weight: 600; }
.tiers { display: grid; gap: 16px; margin-top: 20px; }
section.tier { background: var(--card); border-radius: 8px; padding: 12px 16px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); border-left: 6px solid var(--never); }
section.tier.state-OK-border { border-left-color: var(--ok); }
section.tier.state-LATE-border { border-left-color: var(--late); }
section.tier.state-FAILED-border { border-left-color: var(--failed); }
section.tier.state-WAITING-border { border-left-color: var(--waiting); }
section.tier.compact { padding: 8px 16px; }
section.tier.compact h2 { display: inline-flex; margin: 0 12px 0 0; font-size: 15px; }
section.tier.compact .facts { display: inline; margin: 0; }
section.tier .tier-error { color: var(--failed); font-size: 13px; margin-bottom: 8px; overflow-wrap: anywhere; }
.tier-body { display: grid; grid-template-columns: minmax(0, 1fr) minmax(280px, 360px); gap: 16px; align-items: start; }
.tier-body > * { min-width: 0; }
div.runs { overflow-x: auto; }
.runs-title { font-size: 12px; font-weight: 600; color: var(--muted); margin-bottom: 2px; }
table.runs { width: 100%; border-collapse: collapse; font-size: 12px; }
table.runs th { text-align: left; font-weight: 600; color: var(--muted); padding: 2px 6px 2px 0; border-bottom: 1px solid var(--grid); }
table.runs td { padding: 2px 6px 2px 0; white-space: nowrap; border-bottom: 1px solid var(--grid); }
table.runs td.num, table.runs th:nth-child(n+3) { text-align: right; }
table.runs td.outcome { white-space: normal; }
table.runs tr.bad td.outcome { color: var(--failed); font-weight: 600; }
table.runs tr.run-error td { white-space: normal; color: var(--failed); overflow-wrap: anywhere; }
section.tier h2 { font-size: 16px; margin: 0 0 2px; display: flex; align-items: center; gap: 10px; }
section.tier .facts { color: var(--muted); font-size: 13px; margin-bottom: 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px; }
figure { margin: 0; }
figcaption { font-size: 12px; font-weight: 600; color: var(--muted); margin-bottom: 2px; display: flex; gap: 12px; }
.key::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; background: currentColor; }
.key.s1 { color: var(--s1); } .key.s2 { color: var(--s2); }
.key span { color: var(--muted); }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 10px; }
svg.chart .line.s1 { stroke: var(--s1); } svg.chart .line.s2 { stroke: var(--s2); }
svg.chart .line { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg.chart .point.s1 { fill: var(--s1); } svg.chart .point.s2 { fill: var(--s2); }
svg.chart .point.bad { fill: var(--card); stroke: var(--failed); stroke-width: 2; }
svg.chart .empty { fill: var(--muted); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
h2.section { font-size: 15px; margin: 20px 0 8px; color: var(--muted); }
table.repository td.error { white-space: normal; color: var(--failed); min-width: 18em; max-width: 40em; overflow-wrap: anywhere; }
#summary, #repository { overflow-x: auto; }
@media (max-width: 900px) {
  .tier-body { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 700px) {
  header { padding: 12px 12px 4px; }
  main { padding: 4px 12px 24px; }
  footer { padding: 0 12px 16px; }
  section.tier { padding: 10px 10px 12px; }
  section.tier h2 { flex-wrap: wrap; }
  table.summary .wide, table.summary .note { display: none; }
  table.summary { font-size: 13px; }
  table.summary th, table.summary td { padding: 6px 5px; }
  table.summary th:first-child, table.summary td:first-child { padding-left: 8px; }
  .badge { min-width: 0; }
}
`;
