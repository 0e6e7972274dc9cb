// A small SVG line chart (no library): series of (x, y) points, axes with a few ticks, a legend.
interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Draw dots instead of a line (sparse series such as validation loss). */
  dots?: boolean;
}

const SVG = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** Replaces the contents of `host` with a chart of `series`. */
export function drawLineChart(
  host: HTMLElement,
  series: readonly Series[],
  opts: { xLabel: string; yLabel: string; width?: number; height?: number; yMin?: number; empty?: string },
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
  const x0 = Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(x0 + 1, ...all.map((p) => p[0]));
  const y0 = opts.yMin ?? Math.min(...all.map((p) => p[1]));
  const y1 = Math.max(y0 + 1e-3, ...all.map((p) => p[1]));
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  for (const t of niceTicks(y0, y1, 4)) {
    svg.append(el('line', { x1: m.l, x2: W - m.r, y1: sy(t), y2: sy(t), class: 'grid' }));
    svg.append(el('text', { x: m.l - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, String(t)));
  }
  for (const t of niceTicks(x0, x1, 5)) {
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
    const label = el('text', { x: lx + 14, y: 13, class: 'legend' }, last ? `${s.name} ${last[1].toFixed(3)}` : s.name);
    svg.append(label);
    lx += 24 + (label.textContent?.length ?? 0) * 6.5;
  }
}
