import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// --expose-gc lets the allocation test measure the heap after a forced collection.
export default mergeConfig(shared, { test: { execArgv: ['--expose-gc'] } });
