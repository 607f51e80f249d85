#!/usr/bin/env node
/**
 * Our generator, used when dpdk-testpmd is not installed: `ip netns exec <host> node gen.js`
 * opens our VF PMD (`net_af_packet`, TPACKET_V3 Tx ring) on a host veth end and floods it.
 * The same engine as app.js, in another process so its CPU is not the receiver's.
 */
import { serve } from './serve.js';

serve('gen');
