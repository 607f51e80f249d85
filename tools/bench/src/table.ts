/**
 * Terminal rendering of a result: one table per section (min / median / max per figure), then
 * the targets with their verdicts. Pure: strings in, string out, no colour codes (the output
 * is pasted into READMEs and issues).
 */
import { SECTIONS, type BenchResult, type Figure, type FigureDelta, type Section, type TargetResult } from './schema.js';
import { describeWakePath } from './wakepath.js';

const SECTION_TITLES: Record<Section, string> = {
  rx: 'Rx (generator -> receiver, same veth, same generator)',
  tx: 'Tx (transmitter -> host end, counted by the host link)',
  ceiling: 'Receiver ceiling (pre-filled ring drained through rxBurst)',
  overhead: 'Ratios (same run)',
  failover: 'Failover (VF removed and re-added with traffic both ways)',
  servicing: 'Servicing recovery (traffic, VF removed, VF back)',
  memory: 'Memory',
};

/** A number with about 3 significant digits, without exponent noise; '-' for none. */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  if (a >= 1) return v.toFixed(3);
  if (a >= 0.001) return v.toPrecision(3);
  return v.toExponential(2);
}

/** Left-aligned first columns, right-aligned numeric ones, columns separated by two spaces. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], rightFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return i >= rightFrom && i < header.length - 1 ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

function figureRows(figures: readonly Figure[]): string[][] {
  return figures.map((f) => [
    f.subject,
    f.variant,
    f.metric,
    fmtNum(f.min),
    fmtNum(f.median),
    fmtNum(f.max),
    String(f.n),
    f.unit,
    f.notes.join('; '),
  ]);
}

export function renderFigures(figures: readonly Figure[]): string {
  const out: string[] = [];
  const present = new Set(figures.map((f) => f.section));
  const sections = SECTIONS.filter((s) => present.has(s));
  for (const s of sections) {
    const fs = figures.filter((f) => f.section === s);
    out.push(`== ${SECTION_TITLES[s]}`);
    out.push(renderTable(['subject', 'variant', 'metric', 'min', 'median', 'max', 'n', 'unit', 'notes'], figureRows(fs), 3));
    out.push('');
  }
  return out.join('\n');
}

const VERDICT: Record<TargetResult['status'], string> = { met: 'MET', missed: 'MISSED', 'not-measured': 'n/a' };

function fmtCond(t: TargetResult): string {
  return t.op === 'within' ? `1 ± ${fmtNum(t.threshold)}` : `${t.op} ${fmtNum(t.threshold)}`;
}

export function renderTargets(targets: readonly TargetResult[]): string {
  const rows = targets.map((t) => [VERDICT[t.status], t.description, `${t.stat} ${fmtNum(t.value)}`, fmtCond(t), t.note]);
  return renderTable(['verdict', 'target', 'value', 'needed', 'note'], rows, 5);
}

export function renderResult(r: BenchResult): string {
  const m = r.machine;
  const met = r.targets.filter((t) => t.status === 'met').length;
  const missed = r.targets.filter((t) => t.status === 'missed').length;
  const na = r.targets.length - met - missed;
  const head = [
    `netvsc-ts bench ${r.run.quick ? '(quick)' : '(full)'} — ${r.startedAt}, ${r.durationS.toFixed(0)} s`,
    `machine: ${m.cpuModel} x${m.cpus}, ${m.memoryGiB.toFixed(0)} GiB, ${m.kernel}, node ${m.node}, load ${m.loadAverage.map((l) => l.toFixed(1)).join('/')}`,
    ...(m.wakePath === undefined ? [] : [`wake path: ${describeWakePath(m.wakePath)}`]),
    `git: ${r.git === null ? 'n/a' : `${r.git.commit.slice(0, 12)}${r.git.dirty ? ' (dirty)' : ''}`}; dpdk: ${r.run.dpdk ?? 'not installed'}; generator: ${r.run.generator}`,
    `repetitions: ${r.run.repetitions}, window: ${r.run.windowMs} ms${r.run.loadAverageEnd === undefined ? '' : `; load at the end ${r.run.loadAverageEnd.toFixed(1)}`}${(r.run.busyAtStart ?? []).length > 0 ? `; busy at the start: ${(r.run.busyAtStart ?? []).join(', ')}` : ''}`,
    '',
  ];
  const tail: string[] = ['== Targets', renderTargets(r.targets), `${met} met, ${missed} missed, ${na} not measured`, ''];
  if (r.missing.length > 0) tail.push('== Not measured', ...r.missing.map((s) => `- ${s}`), '');
  if (r.notes.length > 0) tail.push('== Notes', ...r.notes.map((s) => `- ${s}`), '');
  return [...head, renderFigures(r.figures), ...tail].join('\n');
}

/** How a median moved, judged by the figure's direction: `better`, `worse` (beyond `tolerance`), or ''. */
export function verdictOf(d: FigureDelta, tolerance = 0.1): 'better' | 'worse' | '' {
  if (d.ratio === null || d.better === 'none') return '';
  const up = d.ratio > 1 + tolerance;
  const down = d.ratio < 1 - tolerance;
  if (!up && !down) return '';
  return (d.better === 'higher') === up ? 'better' : 'worse';
}

/**
 * Two runs side by side (medians), figures that moved by more than `tolerance` marked.
 * @param machineChanges the wake-path settings that differ between the two runs' machines
 *                       (`wakePathChanges`): figures of sleeping receivers move with them
 */
export function renderComparison(deltas: readonly FigureDelta[], tolerance = 0.1, machineChanges: readonly string[] = []): string {
  const rows = deltas.map((d) => [d.id, fmtNum(d.before), fmtNum(d.after), d.ratio === null ? '-' : `${fmtNum(d.ratio)}x`, verdictOf(d, tolerance)]);
  const worse = deltas.filter((d) => verdictOf(d, tolerance) === 'worse').length;
  const better = deltas.filter((d) => verdictOf(d, tolerance) === 'better').length;
  const head = machineChanges.length === 0 ? '' : `the machines' wake paths differ (${machineChanges.join('; ')}): CPU per packet of sleeping receivers is not comparable\n`;
  return `${head}${renderTable(['figure', 'before', 'after', 'after/before', 'moved'], rows, 1)}\n${better} better, ${worse} worse (beyond ±${fmtNum(tolerance * 100)} %)`;
}
