/**
 * The write API's column format (src/contract/ingest.ts B64F64): base64 of
 * little-endian float64 values. Node only (Buffer): the SDK's shipper encodes,
 * the server decodes.
 */
import { endianness } from "node:os";

const LITTLE_ENDIAN = endianness() === "LE";

function swapBytes(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
}

export function encodeB64F64(values: Float64Array): string {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  if (LITTLE_ENDIAN) return bytes.toString("base64");
  const copy = Buffer.from(bytes);
  swapBytes(copy);
  return copy.toString("base64");
}

/** The values of a B64F64 column, or null when the text is not base64 of whole float64 values. */
export function decodeB64F64(text: string): Float64Array | null {
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const expected = (text.length / 4) * 3 - padding;
  if (expected % 8 !== 0) return null;
  const bytes = Buffer.from(text, "base64");
  // Buffer skips characters outside the alphabet; a shorter result means the text had some.
  if (bytes.length !== expected || (expected > 0 && bytes.toString("base64") !== text)) return null;
  const values = new Float64Array(expected / 8);
  const view = new Uint8Array(values.buffer);
  view.set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(view);
  return values;
}
