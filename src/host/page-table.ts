// A host process's page table: one 32-bit pte per virtual page, stored as 1024-entry tables
// allocated on first use (a two-level i386-style table). Mirrors pte_t and the present/swap
// encodings of arch/x86/include/asm/pgtable*.h, reduced to the bits the simulator needs.
//
// Encoding (Int32): 0 = none (pte_none).
//   present: frame << 4 | PTE_PRESENT | PTE_WRITE? | PTE_YOUNG? | PTE_DIRTY?
//   swap entry: slot << 4 | PTE_SWAP (present bit clear)

export const PTE_PRESENT = 1;
export const PTE_WRITE = 2;
export const PTE_YOUNG = 4;
export const PTE_DIRTY = 8;
export const PTE_SWAP = 2; // only meaningful with PTE_PRESENT clear

export function ptePresent(pte: number): boolean {
  return (pte & PTE_PRESENT) !== 0;
}
export function pteIsSwap(pte: number): boolean {
  return pte !== 0 && (pte & PTE_PRESENT) === 0;
}
export function pteFrame(pte: number): number {
  return pte >>> 4;
}
export function pteSwapSlot(pte: number): number {
  return pte >>> 4;
}
export function mkPte(frame: number, flags: number): number {
  return (frame << 4) | PTE_PRESENT | flags;
}
export function mkSwapPte(slot: number): number {
  return (slot << 4) | PTE_SWAP;
}

const TABLE_SHIFT = 10;
const TABLE_MASK = (1 << TABLE_SHIFT) - 1;

export class PageTable {
  private readonly tables = new Map<number, Int32Array>();

  get(vpn: number): number {
    const t = this.tables.get(vpn >>> TABLE_SHIFT);
    return t === undefined ? 0 : t[vpn & TABLE_MASK];
  }

  set(vpn: number, pte: number): void {
    let t = this.tables.get(vpn >>> TABLE_SHIFT);
    if (t === undefined) {
      if (pte === 0) return;
      t = new Int32Array(1 << TABLE_SHIFT);
      this.tables.set(vpn >>> TABLE_SHIFT, t);
    }
    t[vpn & TABLE_MASK] = pte;
  }

  /** Calls fn for every non-none pte with vpn in [first, end), in address order. */
  forEach(first: number, end: number, fn: (vpn: number, pte: number) => void): void {
    let vpn = first;
    while (vpn < end) {
      const t = this.tables.get(vpn >>> TABLE_SHIFT);
      const tableEnd = Math.min(end, ((vpn >>> TABLE_SHIFT) + 1) << TABLE_SHIFT);
      if (t !== undefined) {
        for (; vpn < tableEnd; vpn++) {
          const pte = t[vpn & TABLE_MASK];
          if (pte !== 0) fn(vpn, pte);
        }
      }
      vpn = tableEnd;
    }
  }

  /** free_pgtables: drop tables that are entirely none. */
  freeEmptyTables(): void {
    for (const [k, t] of this.tables) {
      let empty = true;
      for (let i = 0; i < t.length; i++) if (t[i] !== 0) { empty = false; break; }
      if (empty) this.tables.delete(k);
    }
  }

  get tableCount(): number {
    return this.tables.size;
  }
}
