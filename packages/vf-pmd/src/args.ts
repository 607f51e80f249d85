import {
  InvalidArgumentError,
  isPciAddr,
  parseEtherAddr,
  parsePciAddr,
  parseUintArg,
  type DevArgs,
  type EtherAddr,
  type PciAddr,
} from '@netvsc/ethdev';
import { ringGeometry, type RingGeometry } from './ring.js';

/** DPDK's names and aliases for the vdev form. */
export const AF_PACKET_DRIVER = 'net_af_packet';
export const AF_PACKET_ALIAS = 'eth_af_packet';
/** Name of the PCI driver (the default one of the PCI bus once this package is imported). */
export const VF_PMD_DRIVER = 'net_vf_pmd';

export const FANOUT_MODES = ['hash', 'lb', 'cpu', 'rollover', 'rnd', 'qm'] as const;
export type FanoutMode = (typeof FANOUT_MODES)[number];

/** Everything a port can be tuned with; every field has a devarg of the same meaning. */
export interface VfPmdOptions {
  /** Queue pairs (one packet socket each); `qpairs=`, 1..1024, default 1. */
  readonly qpairs?: number;
  /** Ring block size in bytes; `blocksz=`, a multiple of the page size, default 65536 (DPDK: the page size). */
  readonly blocksz?: number;
  /** Tx frame slot size in bytes; `framesz=`, a multiple of 16, <= blocksz, default 2048. */
  readonly framesz?: number;
  /** Frames per ring; `framecnt=`, a whole number of blocks, default 2048 (DPDK: 512). */
  readonly framecnt?: number;
  /** Send without the qdisc layer (PACKET_QDISC_BYPASS); `qdisc_bypass=0|1`, default on (as DPDK's code). */
  readonly qdiscBypass?: boolean;
  /** PACKET_FANOUT algorithm when qpairs > 1; `fanout_mode=`, default `hash`. */
  readonly fanoutMode?: FanoutMode;
  /**
   * Take the frames the PMD receives away from the kernel (tc BPF drop on the netdev's
   * ingress, after the packet socket has its copy); `own_rx=0|1`. Default off, on when
   * the vdev asks for it.
   */
  readonly ownRx?: boolean;
  /** Rx block retire timeout in ms (the latency bound at low rate); `blk_tov=`, 1..1000, default 1. */
  readonly blockTimeoutMs?: number;
  /** tc `pref` of the own_rx filter; must run before any other ingress filter of the netdev. Default 1. */
  readonly ownRxPref?: number;
  /** Root of the sysfs tree for PCI resolution (the directory holding `sys/`); default `NETVSC_SYSFS_ROOT` or `/`. */
  readonly sysfsRoot?: string;
  /** Period of the removal backstop (ifindex check + PCI re-resolve), ms; default 1000, 0 disables. */
  readonly removalCheckMs?: number;
}

/** A fully parsed device: what probe opens. */
export interface PmdConfig {
  /** Port name: the vdev name or the PCI address string. */
  readonly name: string;
  /** Set for the vdev form; for the PCI form the netdev is resolved through sysfs. */
  readonly iface: string | undefined;
  readonly pciAddr: PciAddr | undefined;
  readonly mac: EtherAddr | undefined;
  readonly qpairs: number;
  readonly geometry: RingGeometry;
  readonly qdiscBypass: boolean;
  readonly fanoutMode: FanoutMode;
  readonly ownRx: boolean;
  readonly ownRxPref: number;
  readonly sysfsRoot: string | undefined;
  readonly removalCheckMs: number;
}

export const DEFAULTS = {
  qpairs: 1,
  // Not DPDK's page size: TPACKET_V3 hands the reader whole blocks and wakes it once per block,
  // so 4 KiB blocks (~30 small frames) mean ~16x the wake-ups of 64 KiB ones for the same 1 MiB
  // ring (bench: Rx CPU per 64 B packet and receiver drops both fall several-fold).
  blocksz: 65536,
  framesz: 2048,
  // Not DPDK's 512 (1 MiB): a reader that sleeps until a block is retired must ride out being
  // left unscheduled, and 1 MiB holds ~11 ms of small frames but ~1.6 ms of full-size ones at
  // 0.4 Mpps. 16 MiB (~18 ms of 1500 B frames at 0.6 Mpps): with 4 MiB the bench's VF PMD
  // dropped 2 600-25 000 frames in every 3 s window at 1500 B (this VM deschedules a thread for
  // up to 17 ms); with 16 MiB in 1 round of 6 (4 MiB: 4 of 6 in the same paired run).
  framecnt: 8192,
  qdiscBypass: true,
  fanoutMode: 'hash' as FanoutMode,
  ownRx: false,
  blockTimeoutMs: 1,
  ownRxPref: 1,
  removalCheckMs: 1000,
} as const;

export const LIMITS = {
  qpairs: [1, 1024],
  blocksz: [1, 1 << 30],
  framesz: [1, 1 << 30],
  framecnt: [1, 1 << 24],
  blk_tov: [1, 1000],
} as const;

const RING_KEYS = ['qpairs', 'blocksz', 'framesz', 'framecnt', 'qdisc_bypass', 'fanout_mode', 'own_rx', 'blk_tov'] as const;
/** Keys of `net_af_packet*,iface=...` (DPDK's set plus own_rx and blk_tov). */
export const VDEV_KEYS: readonly string[] = ['iface', ...RING_KEYS];
/** Keys of `<pci address>,mac=...`. */
export const PCI_KEYS: readonly string[] = ['mac', ...RING_KEYS];

