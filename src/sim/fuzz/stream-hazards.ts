// The instruction-stream fuzzer's items aimed at the memory model rather than the ISA: paging
// churn (a scratch PTE rewritten, sometimes through the page table's own alias, then INVLPG),
// self-modifying code through the alias of the stream pages, and the hostile endings no guest
// survives (an IDT or stack on a not-present page or outside RAM).

import { ALIAS_PT_VA, ALIAS_SCRATCH_VA, BEYOND_RAM_GPA, IDTR_ALT, PD, PT0, PT1, SCRATCH, SCRATCH_PAGES } from './stream-layout.js';
import { RELOC_ABS, RELOC_ALIAS, le32, type ItemBuilder } from './stream-item.js';
import { EBP_PAGE, type StreamGenState } from './stream-gen-state.js';

/** Paging churn: rewrite a scratch PTE (another frame, other rights, beyond RAM) and INVLPG. */
export function pagingOp(g: StreamGenState, b: ItemBuilder): boolean {
  const p = g.profile;
  let page = g.r(SCRATCH_PAGES);
  // QEMU streams keep the two pages around EBP (their RMW targets) user+writable.
  if (p.qemu && (page === EBP_PAGE || page === EBP_PAGE - 1)) page = (page + 2) % SCRATCH_PAGES;
  const alias = g.r(3) === 0;
  const va = (alias ? ALIAS_SCRATCH_VA : SCRATCH) + page * 4096;
  const pteAddr = alias ? PT1 + (16 + page) * 4 : PT0 + ((SCRATCH >>> 12) + page) * 4;
  let frame = (SCRATCH >>> 12) + g.r(SCRATCH_PAGES);
  if (p.hostile && !p.qemu && g.r(4) === 0) frame = (BEYOND_RAM_GPA >>> 12) + g.r(64);
  const flags = [0x7, 0x7, 0x5, 0x3, 0x1, 0x0, 0x6, 0x67][g.r(8)]!;
  // Written through the PT's own alias mapping now and then (page-table writes the shadow MMU
  // must see whatever linear address they come through). Not from ring 3: there the INVLPG
  // faults, and a TLB may then legitimately keep the old translation (GUEST-ABI "Paging").
  const viaAlias = p.hostile && !p.ring3 && g.r(3) === 0;
  const writeAt = viaAlias ? ALIAS_PT_VA + (pteAddr - PD) : pteAddr;
  b.insn(0xc7, 0x05, ...le32(writeAt), ...le32(frame * 4096 + flags)); // mov dword [pte], v
  b.insn(0x0f, 0x01, 0x3d, ...le32(va)); // invlpg [va]
  return true;
}

/** Self-modifying code: patch the immediate of a MOV a few bytes on, through the alias
 *  mapping of the stream pages (paging) or directly, then jump to it. */
export function smcOp(g: StreamGenState, b: ItemBuilder): void {
  const r = g.reg();
  b.begin();
  b.bytes.push(0xc6, 0x05);
  // mov byte [target], imm8: target = the MOV's immediate, 7 + 2 + 1 bytes from the start
  b.relocs.push({ at: b.pos, add: b.pos + 4 + 1 + 2 + 1, kind: g.profile.paging && g.r(4) !== 0 ? RELOC_ALIAS : RELOC_ABS });
  b.e32(0);
  b.e8(g.u32());
  b.end();
  b.insn(0xeb, 0x00);
  b.insn(0xb8 + r, ...le32(g.u32()));
}

/** An ending that no guest survives: the IDT or the stack on a not-present page, or an
 *  IDT whose gates come from outside RAM. */
export function hostileEnd(g: StreamGenState, b: ItemBuilder): void {
  const page = g.r(SCRATCH_PAGES);
  const va = SCRATCH + page * 4096;
  const w = g.r(3);
  if (g.profile.paging) {
    b.insn(0xc7, 0x05, ...le32(PT0 + ((SCRATCH >>> 12) + page) * 4), ...le32(w === 2 ? BEYOND_RAM_GPA | 0x7 : 0)); // np or beyond RAM
    b.insn(0x0f, 0x01, 0x3d, ...le32(va));
  }
  if (w === 1) {
    b.insn(0xbc, ...le32(va + 0x800)); // mov esp, va + 0x800
  } else {
    b.insn(0x0f, 0x01, 0x1d, ...le32(IDTR_ALT + page * 8)); // lidt: an IDT at va of the page
  }
  b.insn(0x0f, 0x0b); // ud2
}
