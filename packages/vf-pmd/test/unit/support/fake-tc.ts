import { ErrnoError } from '@netvsc/ethdev';
import { nl, type BpfFilterSpec, type FilterInfo, type FilterQuery, type FilterRef, type IngressQdiscSpec, type QdiscInfo } from '@netvsc/netlink';
import type { TcOps } from '../../../src/bpf.js';

export const CLSACT_INGRESS = 0xfffffff2;

/** A netdev's ingress as the kernel keeps it, enough for the take-away's requests. */
export class FakeTc implements TcOps {
  qdisc: 'ingress' | 'clsact' | null = null;
  filters_: FilterInfo[] = [];
  log: string[] = [];
  gone = false;

  qdiscs(ifindex?: number): QdiscInfo[] {
    return this.qdisc === null ? [] : [{ ifindex: ifindex ?? 1, handle: nl.TC_H_INGRESS_HANDLE, parent: nl.TC_H_INGRESS, kind: this.qdisc }];
  }
  addIngressQdisc(spec: IngressQdiscSpec): void {
    if (this.qdisc) throw new ErrnoError('EEXIST', 17, 'RTM_NEWQDISC');
    this.qdisc = spec.kind ?? 'ingress';
    this.log.push('add qdisc');
  }
  deleteIngressQdisc(): void {
    this.qdisc = null;
    this.filters_ = [];
    this.log.push('del qdisc');
  }
  addBpfFilter(spec: BpfFilterSpec): void {
    if (this.filters_.some((f) => f.pref === spec.pref)) throw new ErrnoError('EEXIST', 17, 'RTM_NEWTFILTER');
    this.filters_.push(info(spec.pref, 'bpf', spec.name, spec.parent ?? nl.TC_H_INGRESS_HANDLE));
    this.log.push(`add bpf ${spec.name} pref ${spec.pref} parent ${(spec.parent ?? 0).toString(16)} fd ${spec.fd} da ${spec.directAction}`);
  }
  deleteFilter(ref: FilterRef): void {
    if (this.gone) throw new ErrnoError('ENODEV', 19, 'RTM_DELTFILTER');
    this.filters_ = this.filters_.filter((f) => f.pref !== ref.pref);
    this.log.push(`del pref ${ref.pref}`);
  }
  filters(_q: FilterQuery): FilterInfo[] {
    return this.filters_;
  }
}

export function info(pref: number, kind: string, name: string | null, parent: number = nl.TC_H_INGRESS_HANDLE): FilterInfo {
  return { ifindex: 5, parent, pref, protocol: 3, handle: 1, kind, chain: 0, u32: null, bpf: kind === 'bpf' ? { name, id: 1, tag: null, directAction: true } : null, actions: [] };
}
