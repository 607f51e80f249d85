export { summarize, median, ratioSamples, perSecond, nsPerPacket, EMPTY_SUMMARY, type Summary } from './stats.js';
export {
  SCHEMA_ID,
  SECTIONS,
  figureId,
  makeFigure,
  validateResult,
  compareResults,
  type BenchResult,
  type Figure,
  type FigureSpec,
  type FigureDelta,
  type TargetResult,
  type TargetStatus,
  type MachineInfo,
  type WakePathInfo,
  type RunInfo,
  type Section,
} from './schema.js';
export { targetSpecs, evaluateTargets, holds, FULL_RECEPTION_LOSS_PCT, type TargetSpec, type TargetOptions, type Condition } from './targets.js';
export { renderResult, renderFigures, renderTargets, renderTable, renderComparison, verdictOf, fmtNum } from './table.js';
export { parseArgs, parsePortStats, parseProcStatTicks, parseIpLinkStats, parseDpdkVersion, USAGE, TESTPMD_INSTALL, SCENARIOS, type BenchOptions, type Scenario, type PortStats, type LinkCounters } from './parse.js';
export { ratioFigures, RATIOS, type RatioDef } from './ratios.js';
export { runBench, writeResult, type RunHooks } from './runner.js';
export { wakePathInfo, describeWakePath, wakePathChanges, parseKernelConfig, parseHypervisorFlag, WAKE_PATH_FILES, type KernelConfigFacts } from './wakepath.js';
