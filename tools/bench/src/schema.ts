/**
 * The JSON file a run writes: machine, versions, every figure with its samples and
 * min/median/max, and the targets judged from them. Stable ids let two files (two commits)
 * be compared figure by figure; `validateResult` checks a file before such a comparison.
 */
import { summarize, type Summary } from './stats.js';

export const SCHEMA_ID = 'netvsc-bench/1';

/** Where a figure belongs in the table. */
export const SECTIONS = ['rx', 'tx', 'ceiling', 'overhead', 'failover', 'servicing', 'memory'] as const;
export type Section = (typeof SECTIONS)[number];

export type Better = 'higher' | 'lower' | 'none';

export interface Figure extends Summary {
  /** Stable key: `<section>.<subject>.<variant>.<metric>`, e.g. `rx.vf-pmd.64.mpps`. */
  readonly id: string;
  readonly section: Section;
  /** What was measured: `vf-pmd`, `dpdk-af_packet`, `failsafe`, ... */
  readonly subject: string;
  /** Frame size or scenario variant (`64`, `1500`, `worst`); '' when none. */
  readonly variant: string;
  /** Human label of the metric, e.g. `Rx Mpps`. */
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  /** One per repetition (or per event: 20 failovers give 20 samples). */
  readonly samples: readonly number[];
  /** Caveats: `generator-bound`, `spinning receiver`, what could not be done. */
  readonly notes: readonly string[];
}

export type TargetStatus = 'met' | 'missed' | 'not-measured';
export type Comparison = '>=' | '<=' | 'within';

export interface TargetResult {
  readonly id: string;
  readonly description: string;
  /** Figure judged (its id). */
  readonly figure: string;
  /** Which statistic of the figure is judged: the worst one for latency targets, the median for rates. */
  readonly stat: 'min' | 'median' | 'max';
  readonly op: Comparison;
  /** For `within`: the allowed |value - 1| (a ratio). */
  readonly threshold: number;
  readonly value: number | null;
  readonly status: TargetStatus;
  readonly note: string;
}

export interface MachineInfo {
  readonly hostname: string;
  readonly kernel: string;
  readonly os: string;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  /** 1/5/15-minute load averages at the start: this machine may be shared. */
  readonly loadAverage: readonly number[];
  readonly node: string;
  readonly v8: string;
  /** What decides a sleeping receiver's price per wake-up (wakepath.ts); absent in older files. */
  readonly wakePath?: WakePathInfo;
}

/** Kernel and hypervisor settings on a receiver's wake-up path; null where not readable. */
export interface WakePathInfo {
  /** CPUID's hypervisor bit, from /proc/cpuinfo. */
  readonly hypervisor: boolean | null;
  readonly dmiVendor: string | null;
  readonly clocksource: string | null;
  readonly cpuidleDriver: string | null;
  readonly cpuidleGovernor: string | null;
  /** haltpoll's `guest_halt_poll_ns`: how long an idle vCPU polls before it halts (0: at once). */
  readonly haltPollNs: number | null;
  readonly hz: number | null;
  readonly cpuAccounting: 'tick' | 'virt-gen' | 'native' | null;
  readonly irqTimeAccounting: boolean | null;
  readonly paravirtTimeAccounting: boolean | null;
}

export interface RunInfo {
  readonly quick: boolean;
  readonly repetitions: number;
  /** Length of one measured window, ms. */
  readonly windowMs: number;
  readonly generator: string;
  /** `dpdk-testpmd --version` output, or null when it is not installed. */
  readonly dpdk: string | null;
  readonly options: Readonly<Record<string, string | number | boolean>>;
  /** 1-minute load average at the end (the start's is in `machine`); absent in files of early runs. */
  readonly loadAverageEnd?: number;
  /** Other processes found busy when the run started (name and %CPU): a shared machine skews every figure. */
  readonly busyAtStart?: readonly string[];
}

export interface BenchResult {
  readonly schema: typeof SCHEMA_ID;
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: MachineInfo;
  /** Package name -> version of every workspace package measured. */
  readonly versions: Readonly<Record<string, string>>;
  /** Commit of the checkout, and whether it had local changes; null outside git. */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  readonly run: RunInfo;
  readonly figures: readonly Figure[];
  readonly targets: readonly TargetResult[];
  /** Figures that could not be taken, and why. */
  readonly missing: readonly string[];
  /** Free text for the reader: DPDK's own failover intervals, the generator's limits. */
  readonly notes: readonly string[];
}

export interface FigureSpec {
  readonly section: Section;
  readonly subject: string;
  readonly variant?: string | number;
  /** Metric key used in the id (`mpps`, `cpu_ns`, ...). */
  readonly key: string;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
}

