#!/usr/bin/env node
/**
 * The measuring child in the guest namespace: `ip netns exec <guest> node app.js`. It opens one
 * of our ports and runs the loops the bench asks for (see proto.ts).
 */
import { serve } from './serve.js';

serve('app');
