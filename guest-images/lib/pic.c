/* 8259A PIC pair: remap IRQ0-15 away from the exception vectors, mask/unmask lines, send EOI.
 * Mirrors Linux's init_8259A / mask_8259A_irq / the OCW2 non-specific EOI. */
#include "runtime.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1

static uint8_t mask1 = 0xFF, mask2 = 0xFF;

void pic_remap(uint8_t master_base, uint8_t slave_base) {
  outb(PIC1_CMD, 0x11); /* ICW1: edge, cascade, ICW4 needed */
  outb(PIC2_CMD, 0x11);
  outb(PIC1_DATA, master_base); /* ICW2: vector base */
  outb(PIC2_DATA, slave_base);
  outb(PIC1_DATA, 0x04); /* ICW3: slave on IR2 */
  outb(PIC2_DATA, 0x02); /* ICW3: slave identity 2 */
  outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode, normal EOI */
  outb(PIC2_DATA, 0x01);
  mask1 = 0xFB; /* everything masked except the cascade line */
  mask2 = 0xFF;
  outb(PIC1_DATA, mask1);
  outb(PIC2_DATA, mask2);
}

void pic_unmask(int irq) {
  if (irq < 8) { mask1 &= (uint8_t)~(1u << irq); outb(PIC1_DATA, mask1); }
  else { mask2 &= (uint8_t)~(1u << (irq - 8)); outb(PIC2_DATA, mask2); }
}

void pic_mask(int irq) {
  if (irq < 8) { mask1 |= (uint8_t)(1u << irq); outb(PIC1_DATA, mask1); }
  else { mask2 |= (uint8_t)(1u << (irq - 8)); outb(PIC2_DATA, mask2); }
}

void pic_eoi(int irq) {
  if (irq >= 8) outb(PIC2_CMD, 0x20);
  outb(PIC1_CMD, 0x20);
}