/** Page size of the target (x86-64 Linux); ring blocks must be multiples of it. */
export const PAGE_SIZE = 4096;

/**
 * An unsigned decimal as DPDK's af_packet reads it (strtoul plus a check that nothing
 * trails): optional leading white space, digits, nothing else.
 */
export function parseUint(driver: string, key: string, value: string | undefined, min: number, max: number): number {
  const digits = value?.replace(/^[ \t\n\v\f\r]+/, '');
  return parseUintArg(driver, key, digits === '' ? value : digits, min, max);
}

function parseBool(driver: string, key: string, value: string | undefined): boolean {
  return parseUint(driver, key, value, 0, 1) === 1;
}

function parseFanout(driver: string, value: string | undefined): FanoutMode {
  const mode = FANOUT_MODES.find((m) => m === value);
  if (mode === undefined) throw new InvalidArgumentError(`${driver}: fanout_mode=${value ?? ''} is not supported; accepted: ${FANOUT_MODES.join(', ')}`);
  return mode;
}

/** Interface names the kernel accepts, checked before the name is used in a path or a request. */
export function checkIfName(driver: string, name: string): string {
  if (name.length === 0 || name.length >= 16 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new InvalidArgumentError(`${driver}: iface=${name} is not a valid interface name; accepted: 1-15 characters without '/', ':' or white space, not "." or ".."`);
  }
  return name;
}

function checkOptionInt(driver: string, what: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${driver}: option ${what}=${v} is out of range; accepted: ${min}..${max}`);
  return v;
}

/**
 * Merge options (defaults of the caller, e.g. the vdev) and devargs (which win), validate
 * everything and compute the ring geometry.
 */
export function parsePmdArgs(args: DevArgs, options: VfPmdOptions = {}): PmdConfig {
  const pci = isPciAddr(args.name);
  const driver = pci ? `${VF_PMD_DRIVER} ${args.name}` : args.name;
  args.check(driver, pci ? PCI_KEYS : VDEV_KEYS);
  const last = (k: string): string | undefined => args.last(k);
  const has = (k: string): boolean => args.has(k);

  let iface: string | undefined;
  let pciAddr: PciAddr | undefined;
  let mac: EtherAddr | undefined;
  if (pci) {
    pciAddr = parsePciAddr(args.name);
    if (args.count('mac') > 1) throw new InvalidArgumentError(`${driver}: mac= given ${args.count('mac')} times; accepted: once`);
    const m = last('mac');
    if (m !== undefined) {
      try {
        mac = parseEtherAddr(m);
      } catch (e) {
        throw new InvalidArgumentError(`${driver}: mac=${m} is not a MAC address (e.g. 00:15:5d:01:02:03)`, { cause: e });
      }
    }
  } else {
    const n = args.count('iface');
    if (n !== 1) throw new InvalidArgumentError(`${driver}: iface= must be given exactly once (given ${n} times), e.g. ${AF_PACKET_DRIVER}0,iface=eth1`);
    iface = checkIfName(driver, last('iface') ?? '');
  }

  const int = (key: keyof typeof LIMITS, option: number | undefined, def: number): number => {
    const [min, max] = LIMITS[key];
    if (has(key)) return parseUint(driver, key, last(key), min, max);
    return option === undefined ? def : checkOptionInt(driver, key, option, min, max);
  };
  const qpairs = int('qpairs', options.qpairs, DEFAULTS.qpairs);
  const blocksz = int('blocksz', options.blocksz, DEFAULTS.blocksz);
  const framesz = int('framesz', options.framesz, DEFAULTS.framesz);
  const framecnt = int('framecnt', options.framecnt, DEFAULTS.framecnt);
  const blkTov = int('blk_tov', options.blockTimeoutMs, DEFAULTS.blockTimeoutMs);
  const qdiscBypass = has('qdisc_bypass') ? parseBool(driver, 'qdisc_bypass', last('qdisc_bypass')) : (options.qdiscBypass ?? DEFAULTS.qdiscBypass);
  const ownRx = has('own_rx') ? parseBool(driver, 'own_rx', last('own_rx')) : (options.ownRx ?? DEFAULTS.ownRx);
  const fanoutMode = has('fanout_mode') ? parseFanout(driver, last('fanout_mode')) : (options.fanoutMode ?? DEFAULTS.fanoutMode);
  if (!FANOUT_MODES.includes(fanoutMode)) parseFanout(driver, fanoutMode);
  const geometry = ringGeometry(driver, { blocksz, framesz, framecnt, retireTovMs: blkTov, pageSize: PAGE_SIZE });
  return {
    name: args.name,
    iface,
    pciAddr,
    mac,
    qpairs,
    geometry,
    qdiscBypass,
    fanoutMode,
    ownRx,
    ownRxPref: checkOptionInt(driver, 'ownRxPref', options.ownRxPref ?? DEFAULTS.ownRxPref, 1, 0xffff),
    sysfsRoot: options.sysfsRoot,
    removalCheckMs: checkOptionInt(driver, 'removalCheckMs', options.removalCheckMs ?? DEFAULTS.removalCheckMs, 0, 3_600_000),
  };
}
