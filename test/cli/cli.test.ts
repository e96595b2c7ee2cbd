// Spawns the built CLI (dist/shadowvisor.mjs) the way users and scripts run it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_HLT, SPIN, buildElf, printAndExit, tinyGuest } from '../machine/tiny-elf.js';
import { EXIT_STATUSES } from '../../src/obs/exit-status.js';
import { nullLogger } from '../../src/obs/log.js';
import { hostFor } from '../../src/sim/run-guest.js';
import { BIN, ROOT, cli as runCli, expectBadInput, tempDir } from './helpers.js';

let dir = '';

const cli = (args: string[], input?: string) => runCli(args, { input, encoding: 'latin1', timeout: 60_000 });

function img(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const MOV_DX_COM1 = [0x66, 0xba, 0xf8, 0x03];
const EXIT0 = [0xb8, 0, 0, 0, 0, 0xe7, 0xf4, 0xf4];

beforeAll(() => {
  dir = tempDir('cli');
});

describe('exit statuses', () => {
  it('run --help and the main usage list every status of the one table', () => {
    const run = cli(['run', '--help']).stdout;
    const main = cli(['help']).stdout;
    for (const e of EXIT_STATUSES) {
      const line = new RegExp(`\\n\\s+${e.status}  ${e.meaning.replace(/[()]/g, '\\$&')}\\n`);
      expect(run, String(e.status)).toMatch(line);
      expect(main, String(e.status)).toMatch(line);
    }
  });
});

describe('help', () => {
  it('-h/--help on every command, and help COMMAND', () => {
    for (const args of [['--help'], ['-h'], ['help'], ['run', '--help'], ['run', '-h'], ['bench', '--help'], ['demo', '--help'], ['help', 'run']]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: shadowvisor/);
      expect(r.stderr).toBe('');
    }
    expect(cli(['run', '--help']).stdout).toMatch(/--max-insns N/);
    expect(cli(['bench', '--help']).stdout).toMatch(/\bcpu\b/);
  });
});

