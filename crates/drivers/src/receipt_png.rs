//! Draws a decoded [`Page`] as the paper would look: a PNG a person can open
//! to check a receipt or kitchen ticket without a printer.
//!
//! The paper is `columns * 12` dots wide (576 for 48 columns, 80 mm at
//! 203 dpi). Font A is a 12 x 24 dot cell: the `font8x8` glyph scaled
//! nearest-neighbour 1.5 x horizontally and 2.5 x vertically, with two dots
//! of air above and below; a span's width/height multiply the cell. Bold is
//! the glyph drawn twice one dot apart; white-on-black spans are drawn
//! inverted; underline is a 2-dot bar. QR codes are drawn with the `qrcode`
//! crate (about 6 dots per module, smaller if the symbol would not fit).
//! Barcodes and images are drawn as labelled stand-ins: their pixels are not
//! kept by the decoder, and the barcode bars are not scannable. A cut is a
//! dashed line. The picture is at most [`MAX_HEIGHT`] dots tall; lines past
//! that are left out and a note says so.

use crate::escpos_decode::{Align, Line, LineKind, Page, Span};
use font8x8::UnicodeFonts as _;
use image::ImageEncoder as _;

/// Width of one font A character in dots.
pub const CELL_W: u32 = 12;
/// Height of one font A character in dots.
pub const CELL_H: u32 = 24;
/// Extra dots between lines (the default line spacing is 30 dots).
pub const LINE_GAP: u32 = 6;
/// Tallest picture drawn, in dots (about 3.7 m of paper).
pub const MAX_HEIGHT: u32 = 30_000;
/// Preferred size of one QR module in dots.
pub const QR_MODULE: u32 = 6;

const MARGIN_TOP: u32 = 12;
const MARGIN_BOTTOM: u32 = 12;
const CUT_BAND: u32 = 24;
const QR_QUIET: u32 = 2;
const BARCODE_H: u32 = 72;
const MAX_IMAGE_H: u32 = 1200;
const BLACK: u8 = 0;
const WHITE: u8 = 255;

#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// The page as a grayscale PNG.
pub fn render_png(page: &Page) -> Result<Vec<u8>, PngError> {
    let width = u32::from(page.columns.max(1)) * CELL_W;
    let mut planned = Vec::new();
    let mut height = MARGIN_TOP;
    let mut left_out = u64::from(page.dropped_lines);
    let reserve = 2 * (CELL_H + LINE_GAP) + CUT_BAND + MARGIN_BOTTOM;
    for line in &page.lines {
        let h = line_height(line, width);
        if height + h + reserve > MAX_HEIGHT {
            left_out += 1;
            continue;
        }
        planned.push((line, height));
        height += h;
    }
    let note_y = height;
    if left_out > 0 {
        height += CELL_H + LINE_GAP;
    }
    let cut_y = height;
    if page.cut {
        height += CUT_BAND;
    }
    height += MARGIN_BOTTOM;

    let mut canvas = Canvas::new(width, height);
    for (line, y) in planned {
        draw_line(&mut canvas, line, y);
    }
    if left_out > 0 {
        let note = Line {
            spans: vec![plain_span(&format!(
                "[... {left_out} more lines not drawn]"
            ))],
            align: Align::Center,
            kind: LineKind::Text,
        };
        draw_line(&mut canvas, &note, note_y);
    }
    if page.cut {
        let y = cut_y + CUT_BAND / 2 - 1;
        let mut x = 0;
        while x < width {
            canvas.fill(x, y, 10, 2, BLACK);
            x += 16;
        }
    }
    canvas.encode()
}

fn plain_span(text: &str) -> Span {
    Span {
        text: text.to_string(),
        bold: false,
        underline: false,
        invert: false,
        width: 1,
        height: 1,
    }
}

fn qr_modules(data: &str) -> Option<(u32, Vec<qrcode::Color>)> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    let n = u32::try_from(code.width()).ok()?;
    Some((n, code.into_colors()))
}

fn qr_module_size(modules: u32, paper: u32) -> u32 {
    (paper / (modules + 2 * QR_QUIET)).clamp(1, QR_MODULE)
}

/// Dots a line takes on the paper, gap included.
fn line_height(line: &Line, paper: u32) -> u32 {
    let body = match &line.kind {
        LineKind::Text => line
            .spans
            .iter()
            .map(|s| CELL_H * u32::from(s.height))
            .max()
            .unwrap_or(CELL_H),
        LineKind::Qr(data) => match qr_modules(data) {
            Some((n, _)) => (n + 2 * QR_QUIET) * qr_module_size(n, paper),
            None => CELL_H,
        },
        LineKind::Barcode(_) => BARCODE_H + CELL_H,
        LineKind::Image { height, .. } => (*height).clamp(CELL_H, MAX_IMAGE_H),
    };
    body + LINE_GAP
}

