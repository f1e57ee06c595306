//! The ESC/POS decoder on realistic receipts (snapshots of what a person
//! would read), on byte streams split anywhere, and on garbage.

use drivers::escpos_decode::{
    Align, Decoder, Line, LineKind, MAX_LINES, MAX_QR_DATA, Output, Page, Span,
};
use proptest::prelude::*;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const LF: u8 = 0x0A;

/// Builds ESC/POS bytes by hand, the way the Epson reference spells them.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn cmd(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn text(self, s: &str) -> Self {
        self.cmd(s.as_bytes())
    }
    fn line(self, s: &str) -> Self {
        self.text(s).cmd(&[LF])
    }
    fn qr(self, data: &str) -> Self {
        let len = u16::try_from(data.len() + 3).unwrap().to_le_bytes();
        self.cmd(&[GS, b'(', b'k', 4, 0, 49, 65, 50, 0]) // model 2
            .cmd(&[GS, b'(', b'k', 3, 0, 49, 67, 6]) // module size 6
            .cmd(&[GS, b'(', b'k', 3, 0, 49, 69, 49]) // error correction M
            .cmd(&[GS, b'(', b'k', len[0], len[1], 49, 80, 48])
            .text(data)
            .cmd(&[GS, b'(', b'k', 3, 0, 49, 81, 48])
    }
}

fn kitchen_ticket() -> Vec<u8> {
    Bytes::default()
        .cmd(&[ESC, b'@'])
        .cmd(&[ESC, b't', 0])
        .cmd(&[ESC, b'a', 1, ESC, b'E', 1])
        .line("KITCHEN - GRILL")
        .cmd(&[ESC, b'E', 0, GS, b'!', 0x11])
        .line("S-0042")
        .cmd(&[GS, b'!', 0, ESC, b'a', 0])
        .line("Table 12          Dine in          12:41")
        .line(&"-".repeat(48))
        .cmd(&[ESC, b'E', 1, GS, b'!', 0x01])
        .text("2x Burger medium")
        .cmd(&[ESC, b'E', 0, GS, b'!', 0])
        .cmd(&[LF])
        .cmd(&[ESC, b'-', 1])
        .line("   no onions")
        .cmd(&[ESC, b'-', 0])
        .text("1x Fries")
        .cmd(&[ESC, b'd', 1])
        .cmd(&[GS, b'B', 1])
        .line(" ALLERGY: gluten ")
        .cmd(&[GS, b'B', 0])
        .cmd(&[ESC, b'a', 2])
        .line("sent 12:41:07")
        .cmd(&[ESC, b'a', 1])
        .qr("order-0042")
        .cmd(&[ESC, b'd', 3])
        .cmd(&[GS, b'V', 66, 0])
        .0
}

fn customer_receipt() -> Vec<u8> {
    Bytes::default()
        .cmd(&[ESC, b'@'])
        .cmd(&[ESC, b't', 19]) // PC858, which has the euro sign at 0xD5
        .cmd(&[ESC, b'a', 1, GS, b'!', 0x10])
        .line("CAFE ROMA")
        .cmd(&[GS, b'!', 0])
        .line("Via Nazionale 12")
        .cmd(&[ESC, b'a', 0])
        .cmd(b"2x Espresso\t\t\t\t\xd5 5.00\n")
        .cmd(b"1x Tiramis\x97\t\t\t\t\xd5 6.50\n")
        .cmd(&[ESC, b'a', 2, ESC, b'!', 0x08])
        .cmd(b"TOTAL \xd5 11.50\n")
        .cmd(&[ESC, b'!', 0, ESC, b'a', 1])
        .cmd(&[0x10, 0x04, 0x04]) // the host checks the paper mid-job
        .line("Grazie!")
        .cmd(&[ESC, b'd', 2, GS, b'V', 1])
        .cmd(&[ESC, b'p', 0, 0x19, 0xFA])
        .0
}

fn pages(outputs: &[Output]) -> Vec<&Page> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Page(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn only_page(bytes: &[u8]) -> Page {
    let out = Decoder::new().feed(bytes);
    match pages(&out).as_slice() {
        [page] => (*page).clone(),
        other => panic!("expected one page, got {other:?}"),
    }
}

#[test]
fn kitchen_ticket_reads_as_printed() {
    let page = only_page(&kitchen_ticket());
    insta::assert_snapshot!(page.to_text());
    assert_eq!(page.lines[1].spans[0].width, 2);
    assert_eq!(page.lines[1].align, Align::Center);
    assert!(
        page.lines
            .iter()
            .any(|l| l.kind == LineKind::Qr("order-0042".into()))
    );
    assert!(page.cut);
}

#[test]
fn customer_receipt_with_euro_status_and_drawer() {
    let out = Decoder::new().feed(&customer_receipt());
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], Output::StatusRequest(4));
    let Output::Page(page) = &out[1] else {
        panic!("expected the page second, got {:?}", out[1]);
    };
    assert_eq!(
        out[2],
        Output::DrawerKick {
            pin: 2,
            on_ms: 50,
            off_ms: 500
        }
    );
    insta::assert_snapshot!(page.to_text());
    assert_eq!(
        page.text_lines()[2],
        format!("2x Espresso{}€ 5.00", " ".repeat(29))
    );
}

