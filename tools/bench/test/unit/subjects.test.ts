import { describe, expect, it } from 'vitest';
import { SUBJECT_NAMES } from '../../src/parse.js';
import { SUBJECTS, selectSubjects } from '../../src/rates.js';
import { QUICK_TOLL_RATES, TOLL_RATES } from '../../src/wake.js';
import { targetSpecs } from '../../src/targets.js';

const names = (xs: readonly { name: string }[]): string[] => xs.map((s) => s.name);

describe('selectSubjects', () => {
  it('measures every subject in a full run', () => {
    expect(selectSubjects({ quick: false, subjects: undefined })).toEqual({ subjects: [...SUBJECTS], skipped: [] });
  });

  it('leaves the diagnostic variants out of a quick run and says which', () => {
    const { subjects, skipped } = selectSubjects({ quick: true, subjects: undefined });
    expect(skipped).toEqual(['vf-pmd-4k', 'vf-pmd-tov4', 'tap-writev']);
    expect(names(subjects)).toEqual(['vf-pmd', 'dpdk-af_packet', 'vf-pmd-own_rx', 'failsafe', 'tap', 'dpdk-tap']);
  });

  it('measures what --subjects names, diagnostic or not, in round order', () => {
    expect(names(selectSubjects({ quick: true, subjects: ['tap-writev', 'vf-pmd'] }).subjects)).toEqual(['vf-pmd', 'tap-writev']);
    expect(selectSubjects({ quick: true, subjects: ['tap-writev'] }).skipped).toEqual([]);
  });

  it('defines every subject --subjects accepts, in round order', () => {
    expect(names(SUBJECTS)).toEqual([...SUBJECT_NAMES]);
  });

  it('never leaves out a subject a target judges (a quoted context may be absent)', () => {
    const read = targetSpecs({ sizes: [64, 1500], settleMs: 200 }).flatMap((t) => [t.figure, ...(t.orElse === undefined ? [] : [t.orElse.figure])]).join(' ');
    for (const s of SUBJECTS.filter((x) => x.diagnostic === true)) expect(read).not.toMatch(new RegExp(`[.-]${s.name}[.-]`));
  });
});

describe('quick wake-up toll rates', () => {
  it('span the same rates as a full run, so the same receivers are bracketed', () => {
    expect(Math.min(...QUICK_TOLL_RATES)).toBe(Math.min(...TOLL_RATES));
    expect(Math.max(...QUICK_TOLL_RATES)).toBe(Math.max(...TOLL_RATES));
  });
});
