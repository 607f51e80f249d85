/**
 * One bench run: build the simulated guest, pick the generator, run the scenarios in order,
 * derive the ratios, judge the targets, and tear everything down even when a scenario fails
 * (the simulator's destroy plus the exit hook that kills every child).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { SimGuest, type SimOptions } from '@netvsc/sim';
import type { Env } from './env.js';
import { runFailover, runServicing } from './failover.js';
import { busyProcesses, gitInfo, machineInfo, repoRoot, workspaceVersions } from './machine.js';
import { TESTPMD_INSTALL, type BenchOptions } from './parse.js';
import { ratioFigures } from './ratios.js';
import { runPaired } from './paired.js';
import { runCeiling, runMemory, runRates, selectSubjects } from './rates.js';
import { SCHEMA_ID, type BenchResult, type Figure } from './schema.js';
import { evaluateTargets, targetSpecs } from './targets.js';
import { dpdkVersion, findTestpmd } from './testpmd.js';
import { idleTwinFigures, measureWakeToll, QUICK_TOLL_RATES, type TollPoint } from './wake.js';

const NETVSC = 'eth1';
const VF = 'enP2s2';
const PCI = '0002:00:02.0';

export interface RunHooks {
  log(line: string): void;
}

export async function runBench(opts: BenchOptions, hooks: RunHooks): Promise<BenchResult> {
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const busyAtStart = await busyProcesses();
  const testpmd = opts.noDpdk ? null : findTestpmd();
  const dpdk = testpmd !== null;
  const genKind: 'dpdk' | 'ours' = opts.generator === 'ours' || !dpdk ? 'ours' : 'dpdk';
  const missing: string[] = [];
  const notes: string[] = [];
  if (!dpdk) {
    const why = opts.noDpdk ? '--no-dpdk was given' : `dpdk-testpmd is not installed (Debian: \`${TESTPMD_INSTALL}\`; the bench installs nothing itself)`;
    missing.push(`DPDK comparison figures (net_af_packet, net_tap) and the DPDK generator: ${why}; our figures are reported alone`);
    hooks.log(`note: ${why}; measuring our PMDs only, with our own generator`);
  }
  if (opts.generator === 'dpdk' && !dpdk) throw new Error(`--generator dpdk: dpdk-testpmd is not installed (${TESTPMD_INSTALL})`);
  if (opts.cpuProf !== undefined) mkdirSync(opts.cpuProf, { recursive: true });

  const simOpts: SimOptions = { netvsc: [{ name: NETVSC, vf: { name: VF, pci: PCI } }] };
  hooks.log('building the simulated guest');
  const sim = await SimGuest.create(simOpts);
  const figures: Figure[] = [];
  let tollPoints: TollPoint[] = [];
  const generatorName = genKind === 'dpdk' ? 'dpdk-testpmd --forward-mode=txonly (net_af_packet on the host veth end)' : 'ours: gen.js, vf-pmd TPACKET_V3 Tx ring on the host veth end';
  const env: Env = {
    opts,
    sim,
    guestNs: sim.guestNs,
    hostNs: sim.hostNs,
    netvsc: NETVSC,
    vf: VF,
    pci: PCI,
    guestMac: sim.netvsc(NETVSC).mac,
    hostVf: sim.netvsc(NETVSC).vf?.hostName ?? 'vsw0vf',
    hostSyn: sim.netvsc(NETVSC).hostSynthetic,
    dpdk,
    genKind,
    generatorName,
    childEnv: { NETVSC_SYSFS_ROOT: sim.sysfsRoot },
    figures,
    missing,
    notes,
    log: (line) => {
      hooks.log(line);
    },
  };
  try {
    if (opts.only.includes('rx') || opts.only.includes('tx')) {
      const { subjects, skipped } = selectSubjects(opts);
      if (skipped.length > 0) missing.push(`${skipped.join(', ')}: diagnostic subjects, left out of quick runs (name them with --subjects)`);
      await runRates(env, subjects);
    }
    const pairDirs = (['rx', 'tx'] as const).filter((d) => opts.only.includes(d));
    if (pairDirs.length > 0 && (opts.subjects === undefined || opts.subjects.includes('failsafe'))) await runPaired(env, pairDirs);
    if (opts.only.includes('rx')) {
      hooks.log('wake-up toll of this machine (idle process, pipe, CPU 0)');
      try {
        const t = await (opts.quick ? measureWakeToll(500, QUICK_TOLL_RATES) : measureWakeToll(1500));
        figures.push(...t.figures);
        tollPoints = t.points;
      } catch (e) {
        missing.push(`wake-up toll: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (opts.only.includes('ceiling')) await runCeiling(env);
    if (opts.only.includes('memory')) await runMemory(env);
    if (opts.only.includes('failover')) await runFailover(env);
    if (opts.only.includes('servicing')) await runServicing(env);
  } finally {
    hooks.log('tearing down the simulated guest');
    await sim.destroy();
  }
  figures.push(...ratioFigures(figures, opts.sizes));
  if (tollPoints.length > 0) {
    figures.push(...idleTwinFigures(figures, tollPoints));
    notes.push(
      `Wake-up toll: this machine charged ${tollPoints.map((p) => `${p.us.toFixed(0)} µs at ${p.hz.toFixed(0)}/s`).join(', ')} of CPU per wake-up to a Node process that does nothing but wake on a pipe (rx.idle-process.*). A receiver sleeping on its Rx interrupt is woken once per TPACKET_V3 block; rx.<subject>.<size>.idle_twin_ns is what the idle process is charged per packet when woken as often: compare it with the receiver's cpu_ns.`,
    );
  }
  if (busyAtStart.length > 0 || (machine.loadAverage[0] ?? 0) > machine.cpus * 0.75) {
    notes.unshift(
      `The machine was busy when the run started (load ${machine.loadAverage.map((l) => l.toFixed(1)).join('/')}${busyAtStart.length > 0 ? `; busy: ${busyAtStart.join(', ')}` : ''}): every figure competes with that load; compare runs only when both were quiet.`,
    );
  }
  const targets = evaluateTargets(figures, targetSpecs({ sizes: opts.sizes, settleMs: opts.settleMs }));
  const root = repoRoot();
  return {
    schema: SCHEMA_ID,
    startedAt: started.toISOString(),
    durationS: (performance.now() - t0) / 1000,
    machine,
    versions: workspaceVersions(root),
    git: gitInfo(root),
    run: {
      quick: opts.quick,
      repetitions: opts.reps,
      windowMs: opts.windowMs,
      generator: generatorName,
      dpdk: dpdk ? dpdkVersion() : null,
      options: {
        sizes: opts.sizes.join(','),
        only: opts.only.join(','),
        removals: opts.removals,
        allocPackets: opts.allocPackets,
        servicingS: opts.servicingS,
        settleMs: opts.settleMs,
        vfArgs: opts.vfArgs,
      },
      loadAverageEnd: os.loadavg()[0] ?? 0,
      busyAtStart,
    },
    figures,
    targets,
    missing,
    notes,
  };
}

export function writeResult(file: string, r: BenchResult): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}
