import { NetvscError } from '@netvsc/ethdev';

/** An interface name that cannot be used in a sysfs path (or is not a valid Linux name). */
export class InvalidInterfaceNameError extends NetvscError {
  readonly ifname: string;

  constructor(ifname: string, why: string) {
    super(
      'ERR_INVALID_IFNAME',
      `invalid interface name ${JSON.stringify(ifname)}: ${why}; expected 1-15 characters, no '/' or whitespace, not "." or ".."`,
    );
    this.ifname = ifname;
  }
}

/** The link monitor was used after close(). */
export class MonitorClosedError extends NetvscError {
  constructor() {
    super('ERR_MONITOR_CLOSED', 'the link monitor is closed');
  }
}
