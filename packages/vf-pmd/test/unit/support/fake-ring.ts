import { BlockDesc, BLK_HDR_LEN, ringGeometry, Tpacket3Hdr, TpStatus, type RingGeometry } from '../../../src/ring.js';
import { memoryOf, type Memory } from '../../../src/rxtx.js';

/** A ring in JS memory laid out as the kernel lays out a TPACKET_V3 mapping; the test plays the kernel. */
export interface FakeRing {
  readonly geometry: RingGeometry;
  readonly mem: Memory;
  readonly u8: Uint8Array;
  readonly view: DataView;
}

export function geometry(over: Partial<{ blocksz: number; framesz: number; framecnt: number }> = {}): RingGeometry {
  return ringGeometry('test', { blocksz: 4096, framesz: 2048, framecnt: 16, retireTovMs: 1, pageSize: 4096, ...over });
}

export function fakeRing(g: RingGeometry, bytes = g.ringBytes): FakeRing {
  const u8 = new Uint8Array(bytes);
  return { geometry: g, mem: memoryOf(u8), u8, view: new DataView(u8.buffer) };
}

export interface FakePacket {
  readonly data: Uint8Array;
  /** Report the frame as VLAN-stripped with this TCI (and TPID when given). */
  readonly vlan?: { readonly tci: number; readonly tpid?: number };
  /** Wire length larger than the captured length (a truncated capture). */
  readonly wireLen?: number;
  readonly rxhash?: number;
}

const MAC_OFFSET = 82; // TPACKET_ALIGN(68 + 16) - 14, as the kernel places an Ethernet frame

function align16(n: number): number {
  return (n + 15) & ~15;
}

/** Write a retired block (status USER) holding `pkts` at block `index` of the Rx ring at `base`. */
export function writeBlock(r: FakeRing, index: number, pkts: readonly FakePacket[], base = 0): void {
  const b = base + index * r.geometry.blockSize;
  const v = r.view;
  let off = BLK_HDR_LEN;
  for (const [i, p] of pkts.entries()) {
    const h = b + off;
    const next = align16(MAC_OFFSET + p.data.length);
    if (off + next > r.geometry.blockSize) throw new Error('fake block overflow');
    v.setUint32(h + Tpacket3Hdr.nextOffset, i === pkts.length - 1 ? 0 : next, true);
    v.setUint32(h + Tpacket3Hdr.snaplen, p.data.length, true);
    v.setUint32(h + Tpacket3Hdr.len, p.wireLen ?? p.data.length, true);
    let st = TpStatus.USER;
    if (p.vlan) st |= TpStatus.VLAN_VALID | (p.vlan.tpid === undefined ? 0 : TpStatus.VLAN_TPID_VALID);
    v.setUint32(h + Tpacket3Hdr.status, st, true);
    v.setUint16(h + Tpacket3Hdr.mac, MAC_OFFSET, true);
    v.setUint16(h + Tpacket3Hdr.net, MAC_OFFSET + 14, true);
    v.setUint32(h + Tpacket3Hdr.rxhash, p.rxhash ?? 0, true);
    v.setUint32(h + Tpacket3Hdr.vlanTci, p.vlan?.tci ?? 0, true);
    v.setUint16(h + Tpacket3Hdr.vlanTpid, p.vlan?.tpid ?? 0, true);
    r.u8.set(p.data, h + MAC_OFFSET);
    off += next;
  }
  v.setUint32(b + BlockDesc.numPkts, pkts.length, true);
  v.setUint32(b + BlockDesc.offsetToFirstPkt, BLK_HDR_LEN, true);
  v.setUint32(b + BlockDesc.blkLen, off, true);
  v.setUint32(b + BlockDesc.blockStatus, TpStatus.USER, true);
}

export function blockStatus(r: FakeRing, index: number, base = 0): number {
  return r.view.getUint32(base + index * r.geometry.blockSize + BlockDesc.blockStatus, true);
}

/** A frame whose bytes encode (seq, position) so any misplaced byte shows. */
export function frame(len: number, seq: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seq * 13) & 0xff;
  return f;
}
