// Draws the customer app's icons (public/icons/*.png) with no image library:
// a plate with a fork and a knife, white on the app's green, each pixel
// sampled 4×4 for smooth edges, written as an RGBA PNG with node's zlib.
// `any` icons are a rounded square on a transparent ground; the maskable one
// fills the square and keeps the drawing inside the central 80 % circle that
// every launcher mask leaves visible. The PNGs are committed; run this again
// (`node apps/customer/scripts/icons.mjs`) only to change the drawing.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

const out = join(dirname(fileURLToPath(import.meta.url)), "../public/icons");
const GREEN = [0x1b, 0x7a, 0x50];
const WHITE = [0xff, 0xff, 0xff];

/** Distance to a rounded rectangle centred at (cx, cy) with half sizes (hw, hh) and corner radius r; < 0 inside. */
function roundRect(x, y, cx, cy, hw, hh, r) {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** The drawing in a unit square (0..1): which colour a point is, or null for transparent. */
function paint(x, y, maskable) {
  const bg = maskable ? true : roundRect(x, y, 0.5, 0.5, 0.5, 0.5, 0.18) <= 0;
  if (!bg) return null;
  // Everything white sits within radius 0.4 of the centre (the maskable safe zone) at scale s.
  const s = maskable ? 0.7 : 0.9;
  const u = (x - 0.5) / s + 0.5;
  const v = (y - 0.5) / s + 0.5;
  const d = Math.hypot(u - 0.5, v - 0.5);
  const plate = d <= 0.27 && d >= 0.2; // the plate's rim
  const inner = d <= 0.14 && d >= 0.11; // its well
  // Fork on the left: three tines over a handle; knife on the right.
  const forkHandle = roundRect(u, v, 0.12, 0.6, 0.022, 0.2, 0.02) <= 0;
  const forkHead = roundRect(u, v, 0.12, 0.36, 0.055, 0.04, 0.03) <= 0;
  const tines = [0.08, 0.12, 0.16].some((tx) => roundRect(u, v, tx, 0.26, 0.012, 0.08, 0.012) <= 0);
  const knifeHandle = roundRect(u, v, 0.88, 0.62, 0.022, 0.18, 0.02) <= 0;
  const knifeBlade = roundRect(u, v, 0.875, 0.33, 0.035, 0.13, 0.035) <= 0;
  return plate || inner || forkHandle || forkHead || tines || knifeHandle || knifeBlade ? WHITE : GREEN;
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function png(size, maskable) {
  const N = 4; // samples per axis
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let py = 0; py < size; py++) {
    const row = py * (size * 4 + 1);
    raw[row] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < N; sy++)
        for (let sx = 0; sx < N; sx++) {
          const c = paint((px + (sx + 0.5) / N) / size, (py + (sy + 0.5) / N) / size, maskable);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 1;
        }
      const o = row + 1 + px * 4;
      raw[o] = a ? Math.round(r / a) : 0;
      raw[o + 1] = a ? Math.round(g / a) : 0;
      raw[o + 2] = a ? Math.round(b / a) : 0;
      raw[o + 3] = Math.round((a / (N * N)) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

mkdirSync(out, { recursive: true });
for (const [name, size, maskable] of [
  ["icon-192.png", 192, false],
  ["icon-512.png", 512, false],
  ["maskable-512.png", 512, true],
  ["apple-touch-icon-180.png", 180, true],
]) {
  writeFileSync(join(out, name), png(size, maskable));
  console.log(`wrote ${name}`);
}
