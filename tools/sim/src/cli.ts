#!/usr/bin/env node
import { NetvscError } from '@netvsc/ethdev';
import { CliUsageError, USAGE, parseCli, type CliCommand, type CliFault } from './cli-args.js';
import { runDemo } from './demo.js';
import { SimGuest } from './guest.js';
import { guestNsName, hostNsName } from './names.js';
import { NetnsDriver } from './netns.js';
import { execRunner } from './commands.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printState(sim: SimGuest, json: boolean): void {
  const st = sim.state();
  if (json) {
    out(JSON.stringify(st, null, 2));
    return;
  }
  out(`${st.prefix}: guest ${st.guestNs}, host ${st.hostNs}, transparent VF ${st.transparentVf ? 'on' : 'off'}`);
  out(`  NETVSC_SYSFS_ROOT=${st.sysfsRoot}`);
  for (const n of st.netvsc) {
    out(`  [${n.index}] ${n.name} ${n.mac} ifindex ${n.ifindex} ${n.up ? 'up' : 'down'} (host ${n.hostSynthetic})`);
    out(n.vf ? `      VF ${n.vf.name} pci ${n.vf.pci} ifindex ${n.vf.ifindex} ${n.vf.up ? 'up' : 'down'} (host ${n.vf.hostName})` : '      VF -');
  }
}

async function onlyPrefix(c: { prefix: string | undefined; tmpDir: string | undefined }): Promise<string> {
  if (c.prefix !== undefined) return c.prefix;
  const sims = (await SimGuest.list({ tmpDir: c.tmpDir })).filter((s) => s.dir !== null);
  const [first, second] = sims;
  if (first && !second) return first.prefix;
  throw new CliUsageError(sims.length === 0 ? 'no simulator is running (start one with `netvsc-sim up`)' : `several simulators run (${sims.map((s) => s.prefix).join(', ')}): give --prefix`);
}

async function applyFault(sim: SimGuest, f: CliFault): Promise<void> {
  switch (f.kind) {
    case 'vf-remove':
      await sim.removeVf(f.netvsc);
      return;
    case 'vf-add':
      await sim.addVf(f.netvsc, f.vf);
      return;
    case 'vf-flap':
      await sim.flapVf(f.netvsc, { count: f.count, downMs: f.downMs, upMs: f.upMs, vf: f.vf });
      return;
    case 'rename':
      await sim.renameNetvsc(f.netvsc, f.to);
      return;
    case 'link':
      await sim.setLink(f.ifname, f.up, f.side);
      return;
    case 'addr':
      await (f.op === 'add' ? sim.addAddress(f.ifname, f.cidr) : sim.removeAddress(f.ifname, f.cidr));
      return;
  }
}

async function run(cmd: CliCommand): Promise<void> {
  switch (cmd.cmd) {
    case 'help':
      out(USAGE);
      return;
    case 'up': {
      const sim = await SimGuest.create({
        ...(cmd.prefix ? { prefix: cmd.prefix } : {}),
        ...(cmd.tmpDir ? { tmpDir: cmd.tmpDir } : {}),
        ...(cmd.netvsc ? { netvsc: cmd.netvsc } : {}),
        transparentVf: cmd.transparentVf,
        hyperv: cmd.hyperv,
      });
      sim.detach();
      printState(sim, cmd.json);
      if (!cmd.json) out(`  enter: ip netns exec ${sim.guestNs} bash    remove: netvsc-sim down --prefix ${sim.prefix}`);
      return;
    }
    case 'status': {
      if (cmd.prefix !== undefined) {
        const sim = SimGuest.attach(cmd.prefix, { tmpDir: cmd.tmpDir });
        await sim.refresh();
        printState(sim, cmd.json);
        return;
      }
      const all = await SimGuest.list({ tmpDir: cmd.tmpDir });
      if (cmd.json) out(JSON.stringify(all, null, 2));
      else if (all.length === 0) out('no simulators');
      else for (const s of all) out(`${s.prefix}  namespaces: ${s.namespaces.join(', ') || '-'}  dir: ${s.dir ?? '-'}  owner: ${s.ownerPid === null ? 'persistent' : `pid ${s.ownerPid}${s.ownerAlive ? '' : ' (gone)'}`}`);
      return;
    }
    case 'down': {
      if (cmd.all) {
        const r = await SimGuest.downAll({ force: cmd.force, ...(cmd.tmpDir ? { tmpDir: cmd.tmpDir } : {}) });
        if (cmd.json) out(JSON.stringify(r, null, 2));
        else {
          out(`removed ${r.namespaces.length} namespace(s), ${r.dirs.length} dir(s), killed ${r.killed.length} peer(s)`);
          if (r.skipped.length) out(`left alone (owner alive or just created; --force removes them): ${r.skipped.join(', ')}`);
        }
        return;
      }
      const prefix = cmd.prefix ?? '';
      try {
        await SimGuest.attach(prefix, { tmpDir: cmd.tmpDir }).destroy();
      } catch {
        // No state file: remove what may be left by name.
        const d = new NetnsDriver(execRunner);
        await d.deleteNamespace(guestNsName(prefix));
        await d.deleteNamespace(hostNsName(prefix));
        rmSync(join(cmd.tmpDir ?? tmpdir(), prefix), { recursive: true, force: true });
      }
      out(`removed ${prefix}`);
      return;
    }
    case 'fault': {
      const sim = SimGuest.attach(await onlyPrefix(cmd), { tmpDir: cmd.tmpDir });
      await applyFault(sim, cmd.fault);
      printState(sim, cmd.json);
      return;
    }
    case 'demo':
      await runDemo();
      return;
  }
}

async function main(): Promise<number> {
  try {
    await run(parseCli(process.argv.slice(2)));
    return 0;
  } catch (error) {
    if (error instanceof CliUsageError) {
      process.stderr.write(`netvsc-sim: ${error.message}\n(run \`netvsc-sim help\` for usage)\n`);
      return 2;
    }
    const code = error instanceof NetvscError ? ` [${error.code}]` : '';
    process.stderr.write(`netvsc-sim: ${error instanceof Error ? error.message : String(error)}${code}\n`);
    return 1;
  }
}

process.exitCode = await main();
