// `shadowvisor trace --translate GVA`: where each guest paging entry lives. trace.test.ts follows an
// identity-mapped kernel address, where a swapped PDE/PTE address or a GPA taken from the wrong
// entry would still look plausible; here the addresses are pagetest's non-identity mappings and
// every "@ gpa" is pinned to the architecture's formula (PDE at CR3 + 4*(gva >> 22), PTE at the
// PDE's frame + 4*((gva >> 12) & 1023)), under both MMUs, in text and in --json.

import { describe, expect, it } from 'vitest';
import { cli as runCli } from './helpers.js';

const IMAGE = 'guest-images/pagetest.elf';
const cli = (args: string[]) => runCli(args, { timeout: 60_000 });

// pagetest's layout at the end of its run (guest-images/pagetest.c, setup_paging): its frame pool
// starts at 4 MiB, and the first three frames are the page directory pd_a (CR3 from then on), the
// low page table and pt_demand, the table of the demand window at 0x40000000.
const CR3 = 0x00400000;
const PT_DEMAND = 0x00402000;
/** In the user half of the demand window: mapped by the #PF handler to a frame from the pool. */
const GVA_4K = 0x40203010;
/** BIG_VA + 0x123450: a 4 MiB page at BIG_PHYS (0x01000000), mapped at setup. */
const GVA_4M = 0x80123450;

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
const pdeGpaOf = (cr3: number, gva: number): number => ((cr3 & ~0xfff) + 4 * (gva >>> 22)) >>> 0;
const pteGpaOf = (pde: number, gva: number): number => ((pde & ~0xfff) + 4 * ((gva >>> 12) & 1023)) >>> 0;

interface Entry {
  index: number;
  gpa: number;
  value: number;
}

/** The text output's translation, parsed. */
function parseText(out: string): { cr3: number; pde: Entry; pte: Entry | '4M'; gpa: number } {
  const num = (re: RegExp): RegExpExecArray => {
    const m = re.exec(out);
    expect(m, `${re} in\n${out}`).not.toBeNull();
    return m!;
  };
  const cr3 = Number(num(/^translate 0x[0-9a-f]{8} on vcpu0 at t=\d+ \(CR0 0x[0-9a-f]{8}, CR3 (0x[0-9a-f]{8}),/m)[1]);
  const d = num(/^ {2}guest PDE {3}\[(\d+)\] @ gpa (0x[0-9a-f]{8}) = (0x[0-9a-f]{8}) \(/m);
  const pde = { index: Number(d[1]), gpa: Number(d[2]), value: Number(d[3]) };
  let pte: Entry | '4M';
  if (/^ {2}guest PTE {3}\(4 MiB page: the PDE is the leaf\)$/m.test(out)) pte = '4M';
  else {
    const t = num(/^ {2}guest PTE {3}\[(\d+)\] @ gpa (0x[0-9a-f]{8}) = (0x[0-9a-f]{8}) \(/m);
    pte = { index: Number(t[1]), gpa: Number(t[2]), value: Number(t[3]) };
  }
  const gpa = Number(num(/^ {2}GPA {9}(0x[0-9a-f]{8}) \(gfn 0x[0-9a-f]+\)$/m)[1]);
  return { cr3, pde, pte, gpa };
}

describe.each(['shadow', 'tdp'])('trace --translate --mmu %s: the guest entries\' addresses', (mmu) => {
  it(`a 4 KiB page whose GPA is not its GVA (${hex(GVA_4K)})`, () => {
    // Under shadow, --gva also prints KVM's own guest walks of the page (WALK events: the shadow
    // MMU's walker, not the one --translate uses), a second opinion on the GPA.
    const extra = mmu === 'shadow' ? ['--gva', hex(GVA_4K & ~0xfff)] : [];
    const r = cli(['trace', IMAGE, '--mmu', mmu, ...extra, '--translate', hex(GVA_4K)]);
    expect(r.status, r.stderr).toBe(0);
    const t = parseText(r.stdout);
    expect(t.cr3).toBe(CR3);
    expect(t.pde).toMatchObject({ index: GVA_4K >>> 22, gpa: pdeGpaOf(CR3, GVA_4K) });
    expect(t.pde.value & 1, 'PDE present').toBe(1);
    expect(t.pde.value & ~0xfff).toBe(PT_DEMAND);
    expect(t.pte).not.toBe('4M');
    const pte = t.pte as Entry;
    expect(pte).toMatchObject({ index: (GVA_4K >>> 12) & 1023, gpa: pteGpaOf(t.pde.value, GVA_4K) });
    expect(pte.gpa).toBe(PT_DEMAND + 4 * 0x203);
    expect(pte.value & 0x7, 'PTE present, writable, user (the demand handler maps the user half so)').toBe(0x7);
    expect(t.gpa).toBe(((pte.value & ~0xfff) | (GVA_4K & 0xfff)) >>> 0);
    expect(t.gpa & ~0xfff, 'not identity-mapped').not.toBe(GVA_4K & ~0xfff);
    expect(r.stdout).toContain(`  GPA         ${hex(t.gpa)} (gfn 0x${(t.gpa >>> 12).toString(16)})\n`);
    if (mmu === 'shadow') {
      const walks = [...r.stdout.matchAll(/ WALK +gva 0x4020[0-9a-f]{4} -> gfn (0x[0-9a-f]+) .* pte (0x[0-9a-f]{8})$/gm)];
      expect(walks.length, r.stdout).toBeGreaterThan(0);
      const last = walks[walks.length - 1]!;
      expect(Number(last[1])).toBe(t.gpa >>> 12);
      expect(Number(last[2]) & ~0xfff).toBe(pte.value & ~0xfff);
    }

    const j = cli(['trace', IMAGE, '--mmu', mmu, '--json', '--translate', hex(GVA_4K)]);
    expect(j.status, j.stderr).toBe(0);
    const tr = (JSON.parse(j.stdout) as { translate: Record<string, unknown> }).translate;
    expect(tr).toMatchObject({
      gva: GVA_4K,
      paging: true,
      pde: { gpa: pdeGpaOf(CR3, GVA_4K), value: t.pde.value },
      pte: { gpa: PT_DEMAND + 4 * 0x203, value: pte.value },
      gpa: t.gpa,
      gfn: t.gpa >>> 12,
    });
  });

  it(`a 4 MiB page: the PDE is the leaf, no PTE (${hex(GVA_4M)})`, () => {
    const r = cli(['trace', IMAGE, '--mmu', mmu, '--translate', hex(GVA_4M)]);
    expect(r.status, r.stderr).toBe(0);
    const t = parseText(r.stdout);
    expect(t.cr3).toBe(CR3);
    expect(t.pde).toMatchObject({ index: GVA_4M >>> 22, gpa: pdeGpaOf(CR3, GVA_4M) });
    expect(t.pde.value & 0x81, 'PDE present with PS').toBe(0x81);
    expect(t.pte).toBe('4M');
    expect(t.gpa).toBe(((t.pde.value & 0xffc00000) | (GVA_4M & 0x3fffff)) >>> 0);
    expect(t.gpa).toBe(0x01123450);

    const j = cli(['trace', IMAGE, '--mmu', mmu, '--json', '--translate', hex(GVA_4M)]);
    const tr = (JSON.parse(j.stdout) as { translate: Record<string, unknown> }).translate;
    expect(tr).toMatchObject({ gva: GVA_4M, pde: { gpa: pdeGpaOf(CR3, GVA_4M), value: t.pde.value }, gpa: 0x01123450 });
    expect(tr.pte).toBeUndefined();
  });
});