export function figureId(spec: Pick<FigureSpec, 'section' | 'subject' | 'variant' | 'key'>): string {
  const v = spec.variant === undefined || spec.variant === '' ? '' : `.${spec.variant}`;
  return `${spec.section}.${spec.subject}${v}.${spec.key}`;
}

/** Build a figure from its samples (the summary is computed here, never by hand). */
export function makeFigure(spec: FigureSpec, samples: readonly number[], notes: readonly string[] = []): Figure {
  return {
    id: figureId(spec),
    section: spec.section,
    subject: spec.subject,
    variant: spec.variant === undefined ? '' : String(spec.variant),
    metric: spec.metric,
    unit: spec.unit,
    better: spec.better,
    samples: [...samples],
    notes: [...new Set(notes)],
    ...summarize(samples),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const numOrNull = (v: unknown): boolean => v === null || typeof v === 'number';

/** Structural check of a result file; returns the problems found (empty: valid). */
export function validateResult(v: unknown): string[] {
  const errs: string[] = [];
  if (!isRecord(v)) return ['not an object'];
  if (v.schema !== SCHEMA_ID) errs.push(`schema is ${JSON.stringify(v.schema)}, expected ${SCHEMA_ID}`);
  for (const k of ['startedAt'] as const) if (typeof v[k] !== 'string') errs.push(`${k} must be a string`);
  if (typeof v.durationS !== 'number') errs.push('durationS must be a number');
  for (const k of ['machine', 'versions', 'run'] as const) if (!isRecord(v[k])) errs.push(`${k} must be an object`);
  if (isRecord(v.machine) && v.machine.wakePath !== undefined && !isRecord(v.machine.wakePath)) errs.push('machine.wakePath must be an object when present');
  for (const k of ['missing', 'notes'] as const) {
    const a = v[k];
    if (!Array.isArray(a) || a.some((x) => typeof x !== 'string')) errs.push(`${k} must be an array of strings`);
  }
  const figures = v.figures;
  const ids = new Set<string>();
  if (!Array.isArray(figures)) errs.push('figures must be an array');
  else {
    figures.forEach((f: unknown, i) => {
      if (!isRecord(f)) {
        errs.push(`figures[${i}] is not an object`);
        return;
      }
      if (typeof f.id !== 'string' || f.id === '') errs.push(`figures[${i}].id must be a non-empty string`);
      else if (ids.has(f.id)) errs.push(`figures[${i}].id ${f.id} is duplicated`);
      else ids.add(f.id);
      if (!SECTIONS.includes(f.section as Section)) errs.push(`figures[${i}].section ${String(f.section)} is unknown`);
      if (!Array.isArray(f.samples) || f.samples.some((s) => typeof s !== 'number')) errs.push(`figures[${i}].samples must be numbers`);
      if (typeof f.n !== 'number' || (Array.isArray(f.samples) && f.n > f.samples.length)) errs.push(`figures[${i}].n is wrong`);
      for (const k of ['min', 'median', 'max'] as const) if (!numOrNull(f[k])) errs.push(`figures[${i}].${k} must be a number or null`);
    });
  }
  const targets = v.targets;
  if (!Array.isArray(targets)) errs.push('targets must be an array');
  else {
    targets.forEach((t: unknown, i) => {
      if (!isRecord(t)) {
        errs.push(`targets[${i}] is not an object`);
        return;
      }
      if (!['met', 'missed', 'not-measured'].includes(t.status as string)) errs.push(`targets[${i}].status is invalid`);
      if (typeof t.figure !== 'string') errs.push(`targets[${i}].figure must be a string`);
      else if (t.status !== 'not-measured' && !ids.has(t.figure)) errs.push(`targets[${i}] judges unknown figure ${t.figure}`);
      if (!numOrNull(t.value)) errs.push(`targets[${i}].value must be a number or null`);
    });
  }
  return errs;
}

export interface FigureDelta {
  readonly id: string;
  readonly before: number | null;
  readonly after: number | null;
  /** after / before of the medians; null when either is missing or before is 0. */
  readonly ratio: number | null;
  readonly better: Better;
}

/** Median-to-median comparison of two runs, figure by figure (ids present in either). */
export function compareResults(before: BenchResult, after: BenchResult): FigureDelta[] {
  const a = new Map(before.figures.map((f) => [f.id, f]));
  const b = new Map(after.figures.map((f) => [f.id, f]));
  const ids = [...new Set([...a.keys(), ...b.keys()])];
  return ids.map((id) => {
    const x = a.get(id)?.median ?? null;
    const y = b.get(id)?.median ?? null;
    return {
      id,
      before: x,
      after: y,
      ratio: x !== null && y !== null && x !== 0 ? y / x : null,
      better: (b.get(id) ?? a.get(id))?.better ?? 'none',
    };
  });
}
