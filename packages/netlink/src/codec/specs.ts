import * as C from './constants.js';
import { attr, bytes, cstring, ipaddr, list, lladdr, nested, struct, u32, u8, withTrailing } from './codec.js';

// Every wire layout this package speaks, written once.

export const nlmsghdr = struct([
  ['len', 'u32'],
  ['type', 'u16'],
  ['flags', 'u16'],
  ['seq', 'u32'],
  ['pid', 'u32'],
] as const);

/** struct nlmsgerr: the error code, then the offending request's header. */
export const nlmsgerr = struct([['error', 'i32']] as const);

export const extAckAttrs = {
  msg: attr(C.NLMSGERR_ATTR_MSG, cstring),
  offset: attr(C.NLMSGERR_ATTR_OFFS, u32),
} as const;

export const ifinfomsg = struct([
  ['family', 'u8'],
  ['pad', 'pad8'],
  ['type', 'u16'],
  ['index', 'i32'],
  ['flags', 'u32'],
  ['change', 'u32'],
] as const);

export const linkInfoAttrs = {
  kind: attr(C.IFLA_INFO_KIND, cstring),
  /** Kind-specific; decoded by the kind's own schema (e.g. tunInfoAttrs). */
  data: attr(C.IFLA_INFO_DATA, bytes),
  slaveKind: attr(C.IFLA_INFO_SLAVE_KIND, cstring),
} as const;

/** IFLA_INFO_DATA of a tun/tap device. */
export const tunInfoAttrs = {
  owner: attr(C.IFLA_TUN_OWNER, u32),
  group: attr(C.IFLA_TUN_GROUP, u32),
  type: attr(C.IFLA_TUN_TYPE, u8),
  pi: attr(C.IFLA_TUN_PI, u8),
  vnetHdr: attr(C.IFLA_TUN_VNET_HDR, u8),
  persist: attr(C.IFLA_TUN_PERSIST, u8),
  multiQueue: attr(C.IFLA_TUN_MULTI_QUEUE, u8),
  numQueues: attr(C.IFLA_TUN_NUM_QUEUES, u32),
  numDisabledQueues: attr(C.IFLA_TUN_NUM_DISABLED_QUEUES, u32),
} as const;

export const linkAttrs = {
  address: attr(C.IFLA_ADDRESS, lladdr),
  broadcast: attr(C.IFLA_BROADCAST, lladdr),
  ifname: attr(C.IFLA_IFNAME, cstring),
  mtu: attr(C.IFLA_MTU, u32),
  link: attr(C.IFLA_LINK, u32),
  qdisc: attr(C.IFLA_QDISC, cstring),
  master: attr(C.IFLA_MASTER, u32),
  txqlen: attr(C.IFLA_TXQLEN, u32),
  operstate: attr(C.IFLA_OPERSTATE, u8),
  linkmode: attr(C.IFLA_LINKMODE, u8),
  linkinfo: attr(C.IFLA_LINKINFO, nested(linkInfoAttrs)),
  ifalias: attr(C.IFLA_IFALIAS, cstring),
  extMask: attr(C.IFLA_EXT_MASK, u32),
  promiscuity: attr(C.IFLA_PROMISCUITY, u32),
  carrier: attr(C.IFLA_CARRIER, u8),
  permAddress: attr(C.IFLA_PERM_ADDRESS, lladdr),
  parentDevName: attr(C.IFLA_PARENT_DEV_NAME, cstring),
  parentDevBusName: attr(C.IFLA_PARENT_DEV_BUS_NAME, cstring),
} as const;

export const ifaddrmsg = struct([
  ['family', 'u8'],
  ['prefixlen', 'u8'],
  ['flags', 'u8'],
  ['scope', 'u8'],
  ['index', 'u32'],
] as const);

export const ifaCacheinfo = struct([
  ['prefered', 'u32'],
  ['valid', 'u32'],
  ['cstamp', 'u32'],
  ['tstamp', 'u32'],
] as const);

export const addrAttrs = {
  address: attr(C.IFA_ADDRESS, ipaddr),
  local: attr(C.IFA_LOCAL, ipaddr),
  label: attr(C.IFA_LABEL, cstring),
  broadcast: attr(C.IFA_BROADCAST, ipaddr),
  cacheinfo: attr(C.IFA_CACHEINFO, ifaCacheinfo),
  flags: attr(C.IFA_FLAGS, u32),
} as const;

export const tcmsg = struct([
  ['family', 'u8'],
  ['pad1', 'pad8'],
  ['pad2', 'pad16'],
  ['ifindex', 'i32'],
  ['handle', 'u32'],
  ['parent', 'u32'],
  ['info', 'u32'],
] as const);

/** Top-level tc attributes; TCA_OPTIONS depends on TCA_KIND, so it stays raw here. */
export const tcAttrs = {
  kind: attr(C.TCA_KIND, cstring),
  options: attr(C.TCA_OPTIONS, bytes),
  chain: attr(C.TCA_CHAIN, u32),
} as const;

/** struct tc_mirred (tc_gen + eaction + ifindex). */
export const tcMirred = struct([
  ['index', 'u32'],
  ['capab', 'u32'],
  ['action', 'i32'],
  ['refcnt', 'i32'],
  ['bindcnt', 'i32'],
  ['eaction', 'i32'],
  ['ifindex', 'u32'],
] as const);

export const mirredAttrs = {
  parms: attr(C.TCA_MIRRED_PARMS, tcMirred),
} as const;

/** One action in an action list; TCA_ACT_OPTIONS depends on TCA_ACT_KIND. */
export const actionAttrs = {
  kind: attr(C.TCA_ACT_KIND, cstring),
  options: attr(C.TCA_ACT_OPTIONS, bytes),
  index: attr(C.TCA_ACT_INDEX, u32),
} as const;

export const actionList = list(nested(actionAttrs));

/** struct tc_u32_sel (without keys). */
export const tcU32SelHead = struct([
  ['flags', 'u8'],
  ['offshift', 'u8'],
  ['nkeys', 'u8'],
  ['pad', 'pad8'],
  ['offmask', 'be16'],
  ['off', 'u16'],
  ['offoff', 'i16'],
  ['hoff', 'i16'],
  ['hmask', 'be32'],
] as const);

/** struct tc_u32_key: mask and value in network order, signed offset. */
export const tcU32Key = struct([
  ['mask', 'be32'],
  ['val', 'be32'],
  ['off', 'i32'],
  ['offmask', 'i32'],
] as const);

export const tcU32Sel = withTrailing(tcU32SelHead, tcU32Key);

export const u32Attrs = {
  classid: attr(C.TCA_U32_CLASSID, u32),
  hash: attr(C.TCA_U32_HASH, u32),
  link: attr(C.TCA_U32_LINK, u32),
  divisor: attr(C.TCA_U32_DIVISOR, u32),
  sel: attr(C.TCA_U32_SEL, tcU32Sel),
  act: attr(C.TCA_U32_ACT, actionList),
  flags: attr(C.TCA_U32_FLAGS, u32),
} as const;

export const bpfAttrs = {
  act: attr(C.TCA_BPF_ACT, actionList),
  classid: attr(C.TCA_BPF_CLASSID, u32),
  fd: attr(C.TCA_BPF_FD, u32),
  name: attr(C.TCA_BPF_NAME, cstring),
  flags: attr(C.TCA_BPF_FLAGS, u32),
  flagsGen: attr(C.TCA_BPF_FLAGS_GEN, u32),
  tag: attr(C.TCA_BPF_TAG, bytes),
  id: attr(C.TCA_BPF_ID, u32),
} as const;