/// Left edge of something `w` dots wide on a line aligned `align`.
fn left(align: Align, w: u32, paper: u32) -> u32 {
    let free = paper.saturating_sub(w);
    match align {
        Align::Left => 0,
        Align::Center => free / 2,
        Align::Right => free,
    }
}

fn draw_line(canvas: &mut Canvas, line: &Line, top: u32) {
    let paper = canvas.width;
    match &line.kind {
        LineKind::Text => {
            let body = line_height(line, paper) - LINE_GAP;
            let text_w = u32::try_from(line.cells()).unwrap_or(u32::MAX) * CELL_W;
            let mut x = left(line.align, text_w, paper);
            for span in &line.spans {
                x = draw_span(canvas, span, x, top + body);
            }
        }
        LineKind::Qr(data) => match qr_modules(data) {
            Some((n, colors)) => {
                let m = qr_module_size(n, paper);
                let size = (n + 2 * QR_QUIET) * m;
                let x0 = left(line.align, size, paper) + QR_QUIET * m;
                let y0 = top + QR_QUIET * m;
                for (i, color) in colors.iter().enumerate() {
                    if *color == qrcode::Color::Dark {
                        let i = u32::try_from(i).unwrap_or(u32::MAX);
                        canvas.fill(x0 + (i % n) * m, y0 + (i / n) * m, m, m, BLACK);
                    }
                }
            }
            None => {
                let label = plain_span("[QR data too long]");
                draw_label(canvas, &label, line.align, top + CELL_H);
            }
        },
        LineKind::Barcode(data) => {
            // Bars from the data bits between two guard bars: a stand-in, not a symbology.
            let bits: Vec<bool> = [true, false, true, false]
                .into_iter()
                .chain(
                    data.bytes()
                        .flat_map(|b| (0..8).map(move |i| b & (0x80 >> i) != 0)),
                )
                .chain([false, true, false, true])
                .collect();
            let unit = 2;
            let total = u32::try_from(bits.len())
                .unwrap_or(u32::MAX)
                .saturating_mul(unit);
            let x0 = left(line.align, total.min(paper), paper);
            for (i, bar) in bits.iter().enumerate() {
                let x = x0 + u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(unit);
                if *bar && x < paper {
                    canvas.fill(x, top, unit, BARCODE_H, BLACK);
                }
            }
            draw_label(
                canvas,
                &plain_span(data),
                line.align,
                top + BARCODE_H + CELL_H,
            );
        }
        LineKind::Image { width, height } => {
            let w = (*width).clamp(CELL_W, paper);
            let h = (*height).clamp(CELL_H, MAX_IMAGE_H);
            let x0 = left(line.align, w, paper);
            // A hatched, framed box where the image goes.
            for y in 0..h {
                for x in 0..w {
                    let frame = x < 2 || y < 2 || x + 2 >= w || y + 2 >= h;
                    if frame || (x + y) % 12 == 0 {
                        canvas.set(x0 + x, top + y, BLACK);
                    }
                }
            }
            let label = plain_span(&format!("[image {width}x{height}]"));
            let label_w = u32::try_from(label.cells()).unwrap_or(u32::MAX) * CELL_W;
            let lx = x0 + w.saturating_sub(label_w) / 2;
            let ly = top + h / 2 + CELL_H / 2;
            canvas.fill(lx, ly.saturating_sub(CELL_H), label_w.min(w), CELL_H, WHITE);
            draw_span(canvas, &label, lx, ly);
        }
    }
}

/// A one-span text line placed with `align`, bottom at `bottom`.
fn draw_label(canvas: &mut Canvas, span: &Span, align: Align, bottom: u32) {
    let w = u32::try_from(span.cells()).unwrap_or(u32::MAX) * CELL_W;
    let x = left(align, w, canvas.width);
    draw_span(canvas, span, x, bottom);
}

/// Draws a span whose cells stand on `bottom`; returns the x after it.
fn draw_span(canvas: &mut Canvas, span: &Span, mut x: u32, bottom: u32) -> u32 {
    let cw = CELL_W * u32::from(span.width.max(1));
    let ch = CELL_H * u32::from(span.height.max(1));
    let top = bottom.saturating_sub(ch);
    let (fg, bg) = if span.invert {
        (WHITE, BLACK)
    } else {
        (BLACK, WHITE)
    };
    for c in span.text.chars() {
        if span.invert {
            canvas.fill(x, top, cw, ch, bg);
        }
        let glyph = glyph(c);
        draw_glyph(canvas, &glyph, x, top, cw, ch, fg);
        if span.bold {
            draw_glyph(
                canvas,
                &glyph,
                x + u32::from(span.width.max(1)),
                top,
                cw,
                ch,
                fg,
            );
        }
        if span.underline {
            canvas.fill(x, bottom.saturating_sub(2), cw, 2, fg);
        }
        x += cw;
    }
    x
}

