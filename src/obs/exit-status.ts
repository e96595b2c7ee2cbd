// The process exit statuses of every shadowvisor command, in one table: the engine names the
// statuses a VM can stop with (machine/, hv/, sim/ import them from here, obs depends on nothing),
// the CLI adds its own (bad input, interrupted, internal error) and prints the table in `--help`.
// Statuses above 128 follow the shell's convention for a process killed by a signal (128 + signo),
// because that is what a user of a real VMM would see for the same event.

/** The guest halted with interrupts off, or with nothing left that could wake it. */
export const EXIT_STATUS_HALTED = 1;
/** Bad input: options, image, files, or a guest doing what GUEST-ABI refuses. */
export const EXIT_STATUS_BAD_INPUT = 2;
export const EXIT_STATUS_TRIPLE_FAULT = 3;
/** The instruction budget (--max-insns) ran out. */
export const EXIT_STATUS_BUDGET = 4;
/** --check: an access through a freed or replaced host frame. */
export const EXIT_STATUS_STALE = 5;
/** KVM_RUN returned -EFAULT: guest memory could not be faulted in. */
export const EXIT_STATUS_EFAULT = 6;
/** An internal error (EX_SOFTWARE from sysexits.h). */
export const EXIT_STATUS_INTERNAL = 70;
/** SIGINT (Ctrl-C) stopped the command: 128 + 2. */
export const EXIT_STATUS_INTERRUPTED = 130;
/** The swap device failed (a write or read of the --swap-file): 128 + SIGBUS (7), the signal a
 *  process gets when the page it touches cannot be read back. */
export const EXIT_STATUS_SWAP_IO_ERROR = 135;
/** The host OOM-killed the VM's process: 128 + SIGKILL (9). */
export const EXIT_STATUS_OOM_KILLED = 137;
/** The reader of stdout went away: 128 + SIGPIPE (13). */
export const EXIT_STATUS_OUTPUT_CLOSED = 141;
/** SIGTERM stopped the command: 128 + 15. */
export const EXIT_STATUS_TERMINATED = 143;

export interface ExitStatusEntry {
  status: number;
  meaning: string;
}

/** Every status a command can end with besides the guest's own exit value, in numeric order. */
export const EXIT_STATUSES: readonly ExitStatusEntry[] = [
  { status: EXIT_STATUS_HALTED, meaning: 'the guest halted with no interrupt able to wake it' },
  { status: EXIT_STATUS_BAD_INPUT, meaning: 'bad input (options, image, files, or a guest the ABI refuses)' },
  { status: EXIT_STATUS_TRIPLE_FAULT, meaning: 'triple fault' },
  { status: EXIT_STATUS_BUDGET, meaning: 'instruction budget exhausted (--max-insns)' },
  { status: EXIT_STATUS_STALE, meaning: 'stale access detected (--check)' },
  { status: EXIT_STATUS_EFAULT, meaning: 'guest memory could not be faulted in (EFAULT)' },
  { status: EXIT_STATUS_INTERNAL, meaning: 'internal error (the stack trace with SHADOWVISOR_DEBUG=1)' },
  { status: EXIT_STATUS_INTERRUPTED, meaning: 'interrupted by SIGINT (Ctrl-C)' },
  { status: EXIT_STATUS_SWAP_IO_ERROR, meaning: 'swap device I/O error (--swap-file could not be written or read)' },
  { status: EXIT_STATUS_OOM_KILLED, meaning: 'the host OOM-killed the VM' },
  { status: EXIT_STATUS_OUTPUT_CLOSED, meaning: 'stdout closed by its reader' },
  { status: EXIT_STATUS_TERMINATED, meaning: 'terminated by SIGTERM' },
];

/** The table as help text: one status per line, indented by `indent` spaces. */
export function exitStatusHelp(indent = 2): string {
  const pad = ' '.repeat(indent);
  return EXIT_STATUSES.map((e) => `${pad}${String(e.status).padStart(3)}  ${e.meaning}`).join('\n');
}
