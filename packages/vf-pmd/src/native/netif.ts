import koffi from 'koffi';
import { libc } from '@netvsc/ethdev';

/**
 * Interface index -> name (if_indextoname(3)) and the link speed (SIOCETHTOOL). One ioctl
 * each, cheap enough for the periodic removal check.
 */

const IF_NAMESIZE = 16;
const SIOCETHTOOL = 0x8946;
const ETHTOOL_GSET = 0x1;
/** struct ifreq: name[16] + a union of 24 bytes (here the ethtool data pointer). */
const IFREQ_SIZE = 40;
/** struct ethtool_cmd is 44 bytes; larger so V8 keeps it off-heap and its address stable. */
const ETHTOOL_BUF = 128;
const SPEED_UNKNOWN = 0xffffffff;

const lib = libc();
const indexToName = lib.func('if_indextoname', 'void *', ['unsigned int', 'void *']) as (index: number, buf: Uint8Array) => unknown;
const ioctlPtr = lib.func('int ioctl(int fd, unsigned long request, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number;

const nameBuf = new Uint8Array(IF_NAMESIZE);
const ifreq = new Uint8Array(IFREQ_SIZE);
const ethtool = new Uint8Array(ETHTOOL_BUF);
const ethtoolView = new DataView(ethtool.buffer);
new DataView(ifreq.buffer).setBigUint64(IF_NAMESIZE, koffi.address(ethtool), true);

/** Name of `ifindex`, or undefined when no such interface exists. */
export function ifIndexToName(ifindex: number): string | undefined {
  nameBuf.fill(0);
  if (indexToName(ifindex, nameBuf) === null) return undefined;
  const end = nameBuf.indexOf(0);
  return new TextDecoder().decode(nameBuf.subarray(0, end < 0 ? IF_NAMESIZE : end));
}

/** Link speed in Mbps from ETHTOOL_GSET on socket `fd`; 0 when the driver does not know or refuses. */
export function linkSpeed(fd: number, name: string): number {
  ifreq.fill(0, 0, IF_NAMESIZE);
  ifreq.set(new TextEncoder().encode(name).subarray(0, IF_NAMESIZE - 1));
  ethtool.fill(0);
  ethtoolView.setUint32(0, ETHTOOL_GSET, true);
  if (ioctlPtr(fd, SIOCETHTOOL, ifreq) < 0) return 0;
  const speed = (ethtoolView.getUint16(12, true) | (ethtoolView.getUint16(28, true) << 16)) >>> 0;
  return speed === SPEED_UNKNOWN || speed === 0xffff ? 0 : speed;
}
