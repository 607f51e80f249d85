import { formatEtherAddr, etherAddrBytes, InvalidArgumentError, type EtherAddr } from '@netvsc/ethdev';

/**
 * Declarative wire codecs: every struct and attribute layout of this package is written
 * once as a value of these types, and encoded/decoded by the generic code below.
 * `W` is what a caller writes, `R` what a reader gets back.
 */
export interface Codec<W, R = W> {
  /** Payload size in bytes for `value` (without an attribute header or padding). */
  size(value: W): number;
  write(value: W, out: Uint8Array, view: DataView, offset: number): void;
  read(buf: Uint8Array, view: DataView, offset: number, length: number): R;
}

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

function fixed<T>(bytes: number, write: (v: DataView, o: number, x: T) => void, read: (v: DataView, o: number) => T): Codec<T> {
  return {
    size: () => bytes,
    write: (value, _out, view, offset) => {
      write(view, offset, value);
    },
    read: (_buf, view, offset, length) => {
      if (length < bytes) throw new RangeError(`attribute of ${length} bytes, expected ${bytes}`);
      return read(view, offset);
    },
  };
}

// Host byte order is little-endian on every platform koffi supports here (x86-64, arm64).
export const u8 = fixed<number>(1, (v, o, x) => { v.setUint8(o, x); }, (v, o) => v.getUint8(o));
export const u16 = fixed<number>(2, (v, o, x) => { v.setUint16(o, x, true); }, (v, o) => v.getUint16(o, true));
export const u32 = fixed<number>(4, (v, o, x) => { v.setUint32(o, x >>> 0, true); }, (v, o) => v.getUint32(o, true));
export const i32 = fixed<number>(4, (v, o, x) => { v.setInt32(o, x, true); }, (v, o) => v.getInt32(o, true));
export const be16 = fixed<number>(2, (v, o, x) => { v.setUint16(o, x); }, (v, o) => v.getUint16(o));
export const be32 = fixed<number>(4, (v, o, x) => { v.setUint32(o, x >>> 0); }, (v, o) => v.getUint32(o));
export const u64 = fixed<bigint>(8, (v, o, x) => { v.setBigUint64(o, x, true); }, (v, o) => v.getBigUint64(o, true));

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** NUL-terminated string (IFLA_IFNAME, TCA_KIND, ...). */
export const cstring: Codec<string> = {
  size: (s) => utf8.encode(s).length + 1,
  write: (s, out, _view, offset) => {
    const b = utf8.encode(s);
    out.set(b, offset);
    out[offset + b.length] = 0;
  },
  read: (buf, _view, offset, length) => {
    let end = offset;
    const stop = offset + length;
    while (end < stop && buf[end] !== 0) end++;
    return utf8d.decode(buf.subarray(offset, end));
  },
};

/** Opaque bytes (copied on read, so the receive buffer can be reused). */
export const bytes: Codec<Uint8Array> = {
  size: (b) => b.length,
  write: (b, out, _view, offset) => {
    out.set(b, offset);
  },
  read: (buf, _view, offset, length) => buf.slice(offset, offset + length),
};

/** A zero-length attribute whose presence means true. */
export const flag: Codec<true> = {
  size: () => 0,
  write: () => undefined,
  read: () => true,
};

/** A link-layer address: an EtherAddr when it has 6 bytes, otherwise null (tunnels, loopback's zero-length...). */
export const lladdr: Codec<EtherAddr, EtherAddr | null> = {
  size: () => 6,
  write: (mac, out, _view, offset) => {
    out.set(etherAddrBytes(mac), offset);
  },
  read: (buf, _view, offset, length) => (length === 6 ? formatEtherAddr(buf.subarray(offset, offset + 6)) : null),
};

/** An IPv4 or IPv6 address in text form (4 or 16 bytes on the wire). */
export const ipaddr: Codec<string> = {
  size: (s) => (s.includes(':') ? 16 : 4),
  write: (s, out, _view, offset) => {
    out.set(parseIp(s), offset);
  },
  read: (buf, _view, offset, length) => formatIp(buf.subarray(offset, offset + length)),
};

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function parseIp(s: string): Uint8Array {
  const bad = (): never => {
    throw new InvalidArgumentError(`invalid IP address "${s}": expected dotted IPv4 or RFC 4291 IPv6 text`);
  };
  if (!s.includes(':')) {
    const parts = s.split('.');
    if (parts.length !== 4) bad();
    return Uint8Array.from(parts, (p) => {
      if (!/^\d{1,3}$/.test(p) || Number(p) > 255) bad();
      return Number(p);
    });
  }
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const words = (h: string | undefined): number[] =>
    h === undefined || h === ''
      ? []
      : h.split(':').map((w) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(w)) bad();
          return parseInt(w, 16);
        });
  const head = words(halves[0]);
  const tail = words(halves[1]);
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0 || (halves.length === 2 && fill < 1)) bad();
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Fixed-layout C structs

