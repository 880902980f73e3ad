/** The point codec (chunk blobs) and the live-event cursor text. */
import { describe, expect, it } from "vitest";
import { parseCursor } from "../../src/server/events.js";
import { formatCursor } from "../../src/server/events-sse.js";
import { decodeFloats, decodeFloatsInto, encodeFloats } from "../../src/store/codec.js";

describe("point codec", () => {
  it("round-trips every float64, including -0, subnormals and extremes", () => {
    const values = Float64Array.from([0, -0, 1.5, -1e-310, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 - 1]);
    const blob = encodeFloats(values);
    expect(blob.length).toBe(values.length * 8);
    expect(Array.from(decodeFloats(blob))).toEqual(Array.from(values));
    expect(Object.is(decodeFloats(blob)[1], -0)).toBe(true);
  });

  it("decodes a blob at an unaligned offset into a target", () => {
    const blob = encodeFloats(Float64Array.from([1, 2, 3]));
    const unaligned = new Uint8Array(blob.length + 3).subarray(3);
    unaligned.set(blob);
    const target = new Float64Array(5);
    expect(decodeFloatsInto(unaligned, target, 2)).toBe(3);
    expect(Array.from(target)).toEqual([0, 0, 1, 2, 3]);
  });
});

describe("event cursors", () => {
  it("round-trip, and refuse anything else", () => {
    expect(parseCursor(formatCursor({ chunkId: 12, revision: 345 }))).toEqual({ chunkId: 12, revision: 345 });
    for (const bad of ["", "1", "1.2.3", "-1.2", "a.b", "1234567890123456.1"]) expect(parseCursor(bad)).toBeNull();
  });
});