/// Draws an 8x8 glyph into a `cw` x `ch` cell (1/12 of the height stays empty
/// above and below, the rest is the glyph scaled nearest-neighbour).
fn draw_glyph(canvas: &mut Canvas, glyph: &[u8; 8], x: u32, y: u32, cw: u32, ch: u32, fg: u8) {
    let pad = ch / 12;
    let gh = ch - 2 * pad;
    for py in 0..gh {
        let row = glyph.get((py * 8 / gh) as usize).copied().unwrap_or(0);
        for px in 0..cw {
            // In font8x8 bit 0 is the leftmost dot.
            if row & (1 << (px * 8 / cw)) != 0 {
                canvas.set(x + px, y + pad + py, fg);
            }
        }
    }
}

fn glyph(c: char) -> [u8; 8] {
    if c == '€' {
        return EURO;
    }
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::BOX_FONTS.get(c))
        .or_else(|| font8x8::BLOCK_FONTS.get(c))
        .or_else(|| font8x8::GREEK_FONTS.get(c))
        .or_else(|| font8x8::MISC_FONTS.get(c))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// `€`, which font8x8 lacks (bit 0 is the leftmost dot).
const EURO: [u8; 8] = [0x3C, 0x42, 0x1F, 0x02, 0x1F, 0x42, 0x3C, 0x00];

/// An 8-bit grayscale picture that ignores drawing outside its bounds.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![WHITE; width as usize * height as usize],
        }
    }

    fn set(&mut self, x: u32, y: u32, v: u8) {
        if x < self.width && y < self.height {
            let i = y as usize * self.width as usize + x as usize;
            if let Some(p) = self.pixels.get_mut(i) {
                *p = v;
            }
        }
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, v: u8) {
        for yy in y..y.saturating_add(h).min(self.height) {
            for xx in x..x.saturating_add(w).min(self.width) {
                self.set(xx, yy, v);
            }
        }
    }

    fn encode(&self) -> Result<Vec<u8>, PngError> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out).write_image(
            &self.pixels,
            self.width,
            self.height,
            image::ExtendedColorType::L8,
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos_decode::{Decoder, Output};

    fn decode(bytes: &[u8]) -> Page {
        let mut d = Decoder::new();
        let out = d.feed(bytes);
        out.into_iter()
            .find_map(|o| match o {
                Output::Page(p) => Some(p),
                _ => None,
            })
            .expect("a page")
    }

    fn dark(img: &image::DynamicImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        let g = img.to_luma8();
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| g.get_pixel(x, y).0[0] < 128)
            .count()
    }

    #[test]
    fn width_is_the_paper_and_height_grows_with_lines() {
        let short = render_png(&decode(b"one\n\x1dV\x00")).unwrap();
        let long = render_png(&decode(b"one\ntwo\nthree\n\x1dV\x00")).unwrap();
        let short = image::load_from_memory(&short).unwrap();
        let long = image::load_from_memory(&long).unwrap();
        assert_eq!(short.width(), 576);
        assert_eq!(long.width(), 576);
        assert_eq!(long.height(), short.height() + 2 * (CELL_H + LINE_GAP));
        // The text is drawn: ink in the first line's cells, none to the right.
        assert!(dark(&short, 0, MARGIN_TOP, 36, MARGIN_TOP + CELL_H) > 20);
        assert_eq!(dark(&short, 40, MARGIN_TOP, 576, MARGIN_TOP + CELL_H), 0);
    }

    #[test]
    fn qr_code_is_drawn_in_the_middle() {
        let mut bytes = b"\x1ba\x01".to_vec();
        let data = b"order-0042";
        let len = u16::try_from(data.len() + 3).unwrap().to_le_bytes();
        bytes.extend([0x1d, b'(', b'k', len[0], len[1], 49, 80, 48]);
        bytes.extend(data);
        bytes.extend(b"\x1d(k\x03\x001Q0\x1dV\x00");
        let page = decode(&bytes);
        let img = image::load_from_memory(&render_png(&page).unwrap()).unwrap();
        let size = line_height(&page.lines[0], 576) - LINE_GAP;
        let x0 = (576 - size) / 2;
        let ink = dark(&img, x0, MARGIN_TOP, x0 + size, MARGIN_TOP + size);
        assert!(ink > 1000, "only {ink} dark pixels in the QR region");
        assert_eq!(dark(&img, 0, MARGIN_TOP, x0, MARGIN_TOP + size), 0);
    }

    #[test]
    fn every_kind_of_line_renders() {
        let mut bytes =
            b"\x1b!\x38big\x1d!\x00 \x1dB\x01inv\x1dB\x00 \x1b-\x01u\n\x1dk\x04ABC\x00".to_vec();
        bytes.extend(b"\x1dv0\x00\x02\x00\x10\x00");
        bytes.extend([0xAA; 32]);
        bytes.extend(b"\x1dV\x00");
        let mut page = decode(&bytes);
        assert_eq!(page.lines.len(), 3, "{page:?}");
        page.dropped_lines = 3;
        let img = image::load_from_memory(&render_png(&page).unwrap()).unwrap();
        assert_eq!(img.width(), 576);
    }
}
