import type { EtherAddr } from '@netvsc/ethdev';
import { nl, type Address, type Link } from '@netvsc/netlink';
import { fileURLToPath } from 'node:url';

/** Absolute path of a fixture tree (the directory containing `sys/`). */
export function fixture(name: 'azure' | 'bare' | 'surface' | 'tricky'): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** A fake netlink Link; `mac` may be any case (as a test of normalisation). */
export function link(index: number, name: string, mac: string | null, extra: Partial<Link> = {}): Link {
  return {
    index,
    name,
    mac: mac as EtherAddr | null,
    type: nl.ARPHRD_ETHER,
    flags: nl.IFF_UP | nl.IFF_RUNNING,
    up: true,
    operUp: true,
    operState: nl.IF_OPER_UP,
    mtu: 1500,
    master: null,
    link: null,
    kind: null,
    permMac: null,
    parentDev: null,
    parentBus: null,
    tun: null,
    ...extra,
  };
}

export function addr(index: number, address: string, prefixlen = address.includes(':') ? 64 : 24): Address {
  const v6 = address.includes(':');
  return {
    family: v6 ? nl.AF_INET6 : nl.AF_INET,
    index,
    address,
    prefixlen,
    scope: v6 && address.startsWith('fe80') ? nl.RT_SCOPE_LINK : nl.RT_SCOPE_UNIVERSE,
    flags: 0,
    label: null,
  };
}

/** The azure fixture's interfaces as netlink would list them (VLAN/macvlan before the VF on purpose). */
export function azureLinks(): Link[] {
  return [
    link(1, 'lo', '00:00:00:00:00:00', { type: nl.ARPHRD_LOOPBACK }),
    link(2, 'eth0', '00:15:5d:00:00:01'),
    link(3, 'eth0.100', '00:15:5d:00:00:01', { kind: 'vlan' }),
    link(4, 'mv0', '00:15:5d:00:00:01', { kind: 'macvlan' }),
    link(5, 'eth1', '00:15:5D:00:00:02'),
    link(6, 'eth2', '00:15:5d:00:00:03'),
    link(7, 'dtap0', '00:15:5d:00:00:03', { kind: 'tun' }),
    link(8, 'enP1s1', '00:15:5d:00:00:01'),
    link(9, 'eth9', '00:15:5d:00:00:02'),
  ];
}
