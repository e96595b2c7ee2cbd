// gdb's `monitor` commands (qRcmd): what no other stub can show, because only here the layers
// under the guest are in reach. translate follows one address GVA -> GPA -> HVA -> HPA to the
// spte or TDP entry; sptes lists the shadow tables of the current address space; host prints
// KVM's and the host mm's counters; events prints the last trace events (KVM's tracepoints).

import type { DebugTarget } from './debug-target.js';

export const MONITOR_HELP = `shadowvisor monitor commands (for the current thread = vCPU):
  monitor translate ADDR   GVA -> GPA -> HVA -> HPA of ADDR and the spte / TDP entry behind it
  monitor sptes            the shadow page tables of the vCPU's current address space
  monitor host             the host's and KVM's counters
  monitor events [N]       the last N trace events (default 20)
  monitor help             this text
ADDR is hex (0x optional) or decimal with a leading 0d; it is read without side effects.
`;

/** One command line -> its output text (always ends with a newline). */
export function runMonitor(line: string, target: DebugTarget, vcpu: number): string {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  const cmd = words[0] ?? 'help';
  const out = (lines: string[]): string => `${lines.join('\n')}\n`;
  switch (cmd) {
    case 'help':
      return MONITOR_HELP;
    case 'translate': {
      const a = words[1] === undefined ? null : parseAddr(words[1]);
      if (a === null || words.length > 2) return "usage: monitor translate ADDR (e.g. 'monitor translate 0x101000')\n";
      return out(target.translate(vcpu, a));
    }
    case 'sptes':
      return out(target.sptes(vcpu));
    case 'host':
      return out(target.hostCounters());
    case 'events': {
      const n = words[1] === undefined ? 20 : /^\d{1,6}$/.test(words[1]) ? Number(words[1]) : -1;
      if (n < 1) return 'usage: monitor events [N] (N from 1 to 999999)\n';
      return out(target.events(n));
    }
    default:
      return `unknown monitor command '${cmd}'\n${MONITOR_HELP}`;
  }
}

function parseAddr(w: string): number | null {
  const dec = /^0d(\d{1,10})$/.exec(w);
  const v = dec !== null ? Number(dec[1]) : /^(0x)?[0-9a-fA-F]{1,8}$/.test(w) ? Number.parseInt(w.replace(/^0x/, ''), 16) : Number.NaN;
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : null;
}
