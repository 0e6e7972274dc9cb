// The expert-usage heat map: one cell per expert on a √N×√N grid (row i, column j = expert i·√N + j,
// the product-key layout), coloured by its share of the gate mass; never-chosen experts are dark.

/** Colour of a share relative to the uniform share 1/N: white at 0, blue up to uniform, orange→red above. */
export function shareColor(share: number, n: number): [number, number, number] {
  if (share <= 0) return [30, 30, 40];
  const r = share * n; // 1 = exactly the uniform share
  if (r <= 1) {
    const t = Math.sqrt(r);
    return [Math.round(235 - 160 * t), Math.round(240 - 110 * t), 250];
  }
  const t = Math.min(1, Math.log2(r) / 4); // 16× uniform and above: full red
  return [250, Math.round(200 - 170 * t), Math.round(90 - 70 * t)];
}

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
  const off = new OffscreenCanvas(width, rows);
  off.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const cell = Math.min(canvas.width / width, canvas.height / rows);
  ctx.drawImage(off, 0, 0, width * cell, rows * cell);
  ctx.lineWidth = Math.max(1.5, cell / 4);
  ctx.strokeStyle = '#111';
  for (const e of highlight) {
    const x = (e % width) * cell;
    const y = Math.floor(e / width) * cell;
    const pad = Math.max(2, cell);
    ctx.strokeRect(x - pad / 2, y - pad / 2, cell + pad, cell + pad);
  }
}
