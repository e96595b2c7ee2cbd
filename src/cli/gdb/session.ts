// `run --gdb PORT`: the TCP side of the gdb stub (the only part that touches node:net), and its
// place in the run loop. One debugger at a time on 127.0.0.1. Packets are handled whenever the
// run loop returns to the event loop (between chunks of guest work, where the machine is
// consistent); `c` and `s` let the loop go on, and a stop found by RunControl (or a Ctrl-C from
// gdb) ends the chunk early and is reported with a stop reply. Like QEMU's gdbstub, a debugger
// that connects stops the guest, one that detaches lets it run on, and one that goes away
// without detaching leaves it as it was: running, or stopped for the next debugger.

import { createServer, type Server, type Socket } from 'node:net';
import type { RunResult } from '../../machine/run-loop.js';
import { EXIT_STATUS_INTERRUPTED } from '../../obs/exit-status.js';
import { UsageError } from '../args.js';
import { writeStderr } from '../output.js';
import type { StopSignals } from '../stop-signals.js';
import type { DebugTarget } from './debug-target.js';
import { RunControl } from './run-control.js';
import { frame, RspReader } from './rsp.js';
import { E_BAD_PACKET, GdbStub, type StubReply } from './stub.js';

export class GdbSession {
  readonly ctl: RunControl;
  private readonly stub: GdbStub;
  private client: Socket | null = null;
  private reader = new RspReader();
  private noAck = false;
  private lastFrame = '';
  /** The guest may run (false: stopped for the debugger). */
  private running: boolean;
  /** gdb is waiting for a stop reply (after c/s or a Ctrl-C). */
  private replyDue = false;
  private killRequested = false;
  private wake: (() => void) | null = null;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    target: DebugTarget,
    wait: boolean,
  ) {
    this.ctl = new RunControl(target.cpus, target.phys);
    this.stub = new GdbStub(target, this.ctl);
    this.running = !wait;
    server.on('connection', (s) => this.accept(s));
  }

  /** Listen on 127.0.0.1:port; a port in use or not allowed is a one-line UsageError. */
  static async listen(port: number, target: DebugTarget, wait: boolean): Promise<GdbSession> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'may not be used by this user' : `cannot be listened on (${e.code ?? e.message})`;
        reject(new UsageError(`--gdb: port ${port} on 127.0.0.1 ${why}`));
      });
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve());
    });
    server.on('error', (e) => writeStderr(`shadowvisor: gdb: ${e.message}\n`));
    const s = new GdbSession(server, port, target, wait);
    if (wait) writeStderr(`shadowvisor: waiting for gdb on 127.0.0.1:${port} (in gdb: target remote :${port})\n`);
    return s;
  }

  private accept(sock: Socket): void {
    if (this.client !== null) {
      sock.end(); // one debugger at a time
      return;
    }
    this.client = sock;
    this.reader = new RspReader();
    this.noAck = false;
    sock.setNoDelay(true);
    // A debugger that attaches stops the guest where it is (reported when gdb asks with `?`).
    if (this.running) this.ctl.pauseRequested = true;
    sock.on('data', (chunk: Buffer) => this.receive(chunk));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (this.client !== sock) return;
      this.client = null;
      // Gone without detaching: its breakpoints go with it. A guest that was running runs on; one
      // stopped for the debugger stays stopped for the next one, as under QEMU's gdbstub (a gdb
      // that crashed must not let the guest run past the point being inspected).
      this.ctl.swBreaks.clear();
      this.ctl.hwBreaks.clear();
      this.ctl.watches.length = 0;
      this.ctl.accessWatches.length = 0;
      this.ctl.stepping = -1;
      this.ctl.pauseRequested = false;
      this.replyDue = false;
      if (this.running) this.resume();
      else writeStderr(`shadowvisor: gdb went away with the guest stopped; it stays stopped: waiting for gdb on 127.0.0.1:${this.port} (Ctrl-C ends the run)\n`);
    });
  }

  private send(payload: string): void {
    const f = frame(payload);
    this.lastFrame = f;
    this.client?.write(f, 'latin1');
  }

  private receive(chunk: Buffer): void {
    for (const ev of this.reader.feed(chunk)) {
      const sock = this.client;
      if (sock === null) return;
      switch (ev.kind) {
        case 'interrupt':
          if (this.running) {
            this.ctl.pauseRequested = true;
            this.replyDue = true;
          }
          break;
        case 'nack':
          if (this.lastFrame !== '') sock.write(this.lastFrame, 'latin1');
          break;
        case 'bad-checksum':
          if (this.noAck) this.send(E_BAD_PACKET);
          else sock.write('-');
          break;
        case 'overlong':
          if (!this.noAck) sock.write('+');
          this.send(E_BAD_PACKET);
          break;
        case 'packet': {
          if (!this.noAck) sock.write('+');
          let r: StubReply;
          try {
            r = this.stub.handle(ev.data);
          } catch (e) {
            // A stub bug must not take the VM down with it: say so once and answer E01.
            writeStderr(`shadowvisor: gdb: internal error on packet '${ev.data.slice(0, 40)}': ${(e as Error).message}\n`);
            r = { packets: [E_BAD_PACKET], action: 'none' };
          }
          for (const p of r.packets) this.send(p);
          if (r.noAck) this.noAck = true;
          this.act(r.action);
          break;
        }
      }
    }
  }

  private act(action: string): void {
    if (action === 'continue' || action === 'step') {
      this.replyDue = true;
      this.resume();
    } else if (action === 'detach') {
      this.ctl.stepping = -1;
      this.client?.end();
      this.resume();
    } else if (action === 'kill') {
      this.killRequested = true;
      this.client?.end();
      this.wake?.();
    }
  }

  private resume(): void {
    this.running = true;
    this.wake?.();
  }

  /** Before a chunk of guest work: wait while the debugger holds the guest. */
  async gate(signals: StopSignals): Promise<'run' | 'kill'> {
    for (;;) {
      if (this.killRequested) return 'kill';
      if (this.running || signals.signal !== null) return 'run';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** After a chunk: a stop RunControl found, or a pause asked for, makes the guest wait. */
  afterChunk(): void {
    const ctl = this.ctl;
    if (ctl.stop === null && !ctl.pauseRequested) return;
    const stop = ctl.stop ?? { signal: this.replyDue ? 2 : 5, vcpu: 0, kind: 'interrupt' as const };
    ctl.stop = null;
    ctl.pauseRequested = false;
    ctl.stepping = -1;
    this.running = false;
    const reply = this.stub.stopReply(stop);
    if (this.replyDue && this.client !== null) this.send(reply);
    this.replyDue = false;
  }

  /** The result of a run ended by gdb's `k`. */
  static killed(instructions: number, vtime: number, eip: number): RunResult {
    return {
      exitCode: EXIT_STATUS_INTERRUPTED,
      reason: 'interrupted' as RunResult['reason'],
      message: `killed from gdb after ${instructions} instructions`,
      instructions,
      vtime,
      eip,
    };
  }

  /** The run is over: tell gdb how it ended (W: exit status) and stop listening. */
  async close(r: RunResult | null): Promise<void> {
    const sock = this.client;
    if (sock !== null && r !== null && !this.killRequested) {
      this.send(`W${(r.exitCode & 0xff).toString(16).padStart(2, '0')}`);
      await new Promise<void>((resolve) => sock.end(resolve));
    }
    sock?.destroy();
    this.client = null;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
