// The gdb remote protocol's packet handlers: one packet in, the reply packets out, plus what the
// run should do next (go on, step, detach, kill). No socket and no clock here (session.ts owns
// those). Registers follow target-xml.ts; memory goes through the selected vCPU's translation
// (guest-peek.ts), so a page the guest does not map, or an address outside guest RAM, is an
// `E14` reply, never a guest fault.
// Threads are vCPUs: gdb thread n is vCPU n-1.

import { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS } from '../../cpu/cpu.js';
import type { DebugTarget } from './debug-target.js';
import { readVirtual, writeVirtual } from './guest-peek.js';
import { runMonitor } from './monitor.js';
import type { RunControl, StopEvent } from './run-control.js';
import { fromHex, le32Hex, MAX_PACKET, parseHex32, textHex, toHex, unescapeBinary } from './rsp.js';
import { REG_COUNT, REG_EFLAGS, REG_EIP, REG_FIRST_SEG, REG_FIRST_X87, regSize, TARGET_XML } from './target-xml.js';

/** Error replies: a malformed packet, no such thread/register, memory not accessible. */
export const E_BAD_PACKET = 'E01';
export const E_NO_THREAD = 'E02';
export const E_BAD_REGISTER = 'E03';
export const E_MEMORY = 'E14';

export type StubAction = 'none' | 'continue' | 'step' | 'detach' | 'kill';

export interface StubReply {
  /** Payloads to send, in order (each framed separately). */
  packets: string[];
  action: StubAction;
  /** Stop acknowledging packets once these are sent (QStartNoAckMode). */
  noAck?: boolean;
}

const SEG_ORDER = [SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS];
/** Largest m/M/X transfer: what fits a packet of MAX_PACKET as hex with room for the header. */
const MAX_MEM = (MAX_PACKET - 32) >> 1;

const reply = (...packets: string[]): StubReply => ({ packets, action: 'none' });

export class GdbStub {
  /** vCPU for g/G/p/P/m/M (Hg) and for c/s (Hc; -1: all, which steps the Hg one). */
  private gThread = 0;
  private cThread = -1;
  /** The stop reply of the last stop, for `?`. */
  private lastStop: StopEvent = { signal: 5, vcpu: 0, kind: 'interrupt' };

  constructor(
    private readonly target: DebugTarget,
    private readonly ctl: RunControl,
  ) {}

  /** The stop reply packet for a stop (and make its vCPU the current thread, as gdb expects). */
  stopReply(s: StopEvent): string {
    this.lastStop = s;
    this.gThread = s.vcpu;
    const cpu = this.target.cpus[s.vcpu]!;
    let r = `T${s.signal.toString(16).padStart(2, '0')}thread:${(s.vcpu + 1).toString(16)};`;
    if (s.kind === 'swbreak') r += 'swbreak:;';
    else if (s.kind === 'hwbreak') r += 'hwbreak:;';
    else if (s.kind === 'watch' || s.kind === 'rwatch' || s.kind === 'awatch') r += `${s.kind}:${(s.watchAddr! >>> 0).toString(16)};`;
    r += `${REG_EIP.toString(16).padStart(2, '0')}:${le32Hex(cpu.eip)};`;
    return r;
  }

  handle(data: string): StubReply {
    try {
      return this.dispatch(data);
    } catch (e) {
      if (e instanceof BadPacket) return reply(E_BAD_PACKET);
      throw e;
    }
  }

