/**
 * TFRecord framing, the container of TensorBoard event files: each record is
 * a little-endian uint64 length, the masked CRC32C of those 8 bytes, the data,
 * and the masked CRC32C of the data.
 *
 * A record whose data CRC does not match is skipped with a warning (its
 * length was vouched for, so the next record is still found). A length whose
 * CRC does not match leaves no way to find the next record: the rest of that
 * file is skipped with a warning. A record cut short at the end of the file is
 * one still being written (a live run): reading stops there quietly, and a
 * later import picks up the rest.
 */
import { open } from "node:fs/promises";

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = (CRC32C_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord stores CRCs rotated and offset, so that a CRC of data holding CRCs stays well distributed. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** What went wrong in a file, for the importer's warning. */
export interface RecordProblem {
  offset: number;
  kind: "data-crc" | "length-crc";
}

const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;
const CHUNK_BYTES = 1 << 20;

/** Yields the data of each intact record of a TFRecord file, reading it a chunk at a time. */
export async function* readRecords(
  path: string,
  onProblem: (problem: RecordProblem) => void,
): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    let buffer = Buffer.alloc(0);
    let bufferOffset = 0;
    let ended = false;
    const fill = async (needed: number): Promise<boolean> => {
      while (buffer.length < needed && !ended) {
        const chunk = Buffer.alloc(Math.max(CHUNK_BYTES, needed - buffer.length));
        const { bytesRead } = await file.read(chunk, 0, chunk.length, bufferOffset + buffer.length);
        if (bytesRead === 0) ended = true;
        else buffer = Buffer.concat([buffer, chunk.subarray(0, bytesRead)]);
      }
      return buffer.length >= needed;
    };
    const consume = (bytes: number) => {
      buffer = buffer.subarray(bytes);
      bufferOffset += bytes;
    };
    while (await fill(HEADER_BYTES)) {
      const header = buffer.subarray(0, HEADER_BYTES);
      if (maskedCrc32c(header.subarray(0, 8)) !== header.readUInt32LE(8)) {
        onProblem({ offset: bufferOffset, kind: "length-crc" });
        return;
      }
      const length = Number(header.readBigUInt64LE(0));
      const total = HEADER_BYTES + length + FOOTER_BYTES;
      if (!(await fill(total))) return;
      const data = buffer.subarray(HEADER_BYTES, HEADER_BYTES + length);
      if (maskedCrc32c(data) === buffer.readUInt32LE(HEADER_BYTES + length)) yield Uint8Array.from(data);
      else onProblem({ offset: bufferOffset, kind: "data-crc" });
      consume(total);
    }
  } finally {
    await file.close();
  }
}