#[test]
fn split_feeds_give_the_same_outputs() {
    let bytes = kitchen_ticket();
    let whole = Decoder::new().feed(&bytes);
    // Every single split point, and byte by byte.
    for cut in 0..=bytes.len() {
        let mut d = Decoder::new();
        let mut out = d.feed(&bytes[..cut]);
        out.extend(d.feed(&bytes[cut..]));
        assert_eq!(out, whole, "split at {cut}");
    }
    let mut d = Decoder::new();
    let by_byte: Vec<Output> = bytes.chunks(1).flat_map(|c| d.feed(c)).collect();
    assert_eq!(by_byte, whole);
}

#[test]
fn finish_flushes_trailing_content_without_a_cut() {
    let mut d = Decoder::new();
    assert!(d.feed(b"\x1b@hello\nworld").is_empty());
    let page = d.finish().expect("pending content");
    assert_eq!(page.text_lines(), ["hello", "world"]);
    assert!(!page.cut);
    assert_eq!(d.finish(), None);
    // Only resets and status requests: nothing printed.
    let mut d = Decoder::new();
    assert_eq!(d.feed(b"\x1b@\x10\x04\x01"), [Output::StatusRequest(1)]);
    assert_eq!(d.finish(), None);
}

#[test]
fn images_and_barcodes_are_skipped_by_their_size() {
    let mut raster = vec![GS, b'v', b'0', 0, 48, 0, 100, 0]; // 384 x 100 dots
    raster.extend(std::iter::repeat_n(0x1B, 48 * 100)); // data that looks like commands
    let mut column = vec![ESC, b'*', 33, 0x80, 0x01]; // 384 dots, 24-dot rows
    column.extend(std::iter::repeat_n(b'A', 3 * 384));
    let bytes = Bytes::default()
        .cmd(&raster)
        .line("after raster")
        .cmd(&column)
        .cmd(&[LF])
        .cmd(&column)
        .cmd(&[LF])
        .cmd(&[GS, b'k', 4])
        .text("CODE39")
        .cmd(&[0])
        .cmd(&[GS, b'k', 73, 5])
        .text("12345")
        .cmd(&[GS, b'V', 0])
        .0;
    let page = only_page(&bytes);
    assert_eq!(
        page.text_lines(),
        [
            "[image 384x100]",
            "after raster",
            "[image 384x48]",
            "[barcode CODE39]",
            "[barcode 12345]"
        ]
    );
}

#[test]
fn oversized_qr_data_is_skipped_not_stored() {
    let mut bytes = vec![GS, b'(', b'k', 0xFF, 0xFF, 49, 80, 48];
    bytes.extend(std::iter::repeat_n(b'x', 0xFFFF - 3));
    bytes.extend([GS, b'(', b'k', 3, 0, 49, 81, 48]);
    bytes.extend(b"text\n\x1dV\x00");
    let page = only_page(&bytes);
    assert_eq!(page.text_lines(), ["text"]);
}

#[test]
fn pages_are_capped() {
    let mut bytes = vec![LF; MAX_LINES + 5];
    bytes.extend([GS, b'V', 0]);
    let page = only_page(&bytes);
    assert_eq!(page.lines.len(), MAX_LINES);
    assert_eq!(page.dropped_lines, 5);
    assert!(page.to_text().contains("[... 5 more lines dropped]"));
}

#[test]
fn unknown_commands_drop_the_command_byte_only() {
    // ESC y and GS z are no commands; ESC followed by LF is an LF.
    let page = only_page(b"a\x1byb\x1dzc\x1b\nd\x1dV\x00");
    assert_eq!(page.text_lines(), ["abc", "d"]);
}

#[test]
fn alignment_only_changes_at_the_start_of_a_line() {
    let page = only_page(b"left\x1ba\x01 still left\n\x1ba\x02right\n\x1dV\x00");
    assert_eq!(page.lines[0].align, Align::Left);
    assert_eq!(page.lines[1].align, Align::Right);
    assert_eq!(
        page.to_text(),
        format!("left still left\n{}right\n--- cut ---\n", " ".repeat(43))
    );
}