  private dispatch(p: string): StubReply {
    const c = p[0];
    switch (c) {
      case '?':
        return reply(this.stopReply(this.lastStop));
      case 'g':
        return p.length === 1 ? reply(this.readAllRegs()) : reply(E_BAD_PACKET);
      case 'G':
        return reply(this.writeAllRegs(p.slice(1)));
      case 'p': {
        const n = hex32(p.slice(1));
        return reply(regSize(n) === 0 ? E_BAD_REGISTER : this.regHex(this.gThread, n));
      }
      case 'P': {
        const eq = p.indexOf('=');
        if (eq < 0) throw new BadPacket();
        return reply(this.writeReg(hex32(p.slice(1, eq)), p.slice(eq + 1)));
      }
      case 'm':
        return reply(this.readMem(p.slice(1)));
      case 'M':
        return reply(this.writeMem(p.slice(1), false));
      case 'X':
        return reply(this.writeMem(p.slice(1), true));
      case 'c':
      case 's':
      case 'C':
      case 'S':
        return this.resume(c, p.slice(1));
      case 'Z':
      case 'z':
        return reply(this.breakpoint(c === 'Z', p.slice(1)));
      case 'H':
        return reply(this.setThread(p.slice(1)));
      case 'T': {
        const t = threadId(p.slice(1));
        return reply(t >= 0 && t < this.target.cpus.length ? 'OK' : E_NO_THREAD);
      }
      case 'k':
        return { packets: [], action: 'kill' };
      case 'D':
        this.ctl.swBreaks.clear();
        this.ctl.hwBreaks.clear();
        this.ctl.watches.length = 0;
        this.ctl.accessWatches.length = 0;
        return { packets: ['OK'], action: 'detach' };
      case 'v':
        if (p === 'vCont?') return reply('vCont;c;C;s;S');
        if (p.startsWith('vCont;')) return this.vCont(p.slice(6));
        return reply('');
      case 'q':
        return this.query(p);
      case 'Q':
        if (p === 'QStartNoAckMode') return { packets: ['OK'], action: 'none', noAck: true };
        return reply('');
      default:
        // Unknown packets get the empty reply the protocol defines for "not supported".
        return reply('');
    }
  }

  private query(p: string): StubReply {
    if (p.startsWith('qSupported')) {
      return reply(`PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+`);
    }
    if (p === 'qAttached') return reply('1');
    if (p === 'qC') return reply(`QC${(this.gThread + 1).toString(16)}`);
    if (p === 'qfThreadInfo') return reply(`m${this.target.cpus.map((_, i) => (i + 1).toString(16)).join(',')}`);
    if (p === 'qsThreadInfo') return reply('l');
    if (p.startsWith('qThreadExtraInfo,')) {
      const t = threadId(p.slice('qThreadExtraInfo,'.length));
      if (t < 0 || t >= this.target.cpus.length) return reply(E_NO_THREAD);
      const cpu = this.target.cpus[t]!;
      return reply(textHex(`vCPU ${t}${cpu.halted ? ' (halted)' : ''}`));
    }
    if (p.startsWith('qXfer:features:read:')) return reply(this.xferFeatures(p.slice('qXfer:features:read:'.length)));
    if (p.startsWith('qRcmd,')) {
      const cmd = fromHex(p.slice('qRcmd,'.length));
      if (cmd === null) return reply(E_BAD_PACKET);
      const text = runMonitor(Buffer.from(cmd).toString('utf8'), this.target, this.gThread);
      // Output in O packets of at most a few hundred bytes, then OK.
      const packets: string[] = [];
      for (let i = 0; i < text.length; i += 400) packets.push(`O${textHex(text.slice(i, i + 400))}`);
      packets.push('OK');
      return { packets, action: 'none' };
    }
    return reply('');
  }

  private xferFeatures(args: string): string {
    const m = /^([^:]*):([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})$/.exec(args);
    if (m === null) return E_BAD_PACKET;
    if (m[1] !== 'target.xml') return 'E00';
    const off = Number.parseInt(m[2]!, 16);
    const len = Math.min(Number.parseInt(m[3]!, 16), MAX_MEM);
    if (off >= TARGET_XML.length) return 'l';
    const part = TARGET_XML.slice(off, off + len);
    return `${off + len >= TARGET_XML.length ? 'l' : 'm'}${part}`;
  }

  private setThread(arg: string): string {
    const op = arg[0];
    const t = arg.slice(1);
    if (op !== 'g' && op !== 'c') return E_BAD_PACKET;
    let idx: number;
    if (t === '-1') idx = -1;
    else if (t === '0') idx = op === 'g' ? this.gThread : -1;
    else {
      idx = threadId(t);
      if (idx < 0 || idx >= this.target.cpus.length) return E_NO_THREAD;
    }
    if (op === 'g') {
      if (idx < 0) return E_NO_THREAD;
      this.gThread = idx;
    } else this.cThread = idx;
    return 'OK';
  }

  // ---- registers --------------------------------------------------------------------------

