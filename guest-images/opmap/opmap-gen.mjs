// Writes the opcode-map sweep's test stubs (assembly, on stdout) for opmap.c: every one-byte and
// 0F two-byte opcode, with a memory ModRM (disp32 to a scratch buffer) and each reg field 0-7,
// then, for the opcodes that take a ModRM, the register form (rm = ECX) with each reg field,
// then the memory forms again behind an operand-size prefix (0x66), then the memory forms at CPL 3
// with the privileged forms that must fault there.
// Each stub sets known registers, flags and stack contents, runs the instruction followed by a
// sled of CLC (0xF8: a one-byte instruction, a register-form ModRM and a harmless immediate, so
// whatever the opcode consumes, decoding comes back in step), and records registers and flags;
// a fault goes to the stub's end through trap_recover. Skipped: prefixes, branches whose
// targets are the stub's own bytes (calls, returns, far and indirect transfers), HLT, port I/O,
// POPF (it would load TF), x87, and moffs loads and stores (their address is the stub's bytes).

const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);
const skip1 = new Set([0x0f, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x9a, 0xc2, 0xc3, 0xca, 0xcb, 0xcd,
  0xcf, 0xe8, 0xe9, 0xea, 0xf4, 0x9d, 0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef, 0x6c, 0x6d, 0x6e, 0x6f, 0xa0, 0xa1, 0xa2, 0xa3,
  ...range(0xd8, 0xe0)]);
// 0F: Jcc rel32, MOV to/from CR/DR, CPUID and RDTSC (values differ by design), three-byte maps, EMMS.
const skip2 = new Set([...range(0x80, 0x90), 0x20, 0x21, 0x22, 0x23, 0xa2, 0x31, 0x38, 0x3a, 0x77]);
// Opcodes that take a ModRM (their register forms are swept too).
const modrm1 = new Set([...range(0, 4), ...range(8, 12), ...range(0x10, 0x14), ...range(0x18, 0x1c), ...range(0x20, 0x24),
  ...range(0x28, 0x2c), ...range(0x30, 0x34), ...range(0x38, 0x3c), 0x62, 0x63, 0x69, 0x6b, ...range(0x80, 0x90),
  0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff]);
const modrm2 = new Set([...range(0, 4), 0x0d, ...range(0x10, 0x20), ...range(0x28, 0x30), ...range(0x40, 0x80), ...range(0x90, 0xa0),
  0xa3, 0xa4, 0xa5, 0xab, 0xac, 0xad, 0xae, 0xaf, ...range(0xb0, 0xb8), ...range(0xba, 0xc8), ...range(0xd0, 0x100)]);

/** Forms that would leave the stub or wreck the machine: FF /2 /4 (indirect CALL/JMP) anywhere,
 *  FF /3 /5 as registers (#UD, but kept out with their siblings), descriptor-table and task
 *  loads (0F 00 /2 /3, 0F 01 /2 /3 /6). */
function skipped(ops, reg, regForm) {
  const [a, b] = ops;
  if (a === 0xff && (reg === 2 || reg === 4 || (regForm && (reg === 3 || reg === 5)))) return true;
  if (a === 0x0f && b === 0x00 && (reg === 2 || reg === 3)) return true;
  if (a === 0x0f && b === 0x01 && (reg === 2 || reg === 3 || reg === 6)) return true;
  return false;
}

// Then the same with an operand-size prefix (16-bit forms), memory forms only.
const tests = [];
for (const [regForm, o16] of [[false, false], [true, false], [false, true]]) {
  const pre = o16 ? [0x66] : [];
  const ring3 = false;
  for (let op = 0; op < 256; op++) {
    if (skip1.has(op) || (regForm && !modrm1.has(op))) continue;
    // a 16-bit Jcc/LOOP/JMP truncates EIP to 16 bits: it lands below 1 MiB, BIOS data on QEMU
    if (o16 && ((op >= 0x70 && op < 0x80) || (op >= 0xe0 && op < 0xe4) || op === 0xeb)) continue;
    for (let r = 0; r < 8; r++) if (!skipped([op], r, regForm)) tests.push({ ops: [op], pre, r, regForm, ring3 });
  }
  for (let op = 0; op < 256; op++) {
    if (skip2.has(op) || (regForm && !modrm2.has(op))) continue;
    for (let r = 0; r < 8; r++) if (!skipped([0x0f, op], r, regForm)) tests.push({ ops: [0x0f, op], pre, r, regForm, ring3 });
  }
}
// The debug registers at CPL 0: read all, write all (ECX = 3: DR7 then arms an execution
// breakpoint at DR0 = 3 on QEMU, an address nothing runs), read all again.
for (const b of [0x21, 0x23, 0x21]) for (let r = 0; r < 8; r++) tests.push({ ops: [0x0f, b], pre: [], r, regForm: true, ring3: false });
// Ring 3: every memory form again at CPL 3 (IOPL 0, no I/O bitmap), plus the privileged forms that
// are safe to try there because they must fault: HLT, port I/O, POPF (it pops a known 0x23), MOV
// to/from CR and DR, LLDT LTR LGDT LIDT LMSW.
const ring0Tests = tests.length;
for (const t of tests.slice(0, ring0Tests)) if (!t.regForm && t.pre.length === 0) tests.push({ ...t, ring3: true });
for (const op of [0xf4, 0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef, 0x6c, 0x6d, 0x6e, 0x6f, 0x9d]) {
  for (let r = 0; r < 8; r++) tests.push({ ops: [op], pre: [], r, regForm: false, ring3: true });
}
for (const [b, regs] of [[0x20, [0, 2, 3, 4]], [0x22, [0, 2, 3, 4]], [0x21, [0, 7]], [0x23, [0, 7]], [0x00, [2, 3]], [0x01, [2, 3, 6]]]) {
  for (const r of regs) tests.push({ ops: [0x0f, b], pre: [], r, regForm: b >= 0x20, ring3: true });
}