export type FieldKind = 'u8' | 'u16' | 'i16' | 'u32' | 'i32' | 'be16' | 'be32' | 'pad8' | 'pad16';
export type StructDef = readonly (readonly [string, FieldKind])[];
export type StructValue<D extends StructDef> = {
  [F in D[number] as F[1] extends `pad${string}` ? never : F[0]]: number;
};

const FIELD_SIZE: Record<FieldKind, number> = { u8: 1, pad8: 1, u16: 2, i16: 2, be16: 2, pad16: 2, u32: 4, i32: 4, be32: 4 };

export interface StructCodec<V> extends Codec<Partial<V>, V> {
  /** sizeof(struct). */
  readonly bytes: number;
}

/** A C struct with natural alignment already spelled out by the caller (explicit pads). */
export function struct<const D extends StructDef>(def: D): StructCodec<StructValue<D>> {
  let total = 0;
  const layout = def.map(([name, kind]) => {
    const at = total;
    total += FIELD_SIZE[kind];
    return { name, kind, at };
  });
  const bytes = total;
  return {
    bytes,
    size: () => bytes,
    write: (value, _out, view, offset) => {
      const rec = value as Record<string, number | undefined>;
      for (const { name, kind, at } of layout) {
        const x = rec[name] ?? 0;
        const o = offset + at;
        switch (kind) {
          case 'u8': view.setUint8(o, x); break;
          case 'u16': view.setUint16(o, x, true); break;
          case 'i16': view.setInt16(o, x, true); break;
          case 'u32': view.setUint32(o, x >>> 0, true); break;
          case 'i32': view.setInt32(o, x, true); break;
          case 'be16': view.setUint16(o, x); break;
          case 'be32': view.setUint32(o, x >>> 0); break;
          case 'pad8': view.setUint8(o, 0); break;
          case 'pad16': view.setUint16(o, 0); break;
        }
      }
    },
    read: (_buf, view, offset, length) => {
      if (length < bytes) throw new RangeError(`struct of ${length} bytes, expected at least ${bytes}`);
      const rec: Record<string, number> = {};
      for (const { name, kind, at } of layout) {
        const o = offset + at;
        switch (kind) {
          case 'u8': rec[name] = view.getUint8(o); break;
          case 'u16': rec[name] = view.getUint16(o, true); break;
          case 'i16': rec[name] = view.getInt16(o, true); break;
          case 'u32': rec[name] = view.getUint32(o, true); break;
          case 'i32': rec[name] = view.getInt32(o, true); break;
          case 'be16': rec[name] = view.getUint16(o); break;
          case 'be32': rec[name] = view.getUint32(o); break;
          case 'pad8':
          case 'pad16':
            break;
        }
      }
      return rec as StructValue<D>;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Attributes (struct nlattr { u16 len; u16 type; } + payload, padded to 4)

export interface AttrDef<W, R> {
  readonly type: number;
  readonly codec: Codec<W, R>;
}

export type Schema = Readonly<Record<string, AttrDef<never, unknown>>>;
export type AttrsIn<S extends Schema> = { [K in keyof S]?: S[K] extends AttrDef<infer W, unknown> ? W : never };
export type AttrsOut<S extends Schema> = { [K in keyof S]?: S[K] extends AttrDef<never, infer R> ? R : never };

export function attr<W, R>(type: number, codec: Codec<W, R>): AttrDef<W, R> {
  return { type, codec };
}

/** Size of an encoded attribute set, padding included. */
export function attrsSize<S extends Schema>(schema: S, values: AttrsIn<S>): number {
  let n = 0;
  for (const key of Object.keys(schema)) {
    const v = (values as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const def = schema[key] as unknown as AttrDef<unknown, unknown>;
    n += align4(NLA_HDRLEN + def.codec.size(v));
  }
  return n;
}

export function writeAttrs<S extends Schema>(schema: S, values: AttrsIn<S>, out: Uint8Array, view: DataView, offset: number): number {
  let o = offset;
  // Schema order, not object order: the wire layout stays deterministic.
  for (const key of Object.keys(schema)) {
    const v = (values as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const def = schema[key] as unknown as AttrDef<unknown, unknown>;
    const len = NLA_HDRLEN + def.codec.size(v);
    view.setUint16(o, len, true);
    view.setUint16(o + 2, def.type, true);
    def.codec.write(v, out, view, o + NLA_HDRLEN);
    const padded = align4(len);
    out.fill(0, o + len, o + padded);
    o += padded;
  }
  return o - offset;
}

/** Walk raw attributes: calls `each(type, offset, length)` for every well-formed one. */
export function walkAttrs(view: DataView, offset: number, length: number, each: (type: number, at: number, len: number) => void): void {
  const end = offset + length;
  let o = offset;
  while (o + NLA_HDRLEN <= end) {
    const len = view.getUint16(o, true);
    if (len < NLA_HDRLEN || o + len > end) break;
    each(view.getUint16(o + 2, true) & NLA_TYPE_MASK, o + NLA_HDRLEN, len - NLA_HDRLEN);
    o += align4(len);
  }
}

export function readAttrs<S extends Schema>(schema: S, buf: Uint8Array, view: DataView, offset: number, length: number): AttrsOut<S> {
  const byType = schemaIndex(schema);
  const out: Record<string, unknown> = {};
  walkAttrs(view, offset, length, (type, at, len) => {
    const entry = byType.get(type);
    if (entry === undefined) return;
    out[entry[0]] = entry[1].codec.read(buf, view, at, len);
  });
  return out as AttrsOut<S>;
}

const indexCache = new WeakMap<Schema, Map<number, [string, AttrDef<never, unknown>]>>();
function schemaIndex(schema: Schema): Map<number, [string, AttrDef<never, unknown>]> {
  let m = indexCache.get(schema);
  if (m === undefined) {
    m = new Map(Object.entries(schema).map(([k, d]) => [d.type, [k, d]]));
    indexCache.set(schema, m);
  }
  return m;
}

/** A nested attribute set. */
export function nested<S extends Schema>(schema: S): Codec<AttrsIn<S>, AttrsOut<S>> {
  return {
    size: (v) => attrsSize(schema, v),
    write: (v, out, view, offset) => {
      writeAttrs(schema, v, out, view, offset);
    },
    read: (buf, view, offset, length) => readAttrs(schema, buf, view, offset, length),
  };
}

/**
 * A nested list whose attribute types are positions 1..n (tc action lists: the type is
 * the action's order, TCA_ACT_MAX_PRIO at most).
 */
export function list<W, R>(item: Codec<W, R>): Codec<readonly W[], R[]> {
  return {
    size: (items) => items.reduce((n, v) => n + align4(NLA_HDRLEN + item.size(v)), 0),
    write: (items, out, view, offset) => {
      let o = offset;
      items.forEach((v, i) => {
        const len = NLA_HDRLEN + item.size(v);
        view.setUint16(o, len, true);
        view.setUint16(o + 2, i + 1, true);
        item.write(v, out, view, o + NLA_HDRLEN);
        out.fill(0, o + len, o + align4(len));
        o += align4(len);
      });
    },
    read: (buf, view, offset, length) => {
      const items: R[] = [];
      walkAttrs(view, offset, length, (_type, at, len) => {
        items.push(item.read(buf, view, at, len));
      });
      return items;
    },
  };
}

/** A fixed header struct followed by a repeated struct (tc_u32_sel + keys[]). */
export function withTrailing<H, K>(
  head: StructCodec<H>,
  item: StructCodec<K>,
): Codec<{ readonly head: Partial<H>; readonly items: readonly Partial<K>[] }, { head: H; items: K[] }> {
  return {
    size: (v) => head.bytes + item.bytes * v.items.length,
    write: (v, out, view, offset) => {
      head.write(v.head, out, view, offset);
      v.items.forEach((k, i) => {
        item.write(k, out, view, offset + head.bytes + i * item.bytes);
      });
    },
    read: (buf, view, offset, length) => {
      const h = head.read(buf, view, offset, length);
      const items: K[] = [];
      for (let o = head.bytes; o + item.bytes <= length; o += item.bytes) items.push(item.read(buf, view, offset + o, item.bytes));
      return { head: h, items };
    },
  };
}

/** Encode a value with a codec into a fresh buffer (for kind-dependent option blobs). */
export function encode<W>(codec: Codec<W, unknown>, value: W): Uint8Array {
  const out = new Uint8Array(codec.size(value));
  codec.write(value, out, new DataView(out.buffer), 0);
  return out;
}

export function decode<R>(codec: Codec<never, R>, data: Uint8Array): R {
  return codec.read(data, new DataView(data.buffer, data.byteOffset, data.byteLength), 0, data.length);
}
