// The host's deterministic pseudo-random source (splitmix32). The engine never calls
// Math.random(); everything random in host/ (error injection, tree priorities) comes from here.

export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed | 0;
  }
  /** Next 32-bit unsigned value. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }
}
