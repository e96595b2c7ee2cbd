/* csmith guests: csmith.h includes <math.h> for its floating-point helpers, which the guests
 * never generate (GUEST-ABI: no FPU; csmith is run without --float). Intentionally empty. */
