const encoder = new TextEncoder();

/**
 * Compares two strings as UTF-8 bytes in time that depends only on their lengths, never
 * on their contents: no early exit at the first differing byte. Strings of different
 * byte lengths are unequal; both are zero-padded to the longer length and compared in
 * full, so the result does not reveal where they differ.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const ea = encoder.encode(a);
  const eb = encoder.encode(b);
  const length = Math.max(ea.length, eb.length);
  const x = new Uint8Array(length);
  const y = new Uint8Array(length);
  x.set(ea);
  y.set(eb);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
