/**
 * The status page's CSS, inlined into the page (no external resources).
 * Colours follow the tier states: OK green, LATE amber, FAILED red, NEVER grey.
 */

/** The stylesheet of the status page. */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #1d2330; --muted: #667085; --grid: #e4e7ec;
  --ok: #1a7f37; --late: #b54708; --failed: #c11b1b; --never: #667085;
  --s1: #2e6fdb; --s2: #d9480f;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12151b; --card: #1b2029; --fg: #e6e9ef; --muted: #98a2b3; --grid: #2c3340;
    --ok: #3fb950; --late: #f0a742; --failed: #f85149; --never: #98a2b3;
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
table.summary { width: 100%; border-collapse: collapse; background: var(--card); border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table.summary th, table.summary td { padding: 8px 12px; text-align: left; border-bottom: 1px solid var(--grid); white-space: nowrap; }
table.summary th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
table.summary tr:last-child td { border-bottom: none; }
td.num { font-variant-numeric: tabular-nums; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 2px 8px; border-radius: 999px; font-weight: 700; font-size: 12px; color: #fff; }
.state-OK { background: var(--ok); }
.state-LATE { background: var(--late); }
.state-FAILED { background: var(--failed); }
.state-NEVER { background: var(--never); }
.running { margin-left: 6px; font-size: 12px; color: var(--s1); font-weight: 600; }
.tiers { display: grid; gap: 16px; margin-top: 20px; }
section.tier { background: var(--card); border-radius: 8px; padding: 12px 16px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); border-left: 6px solid var(--never); }
section.tier.state-OK-border { border-left-color: var(--ok); }
section.tier.state-LATE-border { border-left-color: var(--late); }
section.tier.state-FAILED-border { border-left-color: var(--failed); }
section.tier h2 { font-size: 16px; margin: 0 0 2px; display: flex; align-items: center; gap: 10px; }
section.tier .facts { color: var(--muted); font-size: 13px; margin-bottom: 8px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
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
`;
