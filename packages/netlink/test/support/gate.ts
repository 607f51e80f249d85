/**
 * Integration gate. (@netvsc/sim has the project-wide one, but the simulator itself builds
 * on this package, so netlink's own tests cannot depend on it.) Root runs; otherwise skip
 * with a printed reason, except under CI=true / NETVSC_INTEGRATION=1, where it throws.
 */
export function canRunIntegration(what: string): boolean {
  if (process.env.NETVSC_INTEGRATION === '0') {
    console.warn(`[netlink] skipped: ${what} (NETVSC_INTEGRATION=0)`);
    return false;
  }
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true' || process.env.NETVSC_INTEGRATION === '1') {
    throw new Error(`${what} must run here but needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN)`);
  }
  console.warn(`[netlink] skipped: ${what} needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN)`);
  return false;
}