describe('bad command lines: one line on stderr, exit status 2', () => {
  it('no command prints the usage on stderr with status 2; --version', () => {
    const r = cli([]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: shadowvisor COMMAND/);
    expect(r.stderr).toMatch(/\n\s+run IMAGE/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const v = cli([flag]);
      expect(v.status).toBe(0);
      expect(v.stdout).toBe(`shadowvisor ${pkg.version}\n`);
    }
  });

  it('unknown command, unknown help topic', () => {
    expectBadInput(cli(['frobnicate']), /unknown command 'frobnicate'/);
    expectBadInput(cli(['help', 'frobnicate']), /unknown command 'frobnicate'/);
  });

  it('unknown flags, missing IMAGE, extra arguments', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    expectBadInput(cli(['run', '--frob', good]), /run: Unknown option '--frob'/);
    expectBadInput(cli(['run']), /missing IMAGE/);
    expectBadInput(cli(['run', good, 'extra']), /unexpected argument 'extra'/);
    expectBadInput(cli(['run', '--mem']), /--mem/);
    expectBadInput(cli(['demo', '--nope']), /demo: Unknown option/);
    expectBadInput(cli(['bench', 'nope']), /unknown benchmark 'nope'/);
    expectBadInput(cli(['bench', 'all', 'csmith', '--programs', '2']), /^shadowvisor: bench all: 'csmith' is a benchmark: name it first \('bench csmith \.\.\.'\)/);
  });

  it('bad sizes and numbers', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    expectBadInput(cli(['run', '--mem', '12X', good]), /--mem: bad size '12X'/);
    expectBadInput(cli(['run', '--mem', '1M', good]), /--mem: 1M is out of range/);
    expectBadInput(cli(['run', '--mem', '3G', good]), /out of range/);
    expectBadInput(cli(['run', '--mem', '4097K', good]), /multiple of 4K/);
    expectBadInput(cli(['run', '--max-insns', '-5', good]), /max-insns/);
    expectBadInput(cli(['run', '--max-insns', 'many', good]), /--max-insns: expected a non-negative integer/);
    expectBadInput(cli(['run', '--seed', '1.5', good]), /--seed/);
    expectBadInput(cli(['run', '--log-level', 'loud', good]), /--log-level/);
    expectBadInput(cli(['run', '--json', good]), /--json needs --stats/);
  });

  it('negative numbers get the flag\'s own message, not the parser\'s "argument is ambiguous"', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    for (const [args, pattern] of [
      [['--mem', '-5'], /--mem: bad size '-5' \(a size cannot be negative/],
      [['--seed', '-1'], /--seed: expected a non-negative integer, got '-1' \(negative numbers are not allowed\)/],
      [['--host-mem', '-64M'], /--host-mem: bad size '-64M'/],
      [['--max-insns', '-5'], /--max-insns: expected a non-negative integer, got '-5'/],
      [['--vcpus', '-2'], /--vcpus: expected a non-negative integer/],
    ] as [string[], RegExp][]) {
      const r = cli(['run', ...args, good]);
      expectBadInput(r, pattern);
      expect(r.stderr).not.toMatch(/ambiguous/);
    }
    expectBadInput(cli(['trace', '--gfn', '-3', good]), /--gfn: expected a non-negative integer/);
    expectBadInput(cli(['demo', '--seed', '-1']), /--seed: expected a non-negative integer/);
  });

  it('sizes read the same everywhere: 16M, 16MiB, 16MB, 16384K', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    for (const size of ['16M', '16MiB', '16MB', '16384K', '16777216']) {
      const r = cli(['run', '--mem', size, '--stats', '--json', good]);
      expect(r.status, `${size}: ${r.stderr}`).toBe(0);
    }
  });

  it('--mmu and --mode: both MMUs run the guest, unknown values and misplaced flags are refused', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    for (const mmu of ['shadow', 'tdp', 'native']) {
      const r = cli(['run', '--mmu', mmu, good]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('ok');
    }
    for (const mode of ['notifier', 'pin', 'none']) expect(cli(['run', '--mode', mode, good]).stdout).toBe('ok');
    expectBadInput(cli(['run', '--mmu', 'ept', good]), /--mmu: unknown MMU 'ept' \(shadow, tdp or native\)/);
    expectBadInput(cli(['run', '--mode', 'hope', good]), /--mode: unknown mode 'hope'/);
    expectBadInput(cli(['run', '--mmu', 'native', '--ksm', good]), /--ksm needs --mmu shadow/);
    expectBadInput(cli(['run', '--vcpus', '0', good]), /--vcpus: expected 1 to 64/);
    expectBadInput(cli(['run', '--host-mem', '1K', good]), /--host-mem: 1K is out of range/);
  });

  it('--host-mem above the 4G a simulated host can have is refused by the flag, naming its range', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    for (const size of ['5G', '16G']) expectBadInput(cli(['run', '--host-mem', size, good]), new RegExp(`^shadowvisor: --host-mem: ${size} is out of range \\(64K to 4G, a multiple of 4K\\)\n$`));
  });

  it('guest memory larger than host RAM + swap is refused before anything runs', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    expectBadInput(cli(['run', '--mem', '64M', '--host-mem', '16M', '--swap', '8M', good]), /guest memory \(64 MiB\) is larger than the host can ever hold/);
  });

  it('an image or --input that never ends is refused with one line, not read until memory runs out', () => {
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    expectBadInput(cli(['run', '--input', '/dev/zero', good]), /input '\/dev\/zero' is larger than 64M/);
    expectBadInput(cli(['run', '/dev/zero']), /image '\/dev\/zero' is larger than 256M/);
    // An endless pipe on stdin: `yes | shadowvisor run --input - IMAGE`.
    const r = spawnSync('bash', ['-c', `yes | "${process.execPath}" "${BIN}" run --input - "${good}"; echo "status=$?" >&2`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^shadowvisor: input '-' is larger than 64M \(the most shadowvisor reads\)\nstatus=2\n$/);
  });

  it('missing files and directories', () => {
    expectBadInput(cli(['run', join(dir, 'nope.elf')]), /cannot read image '.*nope\.elf': no such file/);
    expectBadInput(cli(['run', dir]), /is a directory/);
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    expectBadInput(cli(['run', '--input', join(dir, 'nope.txt'), good]), /cannot read input/);
  });

  it('a FIFO nobody writes to is read as empty, not waited on for ever (image: refused; --input: no bytes)', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectBadInput(cli(['run', fifo]), /fifo: empty file, not an ELF image/);
    const good = img('ok.elf', tinyGuest(printAndExit('ok', 0)));
    const r = cli(['run', '--input', fifo, good]);
    expect([r.status, r.stdout]).toEqual([0, 'ok']);
  });

  it('bench cpu --image: a malformed image, a directory or a missing file is one line and status 2', () => {
    expectBadInput(cli(['bench', 'cpu', '--image', img('junk.elf', new Uint8Array(64)), '--runs', '1']), /bench cpu: .*junk\.elf: not an ELF image/);
    expectBadInput(cli(['bench', 'cpu', '--image', dir, '--runs', '1']), /is a directory/);
    expectBadInput(cli(['bench', 'cpu', '--image', join(dir, 'nope.elf'), '--runs', '1']), /not found/);
  });
});