/// Bytes that steer the decoder into its commands more often than uniform bytes do.
fn command_heavy_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(vec![
        0x1B, 0x1D, 0x10, 0x1C, 0x0A, 0x09, 0x04, 0x14, 0x00, 0x01, 0x02, 0x03, 0x30, 0x31, b'!',
        b'(', b'k', b'v', b'V', b'a', b'd', b'E', b'-', b'*', b'&', b'D', b'p', b'8', b'L', 49, 80,
        81, 65, 0x80, 0xFF,
    ]);
    prop::collection::vec(prop_oneof![any::<u8>(), interesting], 0..max)
}

/// Split points for `len` bytes.
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for c in cuts {
        parts.push(bytes[start..c].to_vec());
        start = c;
    }
    parts.push(bytes[start..].to_vec());
    parts
}

fn check_bounds(out: &[Output], input_len: usize, columns: u16) -> Result<(), TestCaseError> {
    prop_assert!(out.len() <= input_len);
    for page in pages(out) {
        prop_assert!(page.lines.len() <= MAX_LINES);
        for line in &page.lines {
            prop_assert!(line.cells() <= usize::from(columns).max(8));
            if let LineKind::Qr(data) = &line.kind {
                prop_assert!(data.chars().count() <= MAX_QR_DATA);
            }
        }
    }
    Ok(())
}

proptest! {
    /// Any bytes: no panic, bounded output, and `finish` stays bounded too.
    #[test]
    fn garbage_never_panics(bytes in command_heavy_bytes(4096), uniform in prop::collection::vec(any::<u8>(), 0..4096)) {
        for input in [&bytes, &uniform] {
            let mut d = Decoder::with_columns(48);
            let out = d.feed(input);
            check_bounds(&out, input.len(), 48)?;
            if let Some(page) = d.finish() {
                check_bounds(&[Output::Page(page)], 1, 48)?;
            }
        }
    }

    /// Any bytes split anywhere decode exactly as when fed whole.
    #[test]
    fn chunking_does_not_matter(bytes in command_heavy_bytes(2048), cuts in prop::collection::vec(any::<usize>(), 0..16)) {
        let mut whole = Decoder::new();
        let mut expected = whole.feed(&bytes);
        expected.extend(whole.finish().map(Output::Page));
        let mut parts = Decoder::new();
        let mut got: Vec<Output> = split(&bytes, &cuts).iter().flat_map(|p| parts.feed(p)).collect();
        got.extend(parts.finish().map(Output::Page));
        prop_assert_eq!(got, expected);
    }

    /// Styled lines written with a tiny encoder read back as the same lines.
    #[test]
    fn styled_lines_round_trip(lines in prop::collection::vec(styled_line(), 0..30)) {
        let mut bytes = vec![ESC, b'@'];
        for l in &lines {
            let align = match l.align { Align::Left => 0, Align::Center => 1, Align::Right => 2 };
            bytes.extend([ESC, b'a', align, ESC, b'E', u8::from(l.bold), ESC, b'-', u8::from(l.underline)]);
            bytes.extend([GS, b'B', u8::from(l.invert), GS, b'!', ((l.width - 1) << 4) | (l.height - 1)]);
            bytes.extend(l.text.as_bytes());
            bytes.push(LF);
        }
        bytes.extend([GS, b'V', 0]);
        let page = only_page(&bytes);
        let expected: Vec<Line> = lines.iter().map(|l| Line {
            spans: if l.text.is_empty() { vec![] } else { vec![Span {
                text: l.text.clone(), bold: l.bold, underline: l.underline,
                invert: l.invert, width: l.width, height: l.height,
            }] },
            align: l.align,
            kind: LineKind::Text,
        }).collect();
        prop_assert_eq!(page.lines, expected);
    }
}

#[derive(Debug, Clone)]
struct StyledLine {
    text: String,
    bold: bool,
    underline: bool,
    invert: bool,
    width: u8,
    height: u8,
    align: Align,
}

fn styled_line() -> impl Strategy<Value = StyledLine> {
    (1u8..=8, 1u8..=8).prop_flat_map(|(width, height)| {
        let max = 48 / usize::from(width);
        (
            prop::string::string_regex(&format!("[ -~]{{0,{max}}}")).unwrap(),
            any::<(bool, bool, bool)>(),
            prop::sample::select(vec![Align::Left, Align::Center, Align::Right]),
        )
            .prop_map(move |(text, (bold, underline, invert), align)| StyledLine {
                text,
                bold,
                underline,
                invert,
                width,
                height,
                align,
            })
    })
}
