/**
 * The framing of wandb's transaction log (`run-<id>.wandb`), as written by
 * wandb/sdk/internal/datastore.py and wandb-core: a 7-byte file header
 * (":W&B", magic 0xBEE1, version 0), then LevelDB-log-style 32 KiB blocks of
 * chunks, each `crc32 (uint32 LE), length (uint16 LE), type (uint8), data`.
 * Unlike LevelDB, the checksum is zlib's CRC-32 (not CRC-32C, not masked) of
 * the type byte followed by the data. A record too long for the rest of its
 * block is split into FIRST, MIDDLE... and LAST chunks; fewer than 7 bytes
 * left in a block are zero padding.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";

export const BLOCK_LENGTH = 32768;
export const HEADER_LENGTH = 7;
const IDENT = ":W&B";
const MAGIC = 0xbee1;
const VERSION = 0;

const FULL = 1;
const FIRST = 2;
// MIDDLE (3) chunks continue a FIRST one until its LAST.
const LAST = 4;

/** The first 7 bytes of a wandb transaction log. */
export function isWandbLogHeader(header: Uint8Array): boolean {
  if (header.length < HEADER_LENGTH) return false;
  const view = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  return view.toString("latin1", 0, 4) === IDENT && view.readUInt16LE(4) === MAGIC && view.readUInt8(6) === VERSION;
}

/** Whether the chunk at `at` fits in `block` and matches its checksum. */
function chunkIntact(block: Buffer, at: number): boolean {
  if (at + HEADER_LENGTH > block.length) return false;
  const length = block.readUInt16LE(at + 4);
  const type = block.readUInt8(at + 6);
  const end = at + HEADER_LENGTH + length;
  if (type < FULL || type > LAST || end > block.length) return false;
  return crc32(block.subarray(at + HEADER_LENGTH, end), crc32(Uint8Array.of(type))) === block.readUInt32LE(at);
}

export interface LogRecord {
  /** Byte offset in the file of the record's first chunk header. */
  offset: number;
  data: Uint8Array;
}

/**
 * The records of one transaction log, read a block at a time. A run that is
 * still writing ends in a partial record: the reader stops there quietly. A
 * chunk that does not match its checksum is skipped and `onCorrupt` told; the
 * length it gives is believed only when a sound chunk starts where it points,
 * otherwise the rest of its block is skipped (LevelDB's reader skips it
 * always). The rest of a record whose start was lost is dropped with it.
 */
export function* wandbLogRecords(path: string, onCorrupt: (offset: number) => void): Generator<LogRecord> {
  const fd = openSync(path, "r");
  try {
    const block = Buffer.alloc(BLOCK_LENGTH);
    let pending: Buffer[] = [];
    let pendingOffset = 0;
    // After a skipped block: the chunks that continue the record it cut are dropped without another warning.
    let dropping = false;
    for (let blockStart = 0; ; blockStart += BLOCK_LENGTH) {
      const filled = readSync(fd, block, 0, BLOCK_LENGTH, blockStart);
      if (filled === 0) return;
      let at = blockStart === 0 ? HEADER_LENGTH : 0;
      while (at + HEADER_LENGTH <= filled) {
        const checksum = block.readUInt32LE(at);
        const length = block.readUInt16LE(at + 4);
        const type = block.readUInt8(at + 6);
        if (type === 0 && length === 0 && checksum === 0) break;
        const end = at + HEADER_LENGTH + length;
        if (end > filled) {
          if (filled < BLOCK_LENGTH) return;
          onCorrupt(blockStart + at);
          pending = [];
          dropping = true;
          break;
        }
        const data = block.subarray(at + HEADER_LENGTH, end);
        const offset = blockStart + at;
        if (!chunkIntact(block, at)) {
          onCorrupt(offset);
          pending = [];
          dropping = true;
          // Its length is believed only when a sound chunk (or the end of the data) lies where it points.
          if (end === filled || BLOCK_LENGTH - end < HEADER_LENGTH || chunkIntact(block.subarray(0, filled), end)) {
            at = end;
            continue;
          }
          break;
        }
        at = end;
        if (type === FULL || type === FIRST) {
          // The record before never got its LAST chunk.
          if (pending.length > 0 && !dropping) onCorrupt(pendingOffset);
          pending = [];
          dropping = false;
          if (type === FULL) {
            yield { offset, data: Buffer.from(data) };
            continue;
          }
          pendingOffset = offset;
          pending.push(Buffer.from(data));
          continue;
        }
        if (pending.length === 0) {
          if (!dropping) onCorrupt(offset);
          dropping = true;
          continue;
        }
        pending.push(Buffer.from(data));
        if (type === LAST) {
          yield { offset: pendingOffset, data: Buffer.concat(pending) };
          pending = [];
        }
      }
      if (filled < BLOCK_LENGTH) return;
    }
  } finally {
    closeSync(fd);
  }
}
