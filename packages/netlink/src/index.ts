export { RtNetlink, netnsPath, type RtNetlinkOptions } from './rtnetlink.js';
export { NetlinkTransport, type Request } from './transport.js';
export { validateIfName, decodeLink, type Link, type LinkRef, type LinkChange, type TunInfo } from './link.js';
export { decodeAddress, type Address, type AddressFilter, type AddressSpec } from './address.js';
export {
  tcHandle,
  formatTcHandle,
  decodeFilter,
  u32EtherDst,
  u32MatchAll,
  type IngressQdiscKind,
  type IngressQdiscSpec,
  type QdiscInfo,
  type MirredDirection,
  type MirredMode,
  type Mirred,
  type TcAction,
  type TcActionInfo,
  type U32Key,
  type U32FilterSpec,
  type BpfFilterSpec,
  type FilterRef,
  type FilterInfo,
  type FilterQuery,
} from './tc.js';
export { encodeMessage, splitMessages, decodeMessage, decodeAck, type RawMessage, type NetlinkAck, type Family, type MessageHead } from './codec/message.js';
export { formatIp, parseIp } from './codec/codec.js';
export * as nl from './codec/constants.js';
export { openNetlinkSocket, type RawNetlinkSocket, type RawSocketOptions } from './native/socket.js';
export { inNetns } from './native/netns.js';
export {
  RtSubscription,
  toRtEvent,
  type RtEvent,
  type RtGroup,
  type ReadinessWatch,
  type SubscriptionHandlers,
  type SubscriptionOptions,
} from './subscription.js';
