// `shadowvisor bench cpu`: the interpreter's speed on guest-images/cpubench.elf in native mode
// (guest instructions, wall seconds, MIPS), its self-check (the checksum line must be the same
// on every run and under QEMU), and QEMU's wall time for the same image when qemu-system-i386
// is installed. Wall time is read here, never in the engine.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeMachine } from '../src/machine/native-machine.js';
import type { BenchOut } from './index.js';
import { parseBenchArgs } from './args.js';
import { UsageError, parseCount } from '../src/cli/args.js';
import { readInputFile } from '../src/cli/input-file.js';
import { ImageError } from '../src/machine/image-error.js';
import { QEMU, qemuAvailable, runQemuTimed as runQemu } from './qemu.js';
import { runTiers } from './cpu-tiers.js';

const HELP = `Usage: shadowvisor bench cpu [options]

Options:
  --runs N        timed runs in shadowvisor (default 2); outputs must match between runs
  --short         use cpubench-short.elf (a quick smoke run)
  --image PATH    benchmark another image
  --no-qemu       skip the QEMU comparison
  --no-tiers      skip the execution-tier table (interpreter and compiler, native and shadow,
                  on cpubench and intbench; with --short: intbench-short only)
  --json          one JSON object per line instead of a table
  -h, --help      show this help
`;

// Bundled, this file is dist/shadowvisor.mjs; as a source it is bench/cpu.ts: both sit one
// level below the project root, beside guest-images/.
const imageUrl = (name: string): string => fileURLToPath(new URL(`../guest-images/${name}`, import.meta.url));

const MEM = 64 * 1024 * 1024;

interface Run {
  instructions: number;
  seconds: number;
  mips: number;
  exitCode: number;
  output: string;
}

function runOnce(image: Uint8Array): Run {
  const bytes: number[] = [];
  const m = new NativeMachine({ image, ramBytes: MEM, output: { write: (b) => void bytes.push(b) } });
  const t0 = performance.now();
  const r = m.run();
  const seconds = (performance.now() - t0) / 1000;
  return {
    instructions: r.instructions,
    seconds,
    mips: r.instructions / seconds / 1e6,
    exitCode: r.reason === 'exit' ? r.exitCode : -1,
    output: Buffer.from(bytes).toString('latin1'),
  };
}

function checksumLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /checksum/i.test(l)) ?? lines[lines.length - 1] ?? '';
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const values = parseBenchArgs('cpu', argv, {
        runs: { type: 'string' },
        short: { type: 'boolean' },
        image: { type: 'string' },
        'no-qemu': { type: 'boolean' },
        'no-tiers': { type: 'boolean' },
        json: { type: 'boolean' },
  }, HELP, out);
  if (typeof values === 'number') return values;
  let runs: number;
  try {
    runs = values.runs === undefined ? 2 : parseCount('--runs', values.runs, 1, 100);
  } catch (e) {
    out.stderr(`shadowvisor: bench cpu: ${(e as Error).message}\n`);
    return 2;
  }
  const path = values.image ?? imageUrl(values.short ? 'cpubench-short.elf' : 'cpubench.elf');
  if (!existsSync(path)) {
    out.stderr(`shadowvisor: bench cpu: image '${path}' not found (build it with 'make -C guest-images')\n`);
    return 2;
  }
  const image = readInputFile('image', path);
  try {
    // Refuse a malformed image here, as `run` does (one line, status 2), not in the first run.
    new NativeMachine({ image, ramBytes: MEM, output: { write: () => {} } });
  } catch (e) {
    if (e instanceof ImageError) throw new UsageError(`bench cpu: ${path}: ${e.message}`);
    throw e;
  }
  const json = values.json ?? false;
  const name = path.split('/').pop()!;
  if (!json) out.stdout(`bench cpu: ${name}, native MMU, 64 MiB\n${'run'.padEnd(6)}${'instructions'.padStart(15)}${'seconds'.padStart(10)}${'MIPS'.padStart(9)}  checksum\n`);

  let status = 0;
  const results: Run[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = runOnce(image);
    results.push(r);
    const sum = checksumLine(r.output);
    if (json) {
      out.stdout(`${JSON.stringify({ bench: 'cpu', image: name, run: i, instructions: r.instructions, seconds: r.seconds, mips: r.mips, exitCode: r.exitCode, checksum: sum })}\n`);
    } else {
      out.stdout(`${String(i).padEnd(6)}${r.instructions.toLocaleString('en-US').padStart(15)}${r.seconds.toFixed(3).padStart(10)}${r.mips.toFixed(1).padStart(9)}  ${sum}\n`);
    }
    if (r.exitCode !== 0) {
      out.stderr(`shadowvisor: bench cpu: run ${i}: the guest did not exit with status 0 (got ${r.exitCode})\n`);
      status = 1;
    }
    if (r.output !== results[0]!.output) {
      out.stderr(`shadowvisor: bench cpu: run ${i}: output differs from run 1\n`);
      status = 1;
    }
  }
  const best = results.reduce((a, b) => (b.seconds < a.seconds ? b : a));

  if (!values['no-qemu']) {
    if (!qemuAvailable()) {
      if (!json) out.stdout(`qemu: ${QEMU} not found on PATH, comparison skipped\n`);
    } else {
      const q = runQemu(path);
      const match = q.output === best.output;
      const ratio = q.seconds / best.seconds;
      if (json) {
        out.stdout(`${JSON.stringify({ bench: 'cpu', image: name, qemu: true, seconds: q.seconds, oursBestSeconds: best.seconds, ratio, outputMatch: match, qemuStatus: q.status })}\n`);
      } else {
        out.stdout(
          `qemu (TCG, wall incl. firmware boot): ${q.seconds.toFixed(3)} s; shadowvisor best ${best.seconds.toFixed(3)} s; ` +
            `shadowvisor time / qemu time = ${(1 / ratio).toFixed(2)}; output ${match ? 'matches' : 'DIFFERS'}\n`,
        );
      }
      // QEMU's isa-debug-exit exits with (0 << 1) | 1 for a guest exit of 0.
      if (!match || q.status !== 1) {
        out.stderr(`shadowvisor: bench cpu: QEMU ${match ? `exit status ${q.status}, expected 1` : 'serial output differs from ours'}\n`);
        status = 1;
      }
    }
  }
  if (!values['no-tiers']) {
    const names = values.image !== undefined ? [path] : values.short ? [imageUrl('intbench-short.elf')] : [imageUrl('cpubench.elf'), imageUrl('intbench.elf')];
    const imgs = names.map((p) => ({ name: p.split('/').pop()!, path: p, bytes: new Uint8Array(readFileSync(p)) }));
    if (runTiers(imgs, { qemu: !values['no-qemu'], json }, out) !== 0) status = 1;
  }
  return status;
}
