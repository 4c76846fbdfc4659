#!/usr/bin/env python3
"""Compares two sample grids written by `argen sample` (8-bit RGB PNGs of the same size):
how many tiles (images) differ, and in how many pixels. Pure Python (zlib), no imaging
library. Usage: bench/png_diff.py A.png B.png TILE_SIDE [SCALE]

TILE_SIDE is the image side in pixels, SCALE the grid's magnification (default the one
`argen sample` uses: each pixel drawn as SCALE x SCALE, a 1-pixel border between images).
"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks, width, height, colour = 8, [], 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (0, 2), "8-bit grey or RGB only"
        elif kind == b"IDAT":
            chunks.append(body)
    channels = 3 if colour == 2 else 1
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def main():
    a, b, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
    wa, ha, ca, ra = read_png(a)
    wb, hb, cb, rb = read_png(b)
    assert (wa, ha, ca) == (wb, hb, cb), "the grids differ in size"
    differing = {}
    for y in range(ha):
        if ra[y] == rb[y]:
            continue
        for x in range(wa):
            if ra[y][x * ca : (x + 1) * ca] != rb[y][x * ca : (x + 1) * ca]:
                differing.setdefault((y, x), True)
    # Map screen pixels to (image, pixel): a 1-pixel border, then cells of side·scale + 1,
    # scale = clamp(64 / side, 2, 8) as `argen sample` draws them.
    scale = int(sys.argv[4]) if len(sys.argv) > 4 else min(8, max(2, 64 // side))
    cell = side * scale + 1
    columns = (wa - 1) // cell
    tiles = {}
    for (y, x) in differing:
        tile = ((y - 1) // cell) * columns + (x - 1) // cell
        pixel = (((y - 1) % cell) // scale, ((x - 1) % cell) // scale)
        tiles.setdefault(tile, set()).add(pixel)
    print(f"{len(tiles)} of the images differ", end="")
    if tiles:
        detail = ", ".join(
            f"image {t}: {len(p)} pixels from row {min(r for r, _ in p)}" for t, p in sorted(tiles.items())
        )
        print(f" ({detail})")
    else:
        print()


if __name__ == "__main__":
    main()
