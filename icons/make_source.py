"""Draws icons/source.png, the one image every platform icon is generated from.

A mosaic tile (a tessera): a rounded square of four small tiles, one of them
offset like a second factor. Pure standard library so that anyone can re-run it.
"""
import struct
import zlib

SIZE = 1024
BG = (0x1F, 0x3A, 0x5F, 255)
TILE = (0xF2, 0xF5, 0xF9, 255)
ACCENT = (0x3F, 0xB9, 0x8C, 255)


def inside_rounded(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x < x1 and y0 <= y < y1):
        return False
    cx = min(max(x, x0 + r), x1 - r - 1)
    cy = min(max(y, y0 + r), y1 - r - 1)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


tiles = [
    (232, 232, 492, 492, TILE),
    (532, 232, 792, 492, TILE),
    (232, 532, 492, 792, TILE),
    (552, 552, 812, 812, ACCENT),
]

rows = []
for y in range(SIZE):
    row = bytearray([0])
    for x in range(SIZE):
        px = (0, 0, 0, 0)
        if inside_rounded(x, y, 64, 64, 960, 960, 180):
            px = BG
            for (a, b, c, d, colour) in tiles:
                if inside_rounded(x, y, a, b, c, d, 36):
                    px = colour
        row.extend(px)
    rows.append(bytes(row))

raw = b"".join(rows)


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n"
png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw, 9))
png += chunk(b"IEND", b"")
with open(__file__.replace("make_source.py", "source.png"), "wb") as f:
    f.write(png)
