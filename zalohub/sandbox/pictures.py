"""Small real pictures for the simulated customers' photos and stickers: PNGs drawn with
the standard library (zlib + struct), so the demo's inbox shows images, not 1-pixel
placeholders, and nothing is downloaded or added as a dependency.

Each picture is a little landscape (sky, sun, two hills) whose colours and layout come
from a hash of its name, so one message always shows the same picture and two messages
rarely look alike.
"""

import functools
import hashlib
import struct
import zlib

Colour = tuple[int, int, int]

SKIES: list[tuple[Colour, Colour]] = [
    ((120, 180, 245), (220, 238, 255)),  # day
    ((250, 170, 110), (255, 226, 170)),  # sunset
    ((90, 120, 200), (190, 170, 230)),  # dusk
    ((150, 210, 230), (235, 250, 245)),  # haze
]
HILLS: list[tuple[Colour, Colour]] = [
    ((70, 140, 80), (40, 105, 60)),
    ((150, 120, 80), (110, 85, 55)),
    ((90, 150, 150), (50, 110, 115)),
    ((160, 170, 90), (105, 125, 60)),
]


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from ``height`` rows of ``width * 3`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


@functools.lru_cache(maxsize=256)  # ~0.1 s to draw; a thread shows each one often
def landscape(key: str, width: int = 320, height: int = 240) -> bytes:
    """A PNG landscape chosen by ``key`` (a message id, a sticker id)."""
    seed = hashlib.sha256(key.encode()).digest()
    sky_top, sky_bottom = SKIES[seed[0] % len(SKIES)]
    far, near = HILLS[seed[1] % len(HILLS)]
    sun_x = width * (0.2 + 0.6 * seed[2] / 255)
    sun_y = height * (0.18 + 0.2 * seed[3] / 255)
    sun_r = min(width, height) * (0.08 + 0.06 * seed[4] / 255)
    sun: Colour = (255, 236, 140) if seed[5] % 2 else (255, 250, 230)
    # Two hills as shifted parabolas; their peaks move with the seed.
    peak_far = width * (0.25 + 0.5 * seed[6] / 255)
    peak_near = width * (0.15 + 0.7 * seed[7] / 255)
    rows = []
    for y in range(height):
        row = bytearray()
        sky = _mix(sky_top, sky_bottom, y / max(1, height - 1))
        for x in range(width):
            far_top = height * 0.55 + ((x - peak_far) / width) ** 2 * height * 0.9
            near_top = height * 0.72 + ((x - peak_near) / width) ** 2 * height * 0.7
            if y >= near_top:
                colour = near
            elif y >= far_top:
                colour = far
            elif (x - sun_x) ** 2 + (y - sun_y) ** 2 <= sun_r**2:
                colour = sun
            else:
                colour = sky
            row += bytes(colour)
        rows.append(bytes(row))
    return png(width, height, rows)
