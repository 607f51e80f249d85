import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SimGuest } from './guest.js';
import { isTestFrame } from './frame.js';
import { PacketSocket } from './native/packet.js';

type Print = (line: string) => void;

/** A guest-side observer: a plain AF_PACKET socket opened inside the guest namespace. */
function observe(sim: SimGuest, ifname: string): PacketSocket {
  const restore = sim.enterGuest();
  try {
    return PacketSocket.open(ifname);
  } finally {
    restore();
  }
}

/** Drain `sock` until it has been quiet for 50 ms; returns the test frames seen. */
async function drain(sock: PacketSocket): Promise<number> {
  let total = 0;
  let quietSince = performance.now();
  while (performance.now() - quietSince < 50) {
    let n = 0;
    sock.receive((f, len) => {
      if (isTestFrame(f, 0, len)) n++;
    });
    if (n > 0) quietSince = performance.now();
    total += n;
    await new Promise((r) => setTimeout(r, 5));
  }
  return total;
}

/**
 * The end-to-end demonstration of the simulator: a guest with one NetVSC + VF, numbered
 * frames from the vSwitch-like peer over both paths (showing the transparent-VF duplicate),
 * VF removal and re-addition at a new PCI address, a timeline, and teardown.
 */
export async function runDemo(print: Print = (l) => { console.log(l); }): Promise<void> {
  print('netvsc-sim demo: building a simulated Hyper-V guest');
  const sim = await SimGuest.create({ netvsc: [{ name: 'eth1', vf: { name: 'enP2s2', pci: '0002:00:02.0' } }] });
  const sockets: PacketSocket[] = [];
  try {
    const st = sim.netvsc('eth1');
    print(`  namespaces   ${sim.guestNs} (guest), ${sim.hostNs} (host / vSwitch)`);
    print(`  NetVSC       ${st.name}  mac ${st.mac}  ifindex ${st.ifindex}  <-> host ${st.hostSynthetic}`);
    print(`  VF           ${st.vf?.name ?? '-'}  pci ${st.vf?.pci ?? '-'}  <-> host ${st.vf?.hostName ?? '-'}`);
    print(`  fixture      ${sim.sysfsRoot}/sys  (export NETVSC_SYSFS_ROOT=${sim.sysfsRoot})`);
    print(`    class/net/enP2s2/device -> ${readlinkSync(join(sim.sysfsRoot, 'sys/class/net/enP2s2/device'))}`);

    const onNetvsc = observe(sim, 'eth1');
    let onVf = observe(sim, 'enP2s2');
    sockets.push(onNetvsc, onVf);
    const peer = await sim.startPeer();

    const round = async (title: string, to: 'unicast' | 'broadcast'): Promise<void> => {
      const r = await peer.send({ count: 1000, size: 128, to, ratePps: 50_000 });
      const vfSeen = await drain(onVf);
      const nvSeen = await drain(onNetvsc);
      print(`  ${title.padEnd(34)} sent ${r.sent} (vf ${r.vf}, synthetic ${r.synthetic}); guest saw ${vfSeen} on ${onVf.ifname}, ${nvSeen} on eth1`);
    };

    print('traffic from the peer:');
    await round('unicast, VF present', 'unicast');
    print('    (every VF frame shows up again on eth1: the transparent-VF path a PMD must de-duplicate)');
    await round('broadcast, VF present', 'broadcast');

    print('fault: VF hot-remove');
    await sim.removeVf('eth1');
    onVf.close();
    await round('unicast, VF gone', 'unicast');

    print('fault: VF re-added at a new PCI address');
    const vf = await sim.addVf('eth1', { pci: '0003:00:02.0' });
    print(`  VF           ${vf.name}  pci ${vf.pci}  (class/net/${vf.name}/device -> ${readlinkSync(join(sim.sysfsRoot, `sys/class/net/${vf.name}/device`))})`);
    onVf = observe(sim, vf.name);
    sockets.push(onVf);
    await round('unicast, VF back', 'unicast');

    print('timeline (ms since creation):');
    for (const e of sim.timeline) print(`  ${e.t.toFixed(1).padStart(8)}  ${e.kind.padEnd(12)} ${e.detail}`);
  } finally {
    for (const s of sockets) s.close();
    await sim.destroy();
    print(`torn down: ${sim.prefix} (namespaces and ${sim.dir} removed)`);
  }
}
