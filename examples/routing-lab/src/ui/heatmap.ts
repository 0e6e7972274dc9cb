// The expert-usage heat map: one cell per expert on a √N×√N grid (row i, column j = expert i·√N + j,
// the product-key layout), coloured by its share of the gate mass; never-chosen experts are dark.
// The experts of the token shown in the route view get a green frame (white-edged), a mark that is no
// usage colour, so it cannot be read as "dark: unused".

/** The frame's colour: green is not on the usage scale (dark, white→blue, orange→red). */
const HIGHLIGHT_COLOR = '#00c853';

/** Colour of a share relative to the uniform share 1/N: dark at 0 (unused), pale to deep blue up to uniform, orange→red above. */
function shareColor(share: number, n: number): [number, number, number] {
  if (share <= 0) return [30, 30, 40];
  const r = share * n; // 1 = exactly the uniform share
  if (r <= 1) {
    const t = Math.sqrt(r);
    return [Math.round(235 - 160 * t), Math.round(240 - 110 * t), 250];
  }
  const t = Math.min(1, Math.log2(r) / 4); // 16× uniform and above: full red
  return [250, Math.round(200 - 170 * t), Math.round(90 - 70 * t)];
}

let offscreen: OffscreenCanvas | null = null;

/** Draws `share` (length N) on `canvas` as a grid `width` cells wide; marks `highlight` experts. */
export function drawHeatmap(canvas: HTMLCanvasElement, share: Float32Array, width: number, highlight: readonly number[] = []): void {
  const n = share.length;
  const rows = Math.ceil(n / width);
  // One pixel per expert, scaled up by the browser without smoothing.
  const img = new ImageData(width, rows);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = shareColor(share[i]!, n);
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  // One offscreen canvas per grid size, reused: a new canvas would need a new 2D context per draw.
  // Both contexts are software ones (willReadFrequently): a few hundred KB drawn on the CPU, without
  // round trips to the GPU process on the page's main thread.
  if (!offscreen || offscreen.width !== width || offscreen.height !== rows) offscreen = new OffscreenCanvas(width, rows);
  offscreen.getContext('2d', { willReadFrequently: true })!.putImageData(img, 0, 0);
  const off = offscreen;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // Whole pixels per cell, so every column and row is as wide as the others.
  const fit = Math.min(canvas.width / width, canvas.height / rows);
  const cell = fit >= 1 ? Math.floor(fit) : fit;
  ctx.drawImage(off, 0, 0, width * cell, rows * cell);
  if (cell >= 24) {
    // Few experts (MoE): the grid lines and each cell's expert number.
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 2;
    ctx.font = `${Math.min(28, Math.round(cell / 4))}px system-ui, 'DejaVu Sans', sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let i = 0; i < n; i++) {
      const x = (i % width) * cell;
      const y = Math.floor(i / width) * cell;
      ctx.strokeRect(x, y, cell, cell);
      ctx.fillStyle = share[i]! * n > 4 || share[i]! <= 0 ? '#fff' : '#1d2330';
      ctx.fillText(String(i), x + cell / 2, y + cell / 2);
    }
  }
  for (const e of highlight) {
    const x = (e % width) * cell;
    const y = Math.floor(e / width) * cell;
    // A green frame with a thin white edge on both sides: visible on dark, blue and red cells alike.
    const frame = (inset: number, lw: number, size: number) => {
      ctx.lineWidth = lw + 2;
      ctx.strokeStyle = '#fff';
      ctx.strokeRect(x + inset, y + inset, size, size);
      ctx.lineWidth = lw;
      ctx.strokeStyle = HIGHLIGHT_COLOR;
      ctx.strokeRect(x + inset, y + inset, size, size);
    };
    if (cell >= 12) {
      // Large cells: a frame inside the cell, leaving its colour in the middle.
      const lw = Math.max(3, cell / 16);
      frame(lw / 2 + 1, lw, cell - lw - 2);
    } else {
      // Small cells: a ring around the cell, so the cell's own colour stays visible.
      const pad = Math.max(2, cell);
      frame(-pad / 2, 1.5, cell + pad);
    }
  }
}