describe('bad images: one line naming the problem, exit status 2', () => {
  const code = printAndExit('x', 0);
  const cases: [string, Uint8Array, RegExp][] = [
    ['random bytes', new Uint8Array(4096).map((_, i) => (i * 7919 + 13) & 0xff), /not an ELF image \(bad magic\)/],
    ['truncated ELF', tinyGuest(code).subarray(0, 40), /truncated ELF header/],
    ['wrong machine', buildElf({ segments: [{ paddr: 0x100000, data: code }], entry: 0x100000, machine: 62 }), /wrong ELF machine 62/],
    ['no multiboot', buildElf({ segments: [{ paddr: 0x100000, data: code }], entry: 0x100000, multiboot: null }), /no Multiboot header/],
    ['outside RAM', buildElf({ segments: [{ paddr: 0x4000000, data: code }], entry: 0x4000000 }), /outside guest RAM \(64 MiB\)/],
  ];
  for (const [name, bytes, pattern] of cases) {
    it(name, () => {
      expectBadInput(cli(['run', img(`${name.replace(/ /g, '-')}.elf`, bytes)]), pattern);
    });
  }

  it('a segment inside 64 MiB but outside --mem 4M', () => {
    const f = img('hi-seg.elf', buildElf({ segments: [{ paddr: 0x800000, data: code }], entry: 0x800000 }));
    expectBadInput(cli(['run', '--mem', '4M', f]), /outside guest RAM \(4 MiB\)/);
  });
});

