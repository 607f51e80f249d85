import { describe, expect, it } from 'vitest';
import { TRANSPARENT_VF_PREF } from '../../src/api.js';
import type { CommandRunner, Tool } from '../../src/commands.js';
import { SimCommandError } from '../../src/errors.js';
import { NetnsDriver } from '../../src/netns.js';

function recorder(fail?: (tool: Tool, args: readonly string[]) => string | null): { runner: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run = (tool: Tool, args: readonly string[]): string => {
    calls.push([tool, ...args].join(' '));
    const err = fail?.(tool, args);
    if (err) throw new SimCommandError([tool, ...args], 1, err);
    return args.includes('-j') ? '[]' : '';
  };
  return {
    calls,
    runner: {
      run: (tool, args) => {
        try {
          return Promise.resolve(run(tool, args));
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
      runSync: run,
      which: (tool) => `/usr/sbin/${tool}`,
    },
  };
}

describe('namespace driver', () => {
  it('creates each veth end directly in its namespace (never in the root namespace)', async () => {
    const { runner, calls } = recorder();
    await new NetnsDriver(runner).addVeth({ name: 'eth1', ns: 'nvsim-a-guest', mac: '00:15:5d:00:00:01', mtu: 1500 }, { name: 'vsw0syn', ns: 'nvsim-a-host' });
    expect(calls).toEqual(['ip link add eth1 netns nvsim-a-guest address 00:15:5d:00:00:01 mtu 1500 type veth peer name vsw0syn netns nvsim-a-host']);
  });

  it('installs the transparent-VF redirect as an ingress u32 match-all with mirred ingress', async () => {
    const { runner, calls } = recorder();
    await new NetnsDriver(runner).addIngressRedirect('nvsim-a-guest', 'enP2s2', 'eth1', TRANSPARENT_VF_PREF);
    expect(calls).toEqual([
      'tc -n nvsim-a-guest qdisc add dev enP2s2 ingress',
      'tc -n nvsim-a-guest filter add dev enP2s2 parent ffff: pref 49152 protocol all u32 match u32 0 0 action mirred ingress redirect dev eth1',
    ]);
  });

  it('shares an ingress qdisc a VF PMD created first, and still fails on other errors', async () => {
    const exists = recorder((tool, args) => (args.includes('add') && args.includes('qdisc') ? 'Error: Exclusivity flag on, cannot modify.' : null));
    const plain = exists.runner;
    const runner: CommandRunner = {
      ...plain,
      run: (tool, args) => (args.includes('show') ? Promise.resolve('qdisc ingress ffff: parent ffff:fff1 ----------------\n') : plain.run(tool, args)),
    };
    await new NetnsDriver(runner).addIngressRedirect('nvsim-a-guest', 'enP2s2', 'eth1', TRANSPARENT_VF_PREF);
    expect(exists.calls.at(-1)).toMatch(/filter add dev enP2s2 parent ffff: pref 49152/);

    const gone = recorder((tool, args) => (args.includes('add') && args.includes('qdisc') ? 'Cannot find device "enP2s2"' : null));
    await expect(new NetnsDriver(gone.runner).addIngressRedirect('nvsim-a-guest', 'enP2s2', 'eth1', TRANSPARENT_VF_PREF)).rejects.toThrow(/Cannot find device/);
  });

  it('adds IPv6 addresses without DAD and names the namespace on every call', async () => {
    const { runner, calls } = recorder();
    const d = new NetnsDriver(runner);
    await d.addAddress('nvsim-a-guest', 'eth1', '2001:db8::1/64');
    await d.addAddress('nvsim-a-guest', 'eth1', '192.0.2.1/24');
    await d.setUp('nvsim-a-guest', 'eth1', false);
    await d.sysctl('nvsim-a-guest', { 'net.ipv6.conf.all.accept_dad': 0 });
    expect(calls).toEqual([
      'ip -n nvsim-a-guest addr add 2001:db8::1/64 dev eth1 nodad',
      'ip -n nvsim-a-guest addr add 192.0.2.1/24 dev eth1',
      'ip -n nvsim-a-guest link set dev eth1 down',
      'ip netns exec nvsim-a-guest /usr/sbin/sysctl -q -w net.ipv6.conf.all.accept_dad=0',
    ]);
  });

  it('treats deleting what is already gone as done, and reports other failures', async () => {
    const gone = recorder(() => 'Cannot find device "enP2s2"');
    await expect(new NetnsDriver(gone.runner).deleteLink('nvsim-a-guest', 'enP2s2')).resolves.toBeUndefined();
    const noNs = recorder(() => 'Cannot remove namespace file "/run/netns/nvsim-a-guest": No such file or directory');
    await expect(new NetnsDriver(noNs.runner).deleteNamespace('nvsim-a-guest')).resolves.toBeUndefined();
    const perm = recorder(() => 'RTNETLINK answers: Operation not permitted');
    await expect(new NetnsDriver(perm.runner).deleteLink('nvsim-a-guest', 'eth1')).rejects.toMatchObject({ code: 'ERR_SIM_COMMAND', stderr: expect.stringMatching(/not permitted/) as unknown });
  });

  it('parses the link and namespace lists', async () => {
    const runner: CommandRunner = {
      run: (_tool, args) =>
        Promise.resolve(
          args.includes('netns')
            ? '[{"name":"nvsim-a-guest","id":0},{"name":"other"}]\n'
            : '[{"ifindex":2,"ifname":"eth1","address":"00:15:5d:00:00:01","mtu":1500,"flags":["BROADCAST","MULTICAST","UP","LOWER_UP"]}]',
        ),
      runSync: () => '',
      which: () => null,
    };
    const d = new NetnsDriver(runner);
    expect(await d.listNamespaces()).toEqual(['nvsim-a-guest', 'other']);
    expect(await d.links('nvsim-a-guest')).toEqual([{ name: 'eth1', ifindex: 2, mac: '00:15:5d:00:00:01', mtu: 1500, up: true, lowerUp: true }]);
  });
});
