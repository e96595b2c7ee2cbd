// The GDB remote serial protocol's framing (gdb/doc "Overview" of the remote protocol): bytes from
// the socket become packets (`$data#cs`), interrupts (a bare 0x03) and acknowledgements; replies
// are framed and escaped. Pure byte handling, no socket: the stub and the tests share it.

/** Largest packet payload accepted (and announced as PacketSize); longer ones are refused whole. */
export const MAX_PACKET = 0x4000;

export type RspEvent =
  | { kind: 'packet'; data: string }
  /** The two checksum digits did not match the payload (or were not hex). */
  | { kind: 'bad-checksum'; data: string }
  /** The payload was longer than MAX_PACKET: dropped unread. */
  | { kind: 'overlong' }
  /** Ctrl-C from gdb: a 0x03 byte outside a packet. */
  | { kind: 'interrupt' }
  /** '-': the peer wants the last reply again. */
  | { kind: 'nack' };

const HEX = /^[0-9a-fA-F]{2}$/;

/** Splits the byte stream from gdb into events; bytes are kept as latin1 (binary-safe) strings. */
export class RspReader {
  private state: 'idle' | 'data' | 'sum' = 'idle';
  private parts: string[] = [];
  private length = 0;
  private overlong = false;
  private sum = '';

  feed(chunk: Uint8Array): RspEvent[] {
    const out: RspEvent[] = [];
    let runStart = -1;
    const flushRun = (end: number): void => {
      if (runStart < 0) return;
      const n = end - runStart;
      if (!this.overlong) {
        if (this.length + n > MAX_PACKET) {
          this.overlong = true;
          this.parts = [];
        } else this.parts.push(Buffer.from(chunk.buffer, chunk.byteOffset + runStart, n).toString('latin1'));
      }
      this.length += n;
      runStart = -1;
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.state === 'data') {
        if (c === 0x23 /* # */) {
          flushRun(i);
          this.state = 'sum';
          this.sum = '';
        } else if (runStart < 0) runStart = i;
        continue;
      }
      if (this.state === 'sum') {
        this.sum += String.fromCharCode(c);
        if (this.sum.length === 2) {
          this.state = 'idle';
          if (this.overlong) out.push({ kind: 'overlong' });
          else {
            const data = this.parts.join('');
            const ok = HEX.test(this.sum) && Number.parseInt(this.sum, 16) === checksum(data);
            out.push(ok ? { kind: 'packet', data } : { kind: 'bad-checksum', data });
          }
          this.parts = [];
        }
        continue;
      }
      if (c === 0x24 /* $ */) {
        this.state = 'data';
        this.parts = [];
        this.length = 0;
        this.overlong = false;
      } else if (c === 0x03) out.push({ kind: 'interrupt' });
      else if (c === 0x2d /* - */) out.push({ kind: 'nack' });
      // '+' acknowledgements and stray bytes between packets are ignored, as gdbserver does.
    }
    if (this.state === 'data') flushRun(chunk.length);
    return out;
  }
}

/** Modulo-256 sum of the payload's bytes (latin1 string). */
export function checksum(data: string): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s = (s + data.charCodeAt(i)) & 0xff;
  return s;
}

/** `$payload#cs` with '#', '$', '}' and '*' escaped ('}' then the byte xor 0x20). */
export function frame(payload: string): string {
  const esc = payload.replace(/[#$}*]/g, (ch) => `}${String.fromCharCode(ch.charCodeAt(0) ^ 0x20)}`);
  return `$${esc}#${checksum(esc).toString(16).padStart(2, '0')}`;
}

/** Undo the binary escaping of an X packet's data. */
export function unescapeBinary(data: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x7d && i + 1 < data.length) out.push(data.charCodeAt(++i) ^ 0x20);
    else out.push(c & 0xff);
  }
  return Uint8Array.from(out);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Strict hex -> bytes (an even number of hex digits), or null. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A hex number of at most 8 digits (a 32-bit address, length or register number), or null. */
export function parseHex32(text: string): number | null {
  if (!/^[0-9a-fA-F]{1,8}$/.test(text)) return null;
  return Number.parseInt(text, 16) >>> 0;
}

/** A 32-bit value as gdb's target-order (little-endian) hex. */
export function le32Hex(v: number): string {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return toHex(b);
}

export function textHex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}
