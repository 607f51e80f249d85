import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimGuest, integrationGate } from '../../src/index.js';
import { execRunner } from '../../src/commands.js';
import { NetnsDriver } from '../../src/netns.js';
import { findPeerProcesses } from '../../src/procs.js';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const driver = new NetnsDriver(execRunner);

function uniquePrefix(tag: string): string {
  return `nvsim-${tag}-${process.pid.toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`;
}

async function namespacesOf(prefix: string): Promise<string[]> {
  return (await driver.listNamespaces()).filter((n) => n.startsWith(`${prefix}-`)).sort();
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(dist, 'cli.js'), ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!integrationGate('@netvsc/sim lifecycle'))('simulator lifecycle', () => {
  it('sweeps what a crashed owner left behind: namespaces, fixture dir, peer', async () => {
    const prefix = uniquePrefix('crash');
    const script = `import { SimGuest } from ${JSON.stringify(join(dist, 'index.js'))};
      const sim = await SimGuest.create({ prefix: ${JSON.stringify(prefix)} });
      await sim.startPeer();
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.on('exit', (code) => {
          reject(new Error(`owner exited early (${code ?? 'signal'})`));
        });
      });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(await namespacesOf(prefix)).toEqual([`${prefix}-guest`, `${prefix}-host`]);
    expect(existsSync(join(tmpdir(), prefix))).toBe(true);

    const report = await SimGuest.downAll({ match: (p) => p === prefix });
    expect([...report.namespaces].sort()).toEqual([`${prefix}-guest`, `${prefix}-host`]);
    expect(report.dirs).toEqual([join(tmpdir(), prefix)]);
    expect(await namespacesOf(prefix)).toEqual([]);
    expect(existsSync(join(tmpdir(), prefix))).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(findPeerProcesses((p) => p === prefix)).toEqual([]);
  });

  it('leaves a simulator alone while its owner lives, unless forced', async () => {
    const sim = await SimGuest.create({ prefix: uniquePrefix('live') });
    try {
      const r = await SimGuest.downAll({ match: (p) => p === sim.prefix });
      expect(r.skipped).toEqual([sim.prefix]);
      expect(await namespacesOf(sim.prefix)).toHaveLength(2);
    } finally {
      await sim.destroy();
    }
    expect(await namespacesOf(sim.prefix)).toEqual([]);
  });

  it('drives a persistent simulator from the CLI: up, status, faults, down', async () => {
    const prefix = uniquePrefix('cli');
    try {
      const up = await cli('up', '--prefix', prefix, '--netvsc', 'eth1,vf=enP2s2,pci=0002:00:02.0', '--netvsc', 'eth2', '--json');
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const st = JSON.parse(up.stdout) as { sysfsRoot: string; netvsc: { name: string; vf: { name: string } | null }[] };
      expect(st.netvsc.map((n) => n.name)).toEqual(['eth1', 'eth2']);
      expect(existsSync(join(st.sysfsRoot, 'sys/class/net/enP2s2'))).toBe(true);

      const status = await cli('status');
      expect(status.stdout).toContain(`${prefix}  namespaces: ${prefix}-guest, ${prefix}-host`);
      expect(status.stdout).toContain('persistent');

      const removed = await cli('fault', '--prefix', prefix, 'vf-remove', 'eth1', '--json');
      expect((JSON.parse(removed.stdout) as typeof st).netvsc[0]!.vf).toBeNull();
      expect(existsSync(join(st.sysfsRoot, 'sys/class/net/enP2s2'))).toBe(false);

      const added = await cli('fault', '--prefix', prefix, 'vf-add', 'eth1', '--pci', '0005:00:02.0', '--json');
      expect((JSON.parse(added.stdout) as typeof st).netvsc[0]!.vf!.name).toBe('enP5s2');
      expect(existsSync(join(st.sysfsRoot, 'sys/bus/pci/devices/0005:00:02.0/net/enP5s2'))).toBe(true);

      expect((await cli('fault', '--prefix', prefix, 'rename', 'eth2', 'eth7')).code).toBe(0);
      expect(existsSync(join(st.sysfsRoot, 'sys/class/net/eth7'))).toBe(true);
      expect((await cli('fault', '--prefix', prefix, 'link', 'eth7', 'down', '--host')).stdout).toContain('eth7');
      expect((await cli('fault', '--prefix', prefix, 'addr', 'add', 'eth1', '198.51.100.7/24')).code).toBe(0);
      expect(await execRunner.run('ip', ['-n', `${prefix}-guest`, 'addr', 'show', 'dev', 'eth1'])).toContain('198.51.100.7/24');

      const bad = await cli('fault', '--prefix', prefix, 'vf-remove', 'eth9');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/no NetVSC "eth9".*\[ERR_NO_DEVICE\]/);
      const usage = await cli('fault', 'teleport');
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/unknown fault "teleport"/);

      const down = await cli('down', '--prefix', prefix);
      expect(down.code).toBe(0);
      expect(await namespacesOf(prefix)).toEqual([]);
      expect(existsSync(st.sysfsRoot)).toBe(false);
    } finally {
      await SimGuest.downAll({ match: (p) => p === prefix, force: true });
    }
  });
});
