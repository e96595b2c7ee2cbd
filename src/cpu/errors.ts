// Guest behaviour the emulator refuses by design (documented differences from real x86, such as
// non-flat segments or task gates). Mirrors nothing in KVM: there, such guests simply run; here the
// machine turns a GuestError into a one-line message. Every other guest misbehaviour is an exception
// delivered to the guest (#UD, #GP, #PF...), never a JavaScript error.

export class GuestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestError';
  }
}
