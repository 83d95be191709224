/**
 * The self-contained HTML report of a slimming run (`netslim demo`, `netslim slim`): stage and
 * phase tables, |γ| histograms before and after the prune, channels per layer, training curves;
 * inline SVG drawn by Observable Plot into linkedom's DOM, inline CSS, no script.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import type { EpochResult } from '../train/trainer.js';
import type { PruneReport } from '../slim/prune.js';
import { formatPruneTable, type LayerGammas } from '../slim/report.js';
import { drawChannelBars, drawGammaHistogram } from '../slim/charts.js';

/** An accuracy as a percentage, or – when there is none. */
export const pc = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(2)} %`);

export interface Stage {
  name: string;
  accuracy: number;
  params: number;
  flops: number;
  latencyMs: number;
  file: string;
}

export interface Phase {
  name: string;
  epochs: number | null;
  seconds: number;
  imagesPerSec: number;
  what: string;
}

export const count = (n: number): string => n.toLocaleString('en');
export const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
export const mflops = (n: number): string => `${(n / 1e6).toFixed(2)} M`;
export const secs = (s: number): string => (s >= 60 ? `${Math.floor(s / 60)} min ${(s % 60).toFixed(0).padStart(2, '0')} s` : `${s.toFixed(1)} s`);

export function stageRows(stages: Stage[], batch: number): string[][] {
  const base = stages[0]!;
  return [
    ['stage', 'test acc', 'params', 'FLOPs/image', `latency (batch ${batch})`, 'speed-up'],
    ...stages.map((s) => [s.name, pc(s.accuracy), count(s.params), mflops(s.flops), `${s.latencyMs.toFixed(1)} ms`, `${(base.latencyMs / s.latencyMs).toFixed(2)}×`]),
  ];
}

export function phaseRows(phases: Phase[]): string[][] {
  return [['phase', 'epochs', 'time', 'images/s', 'what'], ...phases.map((p) => [p.name, p.epochs === null ? '' : String(p.epochs), secs(p.seconds), p.imagesPerSec.toFixed(1), p.what])];
}

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function htmlTable(rows: string[][], left: number[] = []): string {
  const [head, ...body] = rows;
  return `<table><thead><tr>${head!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body
    .map((r) => `<tr>${r.map((v, j) => `<td${j && !left.includes(j) ? ' class="num"' : ''}>${esc(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export interface ReportInput {
  title: string;
  subtitle: string;
  stages: Stage[];
  phases: Phase[];
  latencyBatch: number;
  report: PruneReport;
  gammasBefore: LayerGammas[];
  gammasAfter: LayerGammas[];
  curves: { phase: string; history: EpochResult[] }[];
  prunedAccuracy: number;
  files: string[];
}

/** DIR/report.html: self-contained (inline SVG and CSS, no script), charts by Observable Plot. */
export function reportHtml(r: ReportInput): string {
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const doc = document as unknown as Document;
  const width = 760;
  const abs = (g: LayerGammas[]) => g.flatMap((l) => Array.from(l.gamma, (v) => Math.abs(v)));
  const before = abs(r.gammasBefore);
  const after = abs(r.gammasAfter);
  const xMax = Math.max(1e-6, ...before, ...after);
  // The same 50 bins for both histograms, so that they compare.
  const bins = Array.from({ length: 51 }, (_, i) => (i * xMax) / 50);
  const histogram = (values: number[], title: string, fill: string, threshold?: number) =>
    drawGammaHistogram(values, { document: doc, width, height: 220, title, fill, bins, xMax, ...(threshold !== undefined ? { threshold } : {}) });
  const bars = r.report.layers.map((l, i) => ({ layer: `${i + 1}. ${l.name}`, before: l.before, after: l.after }));
  const channels = drawChannelBars(bars, {
    document: doc,
    width,
    marginLeft: 130,
    title: `Channels per BatchNorm: before (grey) and kept (blue), ${r.report.totalChannels} → ${r.report.totalChannels - r.report.prunedChannels}`,
  });
  // Curves over the run's epochs, one colour per phase; test solid with dots, train dashed.
  const points: { epoch: number; phase: string; split: string; accuracy: number; loss: number }[] = [];
  let offset = 0;
  for (const c of r.curves) {
    for (const h of c.history) {
      points.push({ epoch: offset + h.epoch + 1, phase: c.phase, split: 'train', accuracy: 100 * h.trainAccuracy, loss: h.trainLoss });
      if (h.testAccuracy !== null) points.push({ epoch: offset + h.epoch + 1, phase: c.phase, split: 'test', accuracy: 100 * h.testAccuracy, loss: h.testLoss! });
    }
    offset += c.history.length;
  }
  const phases = r.curves.map((c) => c.phase);
  const ticks = offset <= 24 ? Array.from({ length: offset }, (_, i) => i + 1) : undefined;
  const pruneAt = r.curves.slice(0, 2).reduce((a, c) => a + c.history.length, 0) + 0.5;
  const curve = (y: 'accuracy' | 'loss', title: string) =>
    Plot.plot({
      document: doc,
      width,
      height: 260,
      marginLeft: 50,
      title,
      color: { legend: true, domain: phases },
      x: { label: 'epoch', grid: true, ...(ticks ? { ticks } : {}), tickFormat: 'd' },
      y: { label: y === 'accuracy' ? 'accuracy (%)' : 'loss', grid: true },
      marks: [
        Plot.line(points.filter((p) => p.split === 'train'), { x: 'epoch', y, stroke: 'phase', z: 'phase', strokeDasharray: '4 3' }),
        Plot.line(points.filter((p) => p.split === 'test'), { x: 'epoch', y, stroke: 'phase', z: 'phase' }),
        Plot.dot(points.filter((p) => p.split === 'test'), { x: 'epoch', y, fill: 'phase', r: 2.5 }),
        Plot.ruleX([pruneAt], { stroke: '#999', strokeDasharray: '2 2' }),
        ...(y === 'accuracy'
          ? [
            Plot.dot([{ epoch: pruneAt, accuracy: 100 * r.prunedAccuracy }], { x: 'epoch', y: 'accuracy', symbol: 'times', stroke: 'black', r: 5 }),
            Plot.text([{ epoch: pruneAt, accuracy: 100 * r.prunedAccuracy }], { x: 'epoch', y: 'accuracy', text: () => 'pruned', dx: 6, textAnchor: 'start' }),
          ]
          : []),
      ],
    });
  const figures = [
    histogram(before, `|γ| after baseline training (${before.length} channels)`, '#999'),
    histogram(after, `|γ| after sparse training; red: pruning threshold ${r.report.threshold.toPrecision(3)} (${(100 * r.report.percent).toFixed(0)} % of the channels pruned)`, 'steelblue', r.report.threshold),
    channels,
    curve('accuracy', 'Accuracy per epoch: test (solid), train (dashed); × the pruned model before fine-tuning'),
    curve('loss', 'Loss per epoch: test (solid), train (dashed)'),
  ];
  const svgs = figures.map((f) => `<div class="chart">${f.outerHTML}</div>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(r.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 800px; color: #222; padding: 0 1em; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 2em; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin: 1.2em 0; } .chart h2 { font-size: 1em; margin: 0 0 0.3em; }
pre { font-size: 12px; background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
</style>
</head>
<body>
<h1>${esc(r.title)}</h1>
<p class="sub">${esc(r.subtitle)}</p>
<h2>Before and after</h2>
${htmlTable(stageRows(r.stages, r.latencyBatch))}
<h2>Phases</h2>
${htmlTable(phaseRows(r.phases), [4])}
<h2>BatchNorm scales and pruning</h2>
${svgs}
<h2>Pruning, layer by layer</h2>
<pre>${esc(formatPruneTable(r.report))}</pre>
<h2>Files</h2>
<ul>${r.files.map((f) => `<li><code>${esc(f)}</code></li>`).join('')}</ul>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// The command

