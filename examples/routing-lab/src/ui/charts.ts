// A small SVG line chart (no library): series of (x, y) points, axes with a few ticks, a legend.
interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Draw dots instead of a line (sparse series such as validation loss). */
  dots?: boolean;
  /** How the legend writes the last value (default: 3 significant digits). */
  format?: (y: number) => string;
}

/** A number with about 3 significant digits, no trailing zeros ("85.9", "1.42", "0.0144"). */
export function sig3(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

const SVG = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A round distance between about `count` ticks over `span` (1, 2 or 5 times a power of ten), at least `minStep`. */
function tickStep(span: number, count: number, minStep = 0): number {
  const raw = Math.max((span || 1) / count, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  return Math.max(minStep, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw);
}

/** Round ticks between lo and hi, about `count` of them; `minStep` 1 keeps them whole numbers (steps). */
function niceTicks(lo: number, hi: number, count: number, minStep = 0): number[] {
  const step = tickStep(hi - lo, count, minStep);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** Replaces the contents of `host` with a chart of `series`. */
export function drawLineChart(
  host: HTMLElement,
  series: readonly Series[],
  opts: {
    xLabel: string;
    yLabel: string;
    width?: number;
    height?: number;
    yMin?: number;
    /** Fixed top of the y axis (e.g. 100 for percentages); default: the largest value. */
    yMax?: number;
    /** Writes a y tick (default: the number as is). */
    yFormat?: (y: number) => string;
    empty?: string;
  },
): void {
  const W = opts.width ?? 560;
  const H = opts.height ?? 220;
  const m = { l: 48, r: 12, t: 24, b: 34 };
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${opts.yLabel} against ${opts.xLabel}` }) as SVGSVGElement;
  host.replaceChildren(svg);
  if (all.length === 0) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'muted' }, opts.empty ?? 'no data yet: press Train'));
    return;
  }
  // x is a step count: whole-number ticks, and a lone point (or a short run) sits inside a span of a
  // few steps rather than at the edge of a fractional one.
  let x0 = Math.min(...all.map((p) => p[0]));
  let x1 = Math.max(...all.map((p) => p[0]));
  if (x1 - x0 < 4) {
    const pad = (4 - (x1 - x0)) / 2;
    x0 = Math.max(0, Math.floor(x0 - pad));
    x1 = Math.ceil(x0 + Math.max(4, x1 - x0 + pad));
  }
  const yTop = Math.max(...all.map((p) => p[1]));
  let y0 = opts.yMin ?? Math.min(...all.map((p) => p[1]));
  let y1 = opts.yMax ?? yTop;
  if (y1 - y0 < 1e-9) {
    // A flat series: a band around it, so its line is not drawn on the frame.
    const pad = Math.abs(y0) * 0.1 || 1;
    if (opts.yMin === undefined) y0 -= pad;
    y1 += pad;
  }
  // Ends on round ticks where the caller fixed neither end (3 to 4.5, not 3.05 to 4.43): the lowest
  // and highest values then sit between labelled lines.
  const yTicks = opts.height !== undefined && opts.height < 160 ? 3 : 4; // fewer labels on a short panel
  const yStep = tickStep(y1 - y0, yTicks);
  if (opts.yMin === undefined) y0 = Math.floor(y0 / yStep + 1e-9) * yStep;
  if (opts.yMax === undefined) y1 = Math.ceil(y1 / yStep - 1e-9) * yStep;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const yFormat = opts.yFormat ?? String;
  for (const t of niceTicks(y0, y1, yTicks)) {
    svg.append(el('line', { x1: m.l, x2: W - m.r, y1: sy(t), y2: sy(t), class: 'grid' }));
    svg.append(el('text', { x: m.l - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, yFormat(t)));
  }
  for (const t of niceTicks(x0, x1, 5, 1)) {
    svg.append(el('text', { x: sx(t), y: H - m.b + 14, 'text-anchor': 'middle', class: 'tick' }, String(t)));
  }
  svg.append(el('text', { x: (m.l + W - m.r) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis' }, opts.xLabel));
  svg.append(
    el(
      'text',
      {
        x: 12,
        y: m.t + (H - m.b - m.t) / 2,
        'text-anchor': 'middle',
        class: 'axis',
        transform: `rotate(-90 12 ${m.t + (H - m.b - m.t) / 2})`,
      },
      opts.yLabel,
    ),
  );
  let lx = m.l + 8;
  for (const s of series) {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (s.dots) {
      for (const [x, y] of pts) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: 3.5, fill: s.color }));
      if (pts.length > 1)
        svg.append(
          el('polyline', {
            points: pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '),
            fill: 'none',
            stroke: s.color,
            'stroke-width': 1,
            'stroke-dasharray': '3 3',
          }),
        );
    } else if (pts.length === 1) {
      svg.append(el('circle', { cx: sx(pts[0]![0]), cy: sy(pts[0]![1]), r: 3, fill: s.color }));
    } else if (pts.length) {
      svg.append(
        el('polyline', {
          points: pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' '),
          fill: 'none',
          stroke: s.color,
          'stroke-width': 1.5,
        }),
      );
    }
    const last = pts[pts.length - 1];
    svg.append(el('rect', { x: lx, y: 4, width: 10, height: 10, fill: s.color }));
    const label = el('text', { x: lx + 14, y: 13, class: 'legend' }, last ? `${s.name} ${(s.format ?? sig3)(last[1])}` : s.name);
    svg.append(label);
    lx += 24 + (label.textContent?.length ?? 0) * 6.5;
  }
}
