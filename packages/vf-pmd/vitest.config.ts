import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// --expose-gc lets the allocation test start from a collected heap.
export default mergeConfig(shared, { test: { execArgv: ['--expose-gc'] } });
