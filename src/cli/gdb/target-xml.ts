// The target description the stub serves through qXfer:features:read (gdb/doc "Target
// Descriptions"): an i386 with the core feature gdb requires for that architecture (the eight
// general registers, eip, eflags, six segment selectors, then the x87 registers it also demands
// there). The processor has no FPU (GUEST-ABI), so the x87 registers read as zeros; the order
// here is the order of the `g` packet and of `p`/`P` register numbers.

export const REG_EIP = 8;
export const REG_EFLAGS = 9;
/** cs ss ds es fs gs */
export const REG_FIRST_SEG = 10;
export const REG_FIRST_X87 = 16;
/** Registers in the description: 16 of 32 bits, 8 of 80 bits, 8 of 32 bits. */
export const REG_COUNT = 32;

/** Byte size of register n (0 for none). */
export function regSize(n: number): number {
  if (n < 0 || n >= REG_COUNT) return 0;
  return n >= REG_FIRST_X87 && n < REG_FIRST_X87 + 8 ? 10 : 4;
}

const GPRS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const X87_CTL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];
const EFLAGS_BITS: [string, number][] = [
  ['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];

function core(): string {
  const l: string[] = ['<feature name="org.gnu.gdb.i386.core">', '  <flags id="i386_eflags" size="4">'];
  for (const [name, bit] of EFLAGS_BITS) l.push(`    <field name="${name}" start="${bit}" end="${bit}"/>`);
  l.push('  </flags>');
  GPRS.forEach((r, i) => l.push(`  <reg name="${r}" bitsize="32" type="${i === 4 || i === 5 ? 'data_ptr' : 'int32'}"/>`));
  l.push('  <reg name="eip" bitsize="32" type="code_ptr"/>', '  <reg name="eflags" bitsize="32" type="i386_eflags"/>');
  for (const s of SEGS) l.push(`  <reg name="${s}" bitsize="32" type="int32"/>`);
  for (let i = 0; i < 8; i++) l.push(`  <reg name="st${i}" bitsize="80" type="i387_ext"/>`);
  for (const r of X87_CTL) l.push(`  <reg name="${r}" bitsize="32" type="int" group="float"/>`);
  l.push('</feature>');
  return l.join('\n');
}

export const TARGET_XML = `<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>i386</architecture>
${core()}
</target>
`;