  private regValue(vcpu: number, n: number): number {
    const cpu = this.target.cpus[vcpu]!;
    if (n < 8) return cpu.regs[n]!;
    if (n === REG_EIP) return cpu.eip;
    if (n === REG_EFLAGS) return cpu.getEflags();
    if (n < REG_FIRST_X87) return cpu.sreg[SEG_ORDER[n - REG_FIRST_SEG]!]!;
    return 0; // x87: the processor has none (GUEST-ABI)
  }

  private regHex(vcpu: number, n: number): string {
    return regSize(n) === 10 ? '00'.repeat(10) : le32Hex(this.regValue(vcpu, n));
  }

  private readAllRegs(): string {
    let s = '';
    for (let n = 0; n < REG_COUNT; n++) s += this.regHex(this.gThread, n);
    return s;
  }

  /** Register n from gdb: GPRs, EIP and EFLAGS are written; a segment or x87 register only
   *  "written" with the value it has (GUEST-ABI keeps segments flat; there is no FPU). */
  private writeReg(n: number, text: string): string {
    const size = regSize(n);
    if (size === 0) return E_BAD_REGISTER;
    const bytes = fromHex(text);
    if (bytes === null || bytes.length !== size) return E_BAD_PACKET;
    if (size === 10) return bytes.every((b) => b === 0) ? 'OK' : E_BAD_REGISTER;
    const v = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) | 0;
    const cpu = this.target.cpus[this.gThread]!;
    if (n < 8) cpu.regs[n] = v;
    else if (n === REG_EIP) cpu.eip = v;
    // Only a change is written: setEflags also replaces the lazy-flags state by explicit bits.
    else if (n === REG_EFLAGS) {
      if (v !== (cpu.getEflags() | 0)) cpu.setEflags(v);
    }
    else if (this.regValue(this.gThread, n) !== v && (n < REG_FIRST_X87 || v !== 0)) return E_BAD_REGISTER;
    return 'OK';
  }

  private writeAllRegs(text: string): string {
    let want = 0;
    for (let n = 0; n < REG_COUNT; n++) want += regSize(n) * 2;
    if (text.length !== want || fromHex(text) === null) return E_BAD_PACKET;
    // Check every register first, so a refused one leaves all unchanged.
    const parts: [number, string][] = [];
    let o = 0;
    for (let n = 0; n < REG_COUNT; n++) {
      const w = regSize(n) * 2;
      parts.push([n, text.slice(o, o + w)]);
      o += w;
    }
    for (const [n, t] of parts) {
      if (n < 8 || n === REG_EIP || n === REG_EFLAGS) continue;
      const b = fromHex(t)!;
      const v = b.length === 10 ? (b.every((x) => x === 0) ? 0 : 1) : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) | 0;
      if (v !== (n >= REG_FIRST_X87 ? 0 : this.regValue(this.gThread, n))) return E_BAD_REGISTER;
    }
    for (const [n, t] of parts) if (n < 8 || n === REG_EIP || n === REG_EFLAGS) this.writeReg(n, t);
    return 'OK';
  }

  // ---- memory -----------------------------------------------------------------------------

  private addrLen(text: string): [number, number] {
    const m = /^([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})$/.exec(text);
    if (m === null) throw new BadPacket();
    return [Number.parseInt(m[1]!, 16) >>> 0, Number.parseInt(m[2]!, 16)];
  }

  private readMem(args: string): string {
    const [addr, asked] = this.addrLen(args);
    if (asked === 0) return '';
    // gdb sizes reads by PacketSize (0x2000 bytes for 0x4000): a longer one gets the first
    // MAX_MEM bytes, a short read, which gdb continues from where it ended.
    const len = Math.min(asked, MAX_MEM);
    const bytes = readVirtual(this.target.cpus[this.gThread]!, this.target.phys, addr, len);
    // A partial read answers with the bytes that could be read, as the protocol allows.
    return bytes.length === 0 ? E_MEMORY : toHex(bytes);
  }

  private writeMem(args: string, binary: boolean): string {
    const colon = args.indexOf(':');
    if (colon < 0) throw new BadPacket();
    const [addr, len] = this.addrLen(args.slice(0, colon));
    const body = args.slice(colon + 1);
    const bytes = binary ? unescapeBinary(body) : fromHex(body);
    if (bytes === null || bytes.length !== len) return E_BAD_PACKET;
    if (len === 0) return 'OK';
    const ok = writeVirtual(this.target.cpus[this.gThread]!, this.target.phys, addr, bytes);
    if (ok) this.ctl.resnapshot();
    return ok ? 'OK' : E_MEMORY;
  }

  // ---- execution --------------------------------------------------------------------------

  private resume(c: string, args: string): StubReply {
    // c [addr] / s [addr]; C sig[;addr] / S sig[;addr]: signals mean nothing to a bare machine.
    let addrText = args;
    if (c === 'C' || c === 'S') {
      const semi = args.indexOf(';');
      if (parseHex32(semi < 0 ? args : args.slice(0, semi)) === null) throw new BadPacket();
      addrText = semi < 0 ? '' : args.slice(semi + 1);
    }
    const vcpu = this.cThread >= 0 ? this.cThread : this.gThread;
    if (addrText !== '') this.target.cpus[vcpu]!.eip = hex32(addrText) | 0;
    const step = c === 's' || c === 'S';
    this.ctl.stepping = step ? vcpu : -1;
    this.ctl.stop = null;
    this.ctl.resnapshot();
    this.ctl.resumed();
    return { packets: [], action: step ? 'step' : 'continue' };
  }

  /**
   * vCont;ACTION[:THREAD]...: gdb names the thread to step (`vCont;s:2;c`: step thread 2, let
   * the others run). Without it gdb steps "the continue thread", which after a stop on another
   * vCPU is ambiguous: gdb's `thread 1` then `stepi` stepped the vCPU of the last stop. The
   * first action that applies to a thread wins for it; a step of one thread lets the others run,
   * as here every vCPU runs while one is stepped (`t` and `r` are not offered in vCont?).
   */
  private vCont(args: string): StubReply {
    let step = -1;
    let any = false;
    for (const part of args.split(';')) {
      const m = /^([cCsS])(?:[0-9a-fA-F]{2})?(?::(.+))?$/.exec(part);
      if (m === null) throw new BadPacket();
      let vcpu = -1;
      if (m[2] !== undefined && m[2] !== '-1') {
        vcpu = threadId(m[2].replace(/^p[0-9a-fA-F]+\./, ''));
        if (vcpu < 0 || vcpu >= this.target.cpus.length) return reply(E_NO_THREAD);
      }
      const isStep = m[1] === 's' || m[1] === 'S';
      if (isStep && step < 0) step = vcpu >= 0 ? vcpu : this.gThread;
      any = true;
    }
    if (!any) throw new BadPacket();
    this.ctl.stepping = step;
    this.ctl.stop = null;
    this.ctl.resnapshot();
    this.ctl.resumed();
    return { packets: [], action: step >= 0 ? 'step' : 'continue' };
  }

  /** Z/z type,addr,kind: 0 software and 1 hardware breakpoints, 2 write, 3 read and 4 access
   *  watchpoints (kind = length in bytes). */
  private breakpoint(insert: boolean, args: string): string {
    const m = /^([0-4]),([0-9a-fA-F]{1,8}),([0-9a-fA-F]{1,8})(;.*)?$/.exec(args);
    if (m === null) return E_BAD_PACKET;
    const type = Number(m[1]);
    const addr = Number.parseInt(m[2]!, 16) >>> 0;
    const kind = Number.parseInt(m[3]!, 16);
    const ctl = this.ctl;
    if (type === 0 || type === 1) {
      const set = type === 0 ? ctl.swBreaks : ctl.hwBreaks;
      if (insert) set.add(addr);
      else set.delete(addr);
      return 'OK';
    }
    if (kind < 1 || kind > 4096) return E_BAD_PACKET;
    if (type === 2) {
      if (insert) ctl.addWatch(addr, kind);
      else ctl.removeWatch(addr, kind);
      return 'OK';
    }
    const wkind = type === 3 ? 'rwatch' : 'awatch';
    const list = ctl.accessWatches;
    const at = list.findIndex((w) => w.addr === addr && w.len === kind && w.kind === wkind);
    if (insert && at < 0) list.push({ addr, len: kind, kind: wkind });
    if (!insert && at >= 0) list.splice(at, 1);
    return 'OK';
  }
}

class BadPacket extends Error {}

function hex32(text: string): number {
  const v = parseHex32(text);
  if (v === null) throw new BadPacket();
  return v;
}

/** gdb thread id (hex, positive) -> vCPU index, or -1. */
function threadId(text: string): number {
  const v = parseHex32(text);
  return v === null || v === 0 ? -1 : v - 1;
}
