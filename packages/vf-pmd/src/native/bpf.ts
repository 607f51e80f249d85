import koffi from 'koffi';
import { lastErrno, libc } from '@netvsc/ethdev';

/** bpf(2) through syscall(2): libc has no wrapper. Only program loading is needed here. */

const SYS_bpf = 321; // x86_64
const BPF_PROG_LOAD = 5;
export const BPF_PROG_TYPE_SCHED_CLS = 3;

/** The BPF_PROG_LOAD arm of union bpf_attr, up to expected_attach_type. */
const BpfProgLoadAttr = koffi.struct('nvpmd_bpf_prog_load_attr', {
  prog_type: 'uint32_t',
  insn_cnt: 'uint32_t',
  insns: 'void *',
  license: 'const char *',
  log_level: 'uint32_t',
  log_size: 'uint32_t',
  log_buf: 'void *',
  kern_version: 'uint32_t',
  prog_flags: 'uint32_t',
  prog_name: koffi.array('char', 16, 'String'),
  prog_ifindex: 'uint32_t',
  expected_attach_type: 'uint32_t',
});
const ATTR_SIZE = koffi.sizeof(BpfProgLoadAttr);

const syscallFn = libc().func('long syscall(long number, ...)') as (...args: unknown[]) => number;

export interface ProgLoad {
  readonly type: number;
  /** Encoded instructions, 8 bytes each. */
  readonly insns: Uint8Array;
  readonly license: string;
  /** Up to 15 characters; shown by `bpftool prog` and in tc filter dumps. */
  readonly name: string;
}

function load(p: ProgLoad, log: Uint8Array | null): number {
  const attr = {
    prog_type: p.type,
    insn_cnt: p.insns.length / 8,
    insns: p.insns,
    license: p.license,
    log_level: log === null ? 0 : 1,
    log_size: log === null ? 0 : log.length,
    log_buf: log,
    kern_version: 0,
    prog_flags: 0,
    prog_name: p.name,
    prog_ifindex: 0,
    expected_attach_type: 0,
  };
  return syscallFn(SYS_bpf, 'int', BPF_PROG_LOAD, koffi.pointer(BpfProgLoadAttr), attr, 'unsigned int', ATTR_SIZE);
}

/**
 * One BPF_PROG_LOAD: the program's fd, or -errno. With `log`, the verifier writes its log
 * there (NUL-terminated). Policy (retries, the error) is the caller's.
 */
export function progLoadOnce(p: ProgLoad, log: Uint8Array | null): number {
  const fd = load(p, log);
  return fd >= 0 ? fd : -lastErrno();
}
