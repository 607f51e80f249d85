/** Pure helpers of the failover scenario. */

/**
 * Attribute missing sequence ranges (only the first few are reported) to the removal or the
 * return of the VF by the time each range was sent.
 */
export function splitGaps(
  gaps: readonly (readonly [number, number])[],
  tSend: number,
  pps: number,
  tRemoved: number | null,
  tBack: number | null,
): { removal: number; ret: number } {
  let removal = 0;
  let ret = 0;
  for (const [a, b] of gaps) {
    const t = tSend + (a * 1000) / pps;
    const n = b - a + 1;
    if (tRemoved !== null && t >= tRemoved - 20 && t <= tRemoved + 500) removal += n;
    else if (tBack !== null && t >= tBack - 20 && t <= tBack + 1000) ret += n;
  }
  return { removal, ret };
}

