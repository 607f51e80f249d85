import koffi from 'koffi';

// Test support only: the tap package owns BPF loading; these tests just need a program fd
// to attach with cls_bpf. Two instructions: r0 = TC_ACT_SHOT; exit.

const lib = koffi.load('libc.so.6');
const syscall = lib.func('long syscall(long number, ...)');
const close = lib.func('int close(int fd)') as (fd: number) => number;
const SYS_BPF = process.arch === 'arm64' ? 280 : 321;
const BPF_PROG_LOAD = 5;
const BPF_PROG_TYPE_SCHED_CLS = 3;

const ProgLoadAttr = koffi.struct('nl_test_bpf_prog_load_attr', {
  prog_type: 'uint32_t',
  insn_cnt: 'uint32_t',
  insns: 'void *',
  license: 'const char *',
  log_level: 'uint32_t',
  log_size: 'uint32_t',
  log_buf: 'void *',
  kern_version: 'uint32_t',
  prog_flags: 'uint32_t',
  prog_name: koffi.array('char', 16),
  pad: koffi.array('uint8_t', 64),
});

/** Load `r0 = verdict; exit` as a SCHED_CLS program; returns its fd. */
export function loadVerdictProgram(verdict: number): number {
  const insns = Buffer.alloc(16);
  insns[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  insns.writeInt32LE(verdict, 4);
  insns[8] = 0x95; // BPF_JMP | BPF_EXIT
  const attr = {
    prog_type: BPF_PROG_TYPE_SCHED_CLS,
    insn_cnt: 2,
    insns,
    license: 'GPL',
    log_level: 0,
    log_size: 0,
    log_buf: null,
    kern_version: 0,
    prog_flags: 0,
    prog_name: 'nl_test',
    pad: new Array<number>(64).fill(0),
  };
  const fd = Number(syscall(SYS_BPF, 'int', BPF_PROG_LOAD, koffi.pointer(ProgLoadAttr), attr, 'unsigned int', koffi.sizeof(ProgLoadAttr)));
  if (fd < 0) throw new Error(`bpf(BPF_PROG_LOAD) failed: errno ${koffi.errno()}`);
  return fd;
}

export function closeFd(fd: number): void {
  close(fd);
}
