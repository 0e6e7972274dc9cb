// Train/validation split of a token stream: the last fraction is held out (as nanoGPT does), so the
// two sets never share a window.

/** The two halves of a split; both are views of the input (no copy). */
export interface TokenSplit {
  train: Int32Array;
  validation: Int32Array;
}

/** Holds out the last `validationFraction` of `tokens` (0 <= fraction < 1) for validation. */
export function trainValidationSplit(tokens: Int32Array, validationFraction: number): TokenSplit {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`trainValidationSplit: validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  const cut = tokens.length - Math.floor(tokens.length * validationFraction);
  return { train: tokens.subarray(0, cut), validation: tokens.subarray(cut) };
}
