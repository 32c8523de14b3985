// The report's inline stylesheet: the system font stack only (a report opens
// offline and renders the same without web fonts), tables and charts that fit
// a screen and an A4/Letter page, and no colour carrying meaning on its own
// (pass/fail rows also say yes/no).
#ifndef BENCH_REPORT_REPORT_STYLESHEET_H_
#define BENCH_REPORT_REPORT_STYLESHEET_H_

namespace ingest::bench {

inline constexpr const char* kReportStylesheet = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 1.5rem auto; max-width: 1000px; padding: 0 1rem; color: #1a1a1a; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
header h2 { font-size: 1rem; border: 0; margin: .8rem 0 .3rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
dt { color: #555; }
dd { margin: 0; overflow-wrap: anywhere; }
.hosts { display: flex; flex-wrap: wrap; gap: 0 3rem; }
pre.command { background: #f4f4f4; border: 1px solid #ddd; padding: .5rem .7rem; white-space: pre-wrap;
  overflow-wrap: anywhere; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; vertical-align: top; }
thead th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.keyvalue th[scope=row] { font-weight: normal; color: #333; }
tr.fail td { background: #fbe9e0; }
.verdict, .answer { padding: .4rem .7rem; border-left: 5px solid #0072B2; background: #eef5fa; }
.verdict.fail { border-left-color: #D55E00; background: #fbe9e0; }
figure.chart { margin: 1.2rem 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { margin-bottom: .3rem; }
svg.chart { display: block; width: 100%; height: auto; max-width: 960px; }
svg.chart text { font-family: inherit; font-size: 12px; fill: #222; }
svg.chart .frame { fill: none; stroke: #888; }
svg.chart .grid { stroke: #ddd; stroke-width: 1; }
svg.chart .axis-title { font-size: 12px; fill: #444; }
svg.chart .no-data { font-size: 16px; fill: #777; }
p.no-data { color: #555; font-style: italic; margin: .2rem 0 .6rem; }
footer { margin-top: 2rem; color: #777; font-size: .85rem; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  table, figure { break-inside: avoid; }
}
)css";

}  // namespace ingest::bench

#endif  // BENCH_REPORT_REPORT_STYLESHEET_H_