describe('running guests', () => {
  it('guest serial output on stdout, nothing else; exit status from the exit device', () => {
    const r = cli(['run', img('hi.elf', tinyGuest(printAndExit('hello, world\n', 7)))]);
    expect(r.stdout).toBe('hello, world\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(7);
  });

  it('--max-insns: exit status 4 with a message', () => {
    const r = cli(['run', '--max-insns', '100000', img('spin.elf', tinyGuest(SPIN))]);
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^shadowvisor: instruction budget of 100000 exhausted at EIP 0x00100000\n$/);
  });

  it('HLT with interrupts disabled: exit status 1 with a message', () => {
    const r = cli(['run', img('clihlt.elf', tinyGuest(CLI_HLT))]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/HLT with interrupts disabled \(IF=0\)/);
  });

  it('triple fault: exit status 3 naming vector and EIP', () => {
    // lidt [0x100008] (a zero-limit IDT); int3 -> #GP -> #DF -> triple fault.
    const code = new Uint8Array([0x0f, 0x01, 0x1d, 0x08, 0x00, 0x10, 0x00, 0xcc, 0, 0, 0, 0, 0, 0]);
    const r = cli(['run', img('triple.elf', tinyGuest(code))]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^shadowvisor: triple fault: vector \d+ at EIP 0x[0-9a-f]{8}\n$/);
  });

  it('--input feeds COM1 receive; stdin only with --input -', () => {
    // mov dx,0x3f8; 3 x (in al,dx; out dx,al); exit 0
    const code = new Uint8Array([...MOV_DX_COM1, 0xec, 0xee, 0xec, 0xee, 0xec, 0xee, ...EXIT0]);
    const f = img('echo.elf', tinyGuest(code));
    const inFile = join(dir, 'in.txt');
    writeFileSync(inFile, 'abc');
    expect(cli(['run', '--input', inFile, f]).stdout).toBe('abc');
    expect(cli(['run', '--input', '-', f], 'xyz').stdout).toBe('xyz');
    // Without --input, stdin is never read: RBR gives zeros even though stdin has bytes.
    expect(cli(['run', f], 'xyz').stdout).toBe('\0\0\0');
  });

  it('--cmdline reaches the guest through the Multiboot info (EBX)', () => {
    // mov esi,[ebx+16]; mov dx,0x3f8; l: lodsb; test al,al; jz done; out dx,al; jmp l; done: exit 0
    const code = new Uint8Array([0x8b, 0x73, 0x10, ...MOV_DX_COM1, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, ...EXIT0]);
    const r = cli(['run', '--cmdline', 'quiet answer=42', img('cmdline.elf', tinyGuest(code))]);
    expect(r.stdout).toBe('quiet answer=42');
    expect(r.status).toBe(0);
  });

  it('--stats prints a table on stderr; --stats --json one JSON object with the schema', () => {
    const f = img('hi2.elf', tinyGuest(printAndExit('hi', 0)));
    const t = cli(['run', '--stats', f]);
    expect(t.stdout).toBe('hi');
    expect(t.stderr).toMatch(/instructions retired\s+\d+/);
    expect(t.stderr).toMatch(/MIPS\s+[\d.]+/);
    expect(t.stderr).toMatch(/TLB hits/);
    const j = cli(['run', '--stats', '--json', f]);
    expect(j.stdout).toBe('hi');
    expect(j.status).toBe(0);
    const lines = j.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const s = JSON.parse(lines[0]!);
    expect(Number.isInteger(s.instructions)).toBe(true);
    expect(s.instructions).toBe(1 + 2 * 2 + 2); // mov dx; 2 x (mov al; out); mov eax; out
    expect(typeof s.seconds).toBe('number');
    expect(typeof s.mips).toBe('number');
    expect(s.tlbHits + s.tlbMisses).toBeGreaterThanOrEqual(0);
    expect(s.exitCode).toBe(0);
    expect(s.reason).toBe('exit');
    expect(typeof s.exceptions).toBe('object');
  });

  it('| head: a closed stdout ends the run quietly, no EPIPE crash', () => {
    // mov dx,0x3f8; l: mov al,'y'; out dx,al; mov al,10; out dx,al; jmp l
    const f = img('yes.elf', tinyGuest(new Uint8Array([...MOV_DX_COM1, 0xb0, 0x79, 0xee, 0xb0, 0x0a, 0xee, 0xeb, 0xf8])));
    const errFile = join(dir, 'yes.err');
    const r = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${BIN}" run --max-insns 200000000 "${f}" 2>"${errFile}" | head -n 2; echo "status=\${PIPESTATUS[0]}"`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stdout).toBe('y\ny\nstatus=141\n');
    expect(readFileSync(errFile, 'utf8')).toBe('');
  });

  it('demo boots guest-images/hello.elf', () => {
    const r = cli(['demo']);
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
  });

  it('the bundle finds guest-images/ from another working directory', () => {
    const other = join(dir, 'cwd');
    mkdirSync(other, { recursive: true });
    // Finding and loading the image is what is checked here (the whole demo runs in the test
    // above), so the VMs stop after the fewest instructions demo allows.
    const r = spawnSync(process.execPath, [BIN, 'demo', '--insns', '1000'], { cwd: other, encoding: 'latin1', timeout: 60_000 });
    expect(r.status).toBe(0);
  });

  it('a bundle copied away from guest-images/: demo and web say so in one line, status 2, and web makes no directory', () => {
    const away = tempDir('bundle-away');
    const bin = join(away, 'shadowvisor.mjs');
    writeFileSync(bin, readFileSync(BIN));
    for (const args of [['demo', '--insns', '1000'], ['web', '--out', join(away, 'w')]]) {
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: away, encoding: 'latin1', timeout: 60_000 });
      expectBadInput(r as Parameters<typeof expectBadInput>[0], /cannot read image '.*memhog\.elf': no such file/);
    }
    expect(existsSync(join(away, 'w'))).toBe(false);
  });
});

