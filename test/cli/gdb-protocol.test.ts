// The gdb stub at the packet level, with a small TCP client instead of gdb (so it runs without
// gdb installed): malformed input gets a clear reply and never a crash (a bad checksum a '-',
// unknown packets the empty reply, bad hex or arguments E01, no such thread E02, no such
// register E03, memory that cannot be read E14, an overlong packet E01), the target description
// and the registers agree, memory written through M reads back, Ctrl-C stops a running guest
// with T02, `k` ends the run, and bad --gdb arguments are one-line errors with status 2.
import { createServer, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { parseRunArgs } from '../../src/cli/run.js';
import { cli, expectBadInput, spawnCli, track, until } from './helpers.js';
import { comparableStats, GDBDEMO, IMAGES, startStub } from './gdb-harness.js';

/** A byte-level client: send raw bytes, read acks and `$...#cs` packets (checksums verified). */
class RspClient {
  private buf = '';
  private readonly sock: Socket;
  constructor(port: number) {
    this.sock = new Socket();
    this.sock.connect(port, '127.0.0.1');
    this.sock.on('data', (d: Buffer) => (this.buf += d.toString('latin1')));
  }
  raw(text: string): void {
    this.sock.write(Buffer.from(text, 'latin1'));
  }
  send(payload: string): void {
    let sum = 0;
    for (const ch of payload) sum = (sum + ch.charCodeAt(0)) & 0xff;
    this.raw(`$${payload}#${sum.toString(16).padStart(2, '0')}`);
  }
  /** The next ack character ('+' or '-'). */
  async ack(): Promise<string> {
    await until(() => this.buf.length > 0, 10_000, 'an ack');
    const c = this.buf[0]!;
    expect('+-').toContain(c);
    this.buf = this.buf.slice(1);
    return c;
  }
  /** The next packet's payload (acks before it are skipped). */
  async packet(): Promise<string> {
    await until(() => /\$[^#]*#[0-9a-f]{2}/.test(this.buf), 10_000, 'a packet');
    const m = /^[+-]*\$([^#]*)#([0-9a-f]{2})/.exec(this.buf)!;
    let sum = 0;
    for (const ch of m[1]!) sum = (sum + ch.charCodeAt(0)) & 0xff;
    expect(Number.parseInt(m[2]!, 16)).toBe(sum);
    this.buf = this.buf.slice(m[0].length);
    return m[1]!;
  }
  async ask(payload: string): Promise<string> {
    this.send(payload);
    return this.packet();
  }
  close(): void {
    this.sock.destroy();
  }
  /** Drop everything received up to and including the packet `payload`. */
  async skipTo(payload: string): Promise<void> {
    let sum = 0;
    for (const ch of payload) sum = (sum + ch.charCodeAt(0)) & 0xff;
    const framed = `$${payload}#${sum.toString(16).padStart(2, '0')}`;
    await until(() => this.buf.includes(framed), 10_000, framed);
    this.buf = this.buf.slice(this.buf.indexOf(framed) + framed.length);
  }
  /** Resolves true once connected, false if the connection was refused. */
  connected(): Promise<boolean> {
    return new Promise((resolve) => {
      this.sock.once('connect', () => resolve(true));
      this.sock.once('error', () => resolve(false));
    });
  }
}

const le32 = (hex: string): number => Buffer.from(hex, 'hex').readUInt32LE(0);

/** A client connected to the stub, retrying while it is not listening (yet, or again). */
async function connectRetry(port: number): Promise<RspClient> {
  for (let k = 0; ; k++) {
    const t = new RspClient(port);
    if (await t.connected()) return t;
    if (k > 100) throw new Error('could not connect to the stub');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('gdb stub protocol', () => {
  it('answers malformed and unknown packets clearly and keeps serving; registers, memory, target.xml', async () => {
    const { stub, port } = await startStub(['--mmu', 'native', GDBDEMO]);
    const c = new RspClient(port);
    expect(await c.ask('qSupported:multiprocess+;swbreak+;hwbreak+')).toMatch(/^PacketSize=4000;qXfer:features:read\+;QStartNoAckMode\+/);
    c.raw('$g#00'); // wrong checksum
    expect(await c.ack()).toBe('-');
    c.raw('$?#zz'); // checksum digits that are not hex
    expect(await c.ack()).toBe('-');
    expect(await c.ask('vFrobnicate;1')).toBe('');
    expect(await c.ask('qFrobnicate')).toBe('');
    expect(await c.ask('mZZZ,4')).toBe('E01');
    expect(await c.ask('m100000')).toBe('E01');
    expect(await c.ask('m123456789,4')).toBe('E01'); // more than 32 bits
    expect(await c.ask('M100000,2:zz11')).toBe('E01');
    expect(await c.ask('M100000,4:0011')).toBe('E01'); // length and data disagree
    expect(await c.ask('G1234')).toBe('E01');
    expect(await c.ask('p99')).toBe('E03');
    expect(await c.ask('pxyz')).toBe('E01');
    expect(await c.ask('Hg7')).toBe('E02'); // one vCPU: thread 1 only
    expect(await c.ask('T2')).toBe('E02');
    expect(await c.ask('T1')).toBe('OK');
    expect(await c.ask('Z3,100000,4')).toBe('OK');
    expect(await c.ask('z3,100000,4')).toBe('OK');
    expect(await c.ask('Z4,100000,0')).toBe('E01'); // a watchpoint of no bytes
    expect(await c.ask('Z9,100000,1')).toBe('E01');
    expect(await c.ask('qRcmd,zz')).toBe('E01');
    c.send(`X100000,1:${'A'.repeat(20000)}`); // longer than PacketSize
    expect(await c.packet()).toBe('E01');
    // Before the first instruction: EIP at the image's entry, paging off, flat selectors.
    const stop = await c.ask('?');
    expect(stop).toMatch(/^T05thread:1;08:([0-9a-f]{8});$/);
    const g = await c.ask('g');
    expect(g).toHaveLength(16 * 8 + 8 * 20 + 8 * 8);
    expect(le32(g.slice(8 * 8, 9 * 8))).toBe(0x10000c); // eip (target.xml order)
    expect(le32(g.slice(0, 8))).toBe(0x2badb002); // eax: the Multiboot magic
    expect(le32(g.slice(10 * 8, 11 * 8))).toBe(0x10); // cs
    expect(await c.ask('p8')).toBe(g.slice(64, 72));
    // Outside guest RAM (64M): E14, and nothing faults.
    expect(await c.ask('m7fff000,4')).toBe('E14');
    // The target description, read in pieces, is the i386 core feature in g-packet order.
    let xml = '';
    for (let off = 0; ; ) {
      const part = await c.ask(`qXfer:features:read:target.xml:${off.toString(16)},200`);
      expect(part[0]).toMatch(/[ml]/);
      xml += part.slice(1);
      off += part.length - 1;
      if (part[0] === 'l') break;
    }
    expect(xml).toContain('<architecture>i386</architecture>');
    const regs = [...xml.matchAll(/<reg name="(\w+)"/g)].map((m) => m[1]);
    expect(regs.slice(0, 16)).toEqual(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']);
    expect(await c.ask('qXfer:features:read:other.xml:0,100')).toBe('E00');
    // Memory and register writes read back; segment registers stay flat.
    expect(await c.ask('M200000,4:deadbeef')).toBe('OK');
    expect(await c.ask('m200000,4')).toBe('deadbeef');
    expect(await c.ask('X200004,2:\x7d\x5d!')).toBe('OK'); // '}' escapes 0x7d: bytes 7d 21
    expect(await c.ask('m200004,2')).toBe('7d21');
    expect(await c.ask('P0=78563412')).toBe('OK');
    expect(await c.ask('p0')).toBe('78563412');
    expect(await c.ask('Pa=08000000')).toBe('E03'); // cs := 8: refused
    expect(await c.ask('P0=02b0ad2b')).toBe('OK'); // the magic back, so the guest runs as usual
    // monitor output: O packets (hex text), then OK.
    let text = '';
    for (let p = await c.ask(`qRcmd,${Buffer.from('help').toString('hex')}`); p !== 'OK'; p = await c.packet()) {
      expect(p).toMatch(/^O[0-9a-f]+$/);
      text += Buffer.from(p.slice(1), 'hex').toString();
    }
    expect(text).toMatch(/^ {2}monitor translate ADDR/m);
    // QStartNoAckMode: no more acks, replies still framed.
    expect(await c.ask('QStartNoAckMode')).toBe('OK');
    expect(await c.ask('qC')).toBe('QC1');
    // Seeded garbage (packet starts, stray '#', Ctrl-C, nacks, binary) and then a packet
    // terminator: the stub answers the next query (after whatever replies the garbage earned).
    let seed = 12345;
    const garbage: number[] = [];
    for (let k = 0; k < 4000; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const b = seed >>> 16;
      garbage.push(b % 7 === 0 ? 0x24 : b % 11 === 0 ? 0x23 : b & 0xff);
    }
    c.raw(Buffer.from(garbage).toString('latin1') + '#00');
    await new Promise((r) => setTimeout(r, 200));
    c.send('qC');
    await c.skipTo('QC1');
    // The server survived all of that: continue to the guest's exit.
    expect(await c.ask('c')).toBe('W00');
    const end = await stub.done;
    c.close();
    expect(end.status).toBe(0);
    expect(stub.stdout).toMatch(/^gdbdemo: counter=55 checksum=b96b69a\ngdbdemo: PASS$/m);
  });

  it('Ctrl-C stops a running guest with T02; k ends the run (status 130, one line)', async () => {
    const { stub, port } = await startStub([`${IMAGES}/cpubench.elf`]);
    const c = new RspClient(port);
    expect(await c.ask('?')).toMatch(/^T05thread:1;/);
    c.send('c');
    await c.ack();
    await new Promise((r) => setTimeout(r, 300));
    c.raw('\x03');
    expect(await c.packet()).toMatch(/^T02thread:1;08:[0-9a-f]{8};$/);
    const eip = le32((await c.ask('p8')) ?? '');
    expect(eip).toBeGreaterThanOrEqual(0x100000);
    c.send('k');
    const end = await stub.done;
    c.close();
    expect(end.status).toBe(130);
    expect(stub.stderr).toMatch(/^shadowvisor: killed from gdb after \d+ instructions$/m);
  });

  it('without --gdb-wait: a debugger that attaches mid-run stops the guest, one that detaches lets it run on, and the run is the same', async () => {
    const args = ['--stats', '--json', `${IMAGES}/cpubench-short.elf`];
    const busy = createServer();
    const port = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)));
    await new Promise((r) => busy.close(r));
    const stub = track(spawnCli(['run', '--gdb', String(port), ...args]));
    await until(() => stub.stdout.includes('cpubench-short: start'), 30_000, 'the guest to start');
    const c = await connectRetry(port);
    expect(await c.ask('?')).toMatch(/^T05thread:1;08:[0-9a-f]{8};$/);
    expect(await c.ask('g')).toHaveLength(16 * 8 + 8 * 20 + 8 * 8);
    expect(await c.ask('D')).toBe('OK');
    const end = await stub.done;
    c.close();
    expect(end.status, stub.stderr).toBe(0);
    const plain = cli(['run', ...args], { encoding: 'latin1' });
    expect(stub.stdout).toBe(plain.stdout);
    expect(comparableStats(stub.stderr)).toEqual(comparableStats(plain.stderr));
    const debugged = JSON.parse(stub.stderr.trimEnd().split('\n').pop()!) as { tlbHits: number };
    expect(debugged.tlbHits).toBe((JSON.parse(plain.stderr.trimEnd().split('\n').pop()!) as { tlbHits: number }).tlbHits); // no breakpoint: not even those differ
  });

  it('a debugger that goes away while the guest is stopped leaves it stopped; the next one finds it where it was', async () => {
    const { stub, port } = await startStub([`${IMAGES}/hello.elf`]);
    const a = new RspClient(port);
    expect(await a.ask('?')).toMatch(/^T05thread:1;/);
    const eip = await a.ask('p8');
    a.close(); // no D: gdb killed
    await until(() => stub.stderr.includes('gdb went away with the guest stopped'), 10_000, 'the stub to notice');
    await new Promise((r) => setTimeout(r, 500));
    expect(stub.stdout, 'the guest ran on').toBe('');
    const b = await connectRetry(port);
    expect(await b.ask('?')).toMatch(/^T05thread:1;/);
    expect(await b.ask('p8')).toBe(eip);
    expect(await b.ask('D')).toBe('OK');
    const end = await stub.done;
    b.close();
    expect(end.status, stub.stderr).toBe(0);
    expect(stub.stdout).toMatch(/^hello: PASS$/m);
  });

  it('vCont: offered, a step of a named thread reports that thread, bad actions and threads are errors', async () => {
    const { stub, port } = await startStub(['--vcpus', '2', '--cmdline', 'vcpus=2', `${IMAGES}/smp.elf`]);
    const c = new RspClient(port);
    expect(await c.ask('vCont?')).toBe('vCont;c;C;s;S');
    expect(await c.ask('vCont;x')).toBe('E01');
    expect(await c.ask('vCont;s:3;c')).toBe('E02');
    expect(await c.ask('vCont;s:2;c')).toMatch(/^T05thread:2;/);
    expect(await c.ask('vCont;s:p1.1;c')).toMatch(/^T05thread:1;/);
    c.send('k');
    await stub.done;
    c.close();
  });

  it('bad --gdb arguments and a port in use: one line, status 2', async () => {
    // The parser's UsageErrors become one line and status 2 in main.ts (test/cli/cli.test.ts).
    expect(() => parseRunArgs(['--gdb', '0', GDBDEMO])).toThrow(new UsageError("--gdb: expected 1 to 65535, got '0'"));
    expect(() => parseRunArgs(['--gdb', '70000', GDBDEMO])).toThrow(/^--gdb: expected 1 to 65535/);
    expect(() => parseRunArgs(['--gdb-wait', GDBDEMO])).toThrow(new UsageError('--gdb-wait needs --gdb PORT'));
    expectBadInput(cli(['run', '--gdb', 'abc', GDBDEMO]), /--gdb: expected a non-negative integer, got 'abc'/);
    const busy = createServer();
    const port = await new Promise<number>((resolve) =>
      busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
    );
    try {
      expectBadInput(cli(['run', '--gdb', String(port), GDBDEMO]), new RegExp(`--gdb: port ${port} on 127.0.0.1 is already in use`));
    } finally {
      busy.close();
    }
  });
});
