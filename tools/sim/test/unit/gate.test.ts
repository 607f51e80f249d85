import { afterEach, describe, expect, it, vi } from 'vitest';
import { integrationGate } from '../../src/gate.js';

const denied = () => ({ ok: false, reason: 'needs root / CAP_NET_ADMIN + CAP_SYS_ADMIN (uid 1000)' });
const allowed = () => ({ ok: true, reason: '' });

describe('integrationGate', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('lets privileged runs through', () => {
    vi.stubEnv('CI', 'true');
    expect(integrationGate('gate-a', allowed)).toBe(true);
  });

  it('skips with a printed reason when not privileged outside CI', () => {
    vi.stubEnv('CI', '');
    vi.stubEnv('NETVSC_INTEGRATION', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(integrationGate('gate-b', denied)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/skipped: gate-b needs root \/ CAP_NET_ADMIN/));
  });

  it('throws in CI rather than skip silently', () => {
    vi.stubEnv('CI', 'true');
    expect(() => integrationGate('gate-c', denied)).toThrow(expect.objectContaining({ code: 'ERR_SIM_PRIVILEGE', message: expect.stringMatching(/CI=true/) as unknown }));
  });

  it('throws when NETVSC_INTEGRATION=1 demands the tests', () => {
    vi.stubEnv('CI', '');
    vi.stubEnv('NETVSC_INTEGRATION', '1');
    expect(() => integrationGate('gate-d', denied)).toThrow(/NETVSC_INTEGRATION=1/);
  });

  it('honours an explicit opt-out, saying so', () => {
    vi.stubEnv('NETVSC_INTEGRATION', '0');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(integrationGate('gate-e', allowed)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/NETVSC_INTEGRATION=0/));
  });
});
