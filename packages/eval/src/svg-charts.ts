/** One line of a {@link lineChartSvg}. */
export interface LineSeries {
  /** Legend label. */
  readonly name: string;
  /** `[x, y]` points; non-finite values are skipped. */
  readonly points: readonly (readonly [number, number])[];
}

/** One coloured bar per group of a {@link barChartSvg}. */
export interface BarSeries {
  /** Legend label (e.g. a model id). */
  readonly name: string;
  /** One value per group; `undefined` leaves a gap. */
  readonly values: readonly (number | undefined)[];
}

/** Colour-blind-safe palette (Okabe–Ito), cycled over series. */
export const CHART_COLOURS: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

const WIDTH = 480;
const HEIGHT = 260;
const MARGIN = { top: 28, right: 16, bottom: 44, left: 52 };

/** Escapes text for XML/HTML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Up to ~`count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

function frame(title: string, body: string, kind: string, extra = ''): string {
  return (
    `<svg class="chart" data-chart="${kind}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(title)}"${extra}>` +
    `<title>${escapeXml(title)}</title>` +
    `<text x="${WIDTH / 2}" y="16" text-anchor="middle" class="chart-title">${escapeXml(title)}</text>${body}</svg>`
  );
}

function legend(names: readonly string[]): string {
  return names
    .map((name, i) => {
      const x = MARGIN.left + i * 110;
      return `<rect x="${x}" y="${HEIGHT - 14}" width="10" height="10" fill="${CHART_COLOURS[i % CHART_COLOURS.length]}"/><text x="${x + 14}" y="${HEIGHT - 5}" class="legend">${escapeXml(name)}</text>`;
    })
    .join('');
}

function yAxis(ticks: readonly number[], y: (value: number) => number): string {
  return ticks
    .map((tick) => {
      const py = y(tick).toFixed(1);
      return `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py}" y2="${py}" class="grid"/><text x="${MARGIN.left - 6}" y="${py}" dy="0.32em" text-anchor="end" class="tick">${formatTick(tick)}</text>`;
    })
    .join('');
}

/**
 * A line chart as a standalone `<svg>` string (no script, no external resources): one polyline
 * per series with its points in `data-points` (count) and a legend. Used for training curves.
 */
export function lineChartSvg(title: string, series: readonly LineSeries[], axes: { x?: string; y?: string } = {}): string {
  const clean = series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) })).filter((s) => s.points.length > 0);
  const xs = clean.flatMap((s) => s.points.map((p) => p[0]));
  const ys = clean.flatMap((s) => s.points.map((p) => p[1]));
  if (xs.length === 0) return frame(title, `<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" class="empty">no data</text>`, 'line');
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMin === yMax) [yMin, yMax] = [yMin - Math.max(1e-9, Math.abs(yMin) * 0.1), yMax + Math.max(1e-9, Math.abs(yMax) * 0.1)];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (value: number): number => MARGIN.left + ((value - xMin) / (xMax - xMin)) * plotW;
  const y = (value: number): number => MARGIN.top + (1 - (value - yMin) / (yMax - yMin)) * plotH;
  const xTicks = niceTicks(xMin, xMax, 5)
    .map((tick) => `<text x="${x(tick).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 14}" text-anchor="middle" class="tick">${formatTick(tick)}</text>`)
    .join('');
  const lines = clean
    .map((s, i) => {
      const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      return `<polyline class="series" data-series="${escapeXml(s.name)}" data-points="${s.points.length}" fill="none" stroke="${CHART_COLOURS[i % CHART_COLOURS.length]}" stroke-width="1.5" points="${points}"/>`;
    })
    .join('');
  const labels =
    (axes.x !== undefined ? `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - MARGIN.bottom + 28}" text-anchor="middle" class="axis-label">${escapeXml(axes.x)}</text>` : '') +
    (axes.y !== undefined ? `<text transform="translate(12 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(axes.y)}</text>` : '');
  return frame(title, yAxis(niceTicks(yMin, yMax, 5), y) + xTicks + lines + labels + legend(clean.map((s) => s.name)), 'line');
}

/**
 * A grouped bar chart as a standalone `<svg>` string: groups along x (e.g. `t2i R@1`), one bar
 * per series (e.g. model) with its value in `data-value`. The y axis starts at 0 and ends at
 * `yMax` (default: the largest value).
 */
export function barChartSvg(title: string, groups: readonly string[], series: readonly BarSeries[], options: { yMax?: number; yLabel?: string } = {}): string {
  const values = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  if (groups.length === 0 || values.length === 0) return frame(title, `<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" class="empty">no data</text>`, 'bar');
  const yMax = options.yMax ?? Math.max(...values, 1e-9);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value: number): number => MARGIN.top + (1 - Math.min(value, yMax) / yMax) * plotH;
  const groupW = plotW / groups.length;
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, series.length));
  let bars = '';
  groups.forEach((group, g) => {
    const x0 = MARGIN.left + g * groupW + groupW * 0.1;
    series.forEach((s, i) => {
      const value = s.values[g];
      if (value === undefined || !Number.isFinite(value)) return;
      const top = y(Math.max(0, value));
      const height = Math.max(0.5, MARGIN.top + plotH - top);
      bars +=
        `<rect class="bar" data-series="${escapeXml(s.name)}" data-group="${escapeXml(group)}" data-value="${value}" x="${(x0 + i * barW).toFixed(1)}" y="${(MARGIN.top + plotH - height).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${height.toFixed(1)}" fill="${CHART_COLOURS[i % CHART_COLOURS.length]}">` +
        `<title>${escapeXml(`${s.name} · ${group}: ${formatTick(value)}`)}</title></rect>`;
    });
    bars += `<text x="${(x0 + groupW * 0.4).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 14}" text-anchor="middle" class="tick">${escapeXml(group)}</text>`;
  });
  const label = options.yLabel !== undefined ? `<text transform="translate(12 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(options.yLabel)}</text>` : '';
  return frame(title, yAxis(niceTicks(0, yMax, 5), y) + bars + label + legend(series.map((s) => s.name)), 'bar');
}