/** The part of a run from the stack set-up to the jump into the stub: known stack contents (for
 *  POP and POPA), registers and flags; the stub's end and a fault both go to `end`. */
const runStart = (stackWord, end) => `	.rept 8
	pushl $${stackWord}
	.endr
	movl $${end}, trap_recover
	movl $${end}, end_ptr
	movl $buf+384, %eax
	movl $3, %ecx
	movl $0x100, %edx
	movl $buf+64, %ebx
	movl %esp, %ebp
	movl $buf, %esi
	movl $buf+256, %edi
	pushl $0x8c3
	popfl
	jmp *%ss:target`;
/** Where a run ends: record registers and flags (ESP first, from the saved stack pointer
 *  `espVar`), reload the data segments with `sel`, then `tail`. */
const runEnd = (label, espVar, sel, tail) => `${label}:
	movl %eax, %ss:res
	movl %esp, %ss:res+16
	movl %ss:${espVar}, %esp
	pushfl
	popl %ss:res+32
	movw $${sel}, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl %ecx, res+4
	movl %edx, res+8
	movl %ebx, res+12
	movl %ebp, res+20
	movl %esi, res+24
	movl %edi, res+28
${tail}`;

const out = [`	.set buf, 0x00F8F878
	.text
# run_test(insn): run the stub at insn from known registers, flags and stack; results in res.
	.globl run_test
run_test:
	pushal
	movl 36(%esp), %eax
	movl %eax, target
	movl %esp, saved_esp
${runStart('0x10', 'stub_end')}
${runEnd('stub_end', 'saved_esp', '0x10', '\tpopal\n\tret')}
# the ring-3 run: enter_user() IRETs here on the user stack; INT 0x81 takes it back to ring 0
	.globl run_test_user
run_test_user:
${runStart('0x23', 'stub_end3')}
${runEnd('stub_end3', 'user_esp', '0x23', '\tint $0x81')}`];
// A Jcc/LOOP/JMP rel8 taken with its ModRM byte as displacement (at most 0x3D) lands at most 63
// bytes past its opcode: inside the 64-byte sled.
tests.forEach((t, i) => {
  const bytes = [...t.pre, ...t.ops, (t.regForm ? 0xc1 : 0x05) | (t.r << 3)];
  out.push(`t${i}:
	.byte ${bytes.map((b) => '0x' + b.toString(16)).join(', ')}${t.regForm ? '' : '\n\t.long buf+128'}
	.fill 64, 1, 0xf8
	movl $0, %ss:trap_recover
	jmp *%ss:end_ptr`);
});
out.push('\t.data\n\t.globl target\ntarget:\n\t.long 0\nend_ptr:\n\t.long 0\n\t.globl opmap_tests\nopmap_tests:');
// code: opcode byte | 0x100 for the 0F map | 0x200 for a register form | 0x400 with 0x66 | 0x800 at CPL 3 | reg << 12
for (const [i, t] of tests.entries()) out.push(`\t.long t${i}, ${t.ops[t.ops.length - 1] | (t.ops.length === 2 ? 0x100 : 0) | (t.regForm ? 0x200 : 0) | (t.pre.length ? 0x400 : 0) | (t.ring3 ? 0x800 : 0) | (t.r << 12)}`);
out.push(`\t.globl opmap_count\nopmap_count:\n\t.long ${tests.length}`);
process.stdout.write(out.join('\n') + '\n');
