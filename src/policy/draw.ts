/**
 * A uniform draw as the policy uses it: a value in [0, 1), or 0.5 when a caller's random source returned
 * something else (NaN, 1, a negative). A broken `random` option then gives the middle of every range —
 * never NaN delays, never a collapse to 0 ms.
 */
export function uniformDraw(random: number): number {
  return Number.isFinite(random) && random >= 0 && random < 1 ? random : 0.5;
}
