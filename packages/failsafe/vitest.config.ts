import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// --expose-gc lets the allocation test force a collection before it counts scavenges.
export default mergeConfig(shared, { test: { execArgv: ['--expose-gc'] } });
