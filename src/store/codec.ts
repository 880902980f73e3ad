/** Point arrays travel as little-endian float64 blobs (see docs/schema.md). */
export function encodeFloats(values: Float64Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** Copies a blob (a Buffer from better-sqlite3, a Uint8Array from node:sqlite) of float64s into target at offset; returns how many were copied. */
export function decodeFloatsInto(blob: Uint8Array, target: Float64Array, offset: number): number {
  const count = blob.byteLength >>> 3;
  new Uint8Array(target.buffer, target.byteOffset + offset * 8, count * 8).set(blob.subarray(0, count * 8));
  return count;
}

export function decodeFloats(blob: Uint8Array): Float64Array {
  const out = new Float64Array(blob.byteLength >>> 3);
  decodeFloatsInto(blob, out, 0);
  return out;
}