describe('the default --host-mem means no pressure', () => {
  it('for every guest size, a guest touching all its RAM leaves the host above its high watermark', () => {
    for (const mib of [2, 64, 336, 512, 1024]) {
      const host = hostFor({ memBytes: mib << 20, log: nullLogger });
      const freeAfter = host.ft.nrFree - (mib << 20) / 4096;
      expect(freeAfter, `${mib} MiB`).toBeGreaterThan(host.wmarkHigh);
    }
  });

  it('a 512M guest writing all of its RAM runs with no swap-out and no kswapd', () => {
    // mov edi, 2M; mov ecx, (512M - 2M) / 4; mov eax, 1; cld; rep stosd; xor eax, eax; out 0xf4, eax
    const mem = 512 << 20;
    const le = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
    const code = [0xbf, ...le(0x200000), 0xb9, ...le((mem - 0x200000) / 4), 0xb8, 1, 0, 0, 0, 0xfc, 0xf3, 0xab, 0x31, 0xc0, 0xe7, 0xf4, 0xf4];
    const r = cli(['run', '--mem', '512M', '--stats', '--json', img('fill512.elf', tinyGuest(new Uint8Array(code)))]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stderr);
    expect(s.host.zeroFills).toBeGreaterThan((mem - 0x200000) / 4096 - 1); // it did touch every page
    expect(s.host.swapOuts).toBe(0);
    expect(s.host.kswapdRuns).toBe(0);
  });
});

describe('determinism and benchmarks', () => {
  it('the same image and options give the same output and statistics (pagetest uses the PIT)', () => {
    const a = cli(['run', '--stats', '--json', 'guest-images/pagetest.elf']);
    const b = cli(['run', '--stats', '--json', 'guest-images/pagetest.elf']);
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const sa = JSON.parse(a.stderr);
    const sb = JSON.parse(b.stderr);
    expect(sa.haltedTicks).toBeGreaterThan(0); // it slept waiting for timer interrupts
    for (const k of ['instructions', 'vtime', 'haltedTicks', 'tlbHits', 'tlbMisses', 'exceptions']) {
      expect(sa[k], k).toEqual(sb[k]);
    }
  });

  it('under memory pressure the same seed gives identical counters; another seed another interleaving', () => {
    const args = ['run', '--stats', '--json', '--host-mem', '512K', 'guest-images/pagestress.elf'];
    const a = cli([...args, '--seed', '1']);
    const b = cli([...args, '--seed', '1']);
    const c = cli([...args, '--seed', '2']);
    for (const r of [a, b, c]) expect(r.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(c.stdout).toBe(a.stdout); // the guest cannot tell
    const strip = (t: string) => {
      const o = JSON.parse(t);
      delete o.seconds;
      delete o.mips;
      return o;
    };
    const [sa, sb, sc] = [a, b, c].map((r) => strip(r.stderr));
    expect(sa).toEqual(sb);
    expect(sa.host.swapOuts).toBeGreaterThan(0);
    expect(sa.kvm.invalidations).toBeGreaterThan(0);
    expect(JSON.stringify(sc.kvm) + JSON.stringify(sc.host)).not.toBe(JSON.stringify(sa.kvm) + JSON.stringify(sa.host));
  });

  it('bench cpu --short --json: one line per run with matching checksums, plus QEMU when installed', () => {
    const r = cli(['bench', 'cpu', '--short', '--runs', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    const runs = lines.filter((l) => l.run !== undefined);
    expect(runs).toHaveLength(2);
    for (const l of runs) {
      expect(l.bench).toBe('cpu');
      expect(l.instructions).toBeGreaterThan(1_000_000);
      expect(l.mips).toBeGreaterThan(0);
      expect(l.exitCode).toBe(0);
      expect(l.checksum).toMatch(/checksum/);
    }
    expect(runs[0].checksum).toBe(runs[1].checksum);
    expect(runs[0].instructions).toBe(runs[1].instructions);
    const qemu = lines.filter((l) => l.qemu === true);
    if (qemu.length > 0) expect(qemu[0].outputMatch).toBe(true);
    // the tier table (intbench-short with --short): one row per MMU and tier, all runs alike, and
    // the shadow MMU's cost as the median of the five back-to-back rounds
    const tiers = lines.filter((l) => l.tiers === true && l.tier !== undefined);
    expect(tiers.map((l) => `${l.mmu} ${l.tier}`)).toEqual(['native interp', 'native jit', 'native jit-js', 'shadow interp', 'shadow jit']);
    for (const t of tiers) expect([t.image, t.instructions, t.exitCode]).toEqual([tiers[0].image, tiers[0].instructions, 0]);
    const summary = lines.find((l) => l.tiers === true && l.jitSpeedup !== undefined);
    expect(summary.shadowOverNativeJitRounds).toHaveLength(5);
    expect(summary.shadowOverNativeJit).toBe([...summary.shadowOverNativeJitRounds].sort((x: number, y: number) => x - y)[2]);
    expectBadInput(cli(['bench', 'cpu', '--runs', '0']), /--runs/);
  });
});

