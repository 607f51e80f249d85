export {
  NETVSC_CLASS_ID,
  HV_PCI_CLASS_ID,
  TRANSPARENT_VF_PREF,
  SIM_PREFIX,
  type SimVfSpec,
  type SimNetvscSpec,
  type SimHypervMarkers,
  type SimOptions,
  type SimVfState,
  type SimNetvscState,
  type SimState,
  type SimFlapOptions,
  type NetvscRef,
  type LinkSide,
  type SimEvent,
  type SimEventKind,
} from './api.js';
export { SimGuest, STATE_FILE, type DownAllReport, type DownAllOptions, type SimSummary, type SimResource } from './guest.js';
export { integrationGate, privilegeStatus, type PrivilegeStatus } from './gate.js';
export { enterNetns, inNetns } from './enter.js';
export {
  fixtureLayout,
  syncFixture,
  writeFixture,
  deviceDir,
  netdevDir,
  pciBridgeId,
  VMBUS_DEVICES_DIR,
  type FixtureModel,
  type FixtureNetdev,
  type FixtureDevice,
  type FixtureEntry,
  type FixtureChanges,
} from './fixture.js';
export { vfNameFor, nextPciAddress, defaultMac, guestNsName, hostNsName } from './names.js';
export { execRunner, findTool, type CommandRunner, type Tool } from './commands.js';
export { NetnsDriver, type VethEnd, type KernelLink } from './netns.js';
export { SimToolMissingError, SimCommandError, SimPeerError, SimPrivilegeError } from './errors.js';
export {
  TEST_ETHERTYPE,
  TEST_MAGIC,
  TEST_VERSION,
  TEST_HEADER_LEN,
  TEST_MIN_FRAME,
  TEST_MAX_FRAME,
  TEST_FLAG_ECHO,
  encodeTestFrame,
  decodeTestFrame,
  writeTestFrame,
  setTestSeq,
  isTestFrame,
  testFrameSeq,
  testFrameFlow,
  testFrameFlags,
  type TestFrame,
  type TestFrameFields,
} from './frame.js';
export { SimPeer, peerScriptPath, type SimPeerOptions } from './peer.js';
export { PEER_SLOT_SIZE, PEER_DEDUP_LIMIT } from './peer-engine.js';
export type {
  PeerInit,
  PeerPortConfig,
  PeerDestination,
  PeerPath,
  PeerSendRequest,
  PeerSendResult,
  PeerPathCounters,
  PeerPortCounters,
  PeerFlowCounters,
  PeerCounters,
} from './peer-protocol.js';
export { PacketSocket, ifIndex, type PacketSocketOptions } from './native/packet.js';
