//! Reads ESC/POS bytes back into what a printer would put on paper: a
//! streaming decoder for the virtual printer ([`crate::printer_sim`]) and for
//! snapshot tests of [`crate::render`].
//!
//! The decoder is written against Epson's public ESC/POS command reference,
//! not against our renderer. It is a byte-at-a-time state machine, so bytes may
//! arrive split anywhere across [`Decoder::feed`] calls and the result is the
//! same as feeding them whole. Outside bytes never make it panic, and memory is
//! bounded: a page keeps at most [`MAX_LINES`] lines of at most `columns`
//! cells, a QR code at most [`MAX_QR_DATA`] bytes, a barcode at most
//! [`MAX_BARCODE_DATA`]; image data and anything larger is skipped by its
//! declared length without being buffered.
//!
//! Unknown commands: after `ESC`, `GS` or `FS`, a command byte we do not know
//! is dropped together with its prefix (a command byte is never meant to be
//! printed); its arguments, if it had any, then print as text, which is what
//! makes such a mistake visible. A control byte right after the prefix is not
//! a command byte and is processed normally.

use std::fmt::Write as _;

/// At most this many lines are kept per page; later lines are counted in
/// [`Page::dropped_lines`].
pub const MAX_LINES: usize = 10_000;
/// The most a QR code (model 2, version 40) can hold; longer data is skipped.
pub const MAX_QR_DATA: usize = 7089;
/// Barcode data longer than this is cut off.
pub const MAX_BARCODE_DATA: usize = 255;
/// Characters per line of font A on 80 mm paper.
pub const DEFAULT_COLUMNS: u16 = 48;
/// The widest line the decoder accepts as `columns`.
pub const MAX_COLUMNS: u16 = 255;

const HT: u8 = 0x09;
const LF: u8 = 0x0A;
const DLE: u8 = 0x10;
const ESC: u8 = 0x1B;
const FS: u8 = 0x1C;
const GS: u8 = 0x1D;
const EOT: u8 = 0x04;
const ENQ: u8 = 0x05;
const DC4: u8 = 0x14;

/// What the decoder hands out while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A job finished (paper cut). [`Decoder::finish`] produces the same for
    /// trailing content without a cut.
    Page(Page),
    /// The host asked for real-time status (`DLE EOT n`, n = 1..=4): a printer
    /// answers one byte at once.
    StatusRequest(u8),
    /// Pulse to the cash drawer connector (`ESC p` or `DLE DC4 1`).
    /// `pin` is the connector pin: 2 or 5.
    DrawerKick { pin: u8, on_ms: u32, off_ms: u32 },
}

/// One cut-off piece of paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub lines: Vec<Line>,
    /// True when a cut ended the page, false when the stream just stopped.
    pub cut: bool,
    /// Characters of font A per line (48 on 80 mm paper).
    pub columns: u16,
    /// Lines beyond [`MAX_LINES`] that were not kept.
    pub dropped_lines: u32,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text of a [`LineKind::Text`] line; empty for a blank line and for
    /// the other kinds.
    pub spans: Vec<Span>,
    pub align: Align,
    pub kind: LineKind,
}

/// What a line holds besides text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    Text,
    /// A QR code with its data (read as UTF-8, invalid bytes replaced).
    Qr(String),
    /// A 1D barcode (`GS k`) with its data.
    Barcode(String),
    /// A bit or raster image; the pixels are not kept, only the size in dots.
    Image {
        width: u32,
        height: u32,
    },
}

/// A run of characters printed with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
    pub underline: bool,
    /// White on black (`GS B`).
    pub invert: bool,
    /// Character width multiplier, 1..=8.
    pub width: u8,
    /// Character height multiplier, 1..=8.
    pub height: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

impl Span {
    /// Cells this span takes on the line (`width` per character).
    pub fn cells(&self) -> usize {
        self.text.chars().count() * usize::from(self.width)
    }
}

impl Line {
    /// Cells taken by the text of the line.
    pub fn cells(&self) -> usize {
        self.spans.iter().map(Span::cells).sum()
    }

    /// The text without any markup.
    pub fn plain_text(&self) -> String {
        match &self.kind {
            LineKind::Text => self.spans.iter().map(|s| s.text.as_str()).collect(),
            LineKind::Qr(data) => format!("[QR {data}]"),
            LineKind::Barcode(data) => format!("[barcode {data}]"),
            LineKind::Image { width, height } => format!("[image {width}x{height}]"),
        }
    }

    /// The line with markup (see [`Page::to_text`]), without alignment padding.
    fn marked_up(&self) -> String {
        if self.kind != LineKind::Text {
            return self.plain_text();
        }
        let mut out = String::new();
        for span in &self.spans {
            if span.width > 1 || span.height > 1 {
                let _ = write!(out, "[{}x{}] ", span.width, span.height);
            }
            let mut text = span.text.clone();
            if span.invert {
                text = format!("##{text}##");
            }
            if span.underline {
                text = format!("__{text}__");
            }
            if span.bold {
                text = format!("**{text}**");
            }
            out.push_str(&text);
        }
        out
    }

    /// Cells of the printed line: the text for a text line, the marker for the others.
    fn printed_cells(&self) -> usize {
        match self.kind {
            LineKind::Text => self.cells(),
            _ => self.plain_text().chars().count(),
        }
    }
}

impl Page {
    /// The page as a human reads it, one line per printed line:
    /// bold as `**text**`, underline as `__text__`, white-on-black as
    /// `##text##`, text larger than normal prefixed with its size (`[2x2] S-0042`),
    /// centred and right-aligned lines padded to `columns` (the padding counts
    /// printed cells, so a width-2 character takes 2), `[QR data]`,
    /// `[barcode data]`, `[image WxH]`, and `--- cut ---` after a cut.
    /// Trailing spaces are trimmed.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let free = usize::from(self.columns).saturating_sub(line.printed_cells());
            let pad = match line.align {
                Align::Left => 0,
                Align::Center => free / 2,
                Align::Right => free,
            };
            let text = format!("{}{}", " ".repeat(pad), line.marked_up());
            out.push_str(text.trim_end());
            out.push('\n');
        }
        if self.dropped_lines > 0 {
            let _ = writeln!(out, "[... {} more lines dropped]", self.dropped_lines);
        }
        if self.cut {
            out.push_str("--- cut ---\n");
        }
        out
    }

    /// Each line's text without markup or padding, trailing spaces trimmed.
    pub fn text_lines(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.plain_text().trim_end().to_string())
            .collect()
    }
}

/// The character style in effect, as the print-mode commands set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Style {
    emphasized: bool,
    double_strike: bool,
    underline: bool,
    invert: bool,
    width: u8,
    height: u8,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            emphasized: false,
            double_strike: false,
            underline: false,
            invert: false,
            width: 1,
            height: 1,
        }
    }
}

impl Style {
    fn span(self, text: String) -> Span {
        Span {
            text,
            bold: self.emphasized || self.double_strike,
            underline: self.underline,
            invert: self.invert,
            width: self.width,
            height: self.height,
        }
    }

    fn same_look(self, span: &Span) -> bool {
        let s = self.span(String::new());
        (s.bold, s.underline, s.invert, s.width, s.height)
            == (
                span.bold,
                span.underline,
                span.invert,
                span.width,
                span.height,
            )
    }
}

/// The code page selected with `ESC t n`; bytes below 0x80 are ASCII in all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodePage {
    Pc437,
    Pc850,
    Pc858,
    Wpc1252,
}

impl CodePage {
    fn from_esc_t(n: u8) -> CodePage {
        match n {
            2 => CodePage::Pc850,
            16 => CodePage::Wpc1252,
            19 => CodePage::Pc858,
            // Every other table prints as PC437, the printer's default.
            _ => CodePage::Pc437,
        }
    }

    /// The character a byte >= 0x80 prints as.
    fn upper(self, b: u8) -> char {
        let i = usize::from(b.wrapping_sub(0x80));
        let table: &[char; 128] = match self {
            CodePage::Pc437 => &PC437_UPPER,
            CodePage::Pc850 | CodePage::Pc858 => &PC850_UPPER,
            CodePage::Wpc1252 => {
                return match b {
                    0x80..=0x9F => WPC1252_80_9F.get(i).copied().unwrap_or('?'),
                    _ => char::from(b),
                };
            }
        };
        if self == CodePage::Pc858 && b == 0xD5 {
            return '€';
        }
        table.get(i).copied().unwrap_or('?')
    }
}

#[rustfmt::skip]
const PC437_UPPER: [char; 128] = [
    'Ç','ü','é','â','ä','à','å','ç','ê','ë','è','ï','î','ì','Ä','Å',
    'É','æ','Æ','ô','ö','ò','û','ù','ÿ','Ö','Ü','¢','£','¥','₧','ƒ',
    'á','í','ó','ú','ñ','Ñ','ª','º','¿','⌐','¬','½','¼','¡','«','»',
    '░','▒','▓','│','┤','╡','╢','╖','╕','╣','║','╗','╝','╜','╛','┐',
    '└','┴','┬','├','─','┼','╞','╟','╚','╔','╩','╦','╠','═','╬','╧',
    '╨','╤','╥','╙','╘','╒','╓','╫','╪','┘','┌','█','▄','▌','▐','▀',
    'α','ß','Γ','π','Σ','σ','µ','τ','Φ','Θ','Ω','δ','∞','φ','ε','∩',
    '≡','±','≥','≤','⌠','⌡','÷','≈','°','∙','·','√','ⁿ','²','■','\u{a0}',
];

/// PC850; PC858 is the same with `€` at 0xD5 instead of `ı`.
#[rustfmt::skip]
const PC850_UPPER: [char; 128] = [
    'Ç','ü','é','â','ä','à','å','ç','ê','ë','è','ï','î','ì','Ä','Å',
    'É','æ','Æ','ô','ö','ò','û','ù','ÿ','Ö','Ü','ø','£','Ø','×','ƒ',
    'á','í','ó','ú','ñ','Ñ','ª','º','¿','®','¬','½','¼','¡','«','»',
    '░','▒','▓','│','┤','Á','Â','À','©','╣','║','╗','╝','¢','¥','┐',
    '└','┴','┬','├','─','┼','ã','Ã','╚','╔','╩','╦','╠','═','╬','¤',
    'ð','Ð','Ê','Ë','È','ı','Í','Î','Ï','┘','┌','█','▄','¦','Ì','▀',
    'Ó','ß','Ô','Ò','õ','Õ','µ','þ','Þ','Ú','Û','Ù','ý','Ý','¯','´',
    '-','±','‗','¾','¶','§','÷','¸','°','¨','·','¹','³','²','■','\u{a0}',
];

/// Windows-1252 between 0x80 and 0x9F (0xA0..=0xFF are Latin-1); unassigned bytes print `?`.
#[rustfmt::skip]
const WPC1252_80_9F: [char; 32] = [
    '€','?','‚','ƒ','„','…','†','‡','ˆ','‰','Š','‹','Œ','?','Ž','?',
    '?','‘','’','“','”','•','–','—','˜','™','š','›','œ','?','ž','Ÿ',
];

/// A command whose fixed-size arguments are being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// Arguments read and thrown away.
    Ignore,
    EscBang,
    EscMinus,
    EscE,
    EscG,
    EscJ,
    EscA,
    EscD,
    EscT,
    EscP,
    EscStar,
    EscAmp,
    /// `ESC (`, `GS (` (not `k`), `FS (`: function byte, pL, pH, then p bytes.
    ParenSkip,
    GsBang,
    GsB,
    GsV,
    GsVFeed,
    GsSmallV,
    GsStar,
    Gs8,
    GsK,
    GsKLen,
    /// `GS ( k pL pH`.
    GsParenKLen,
    /// `cn fn` of `GS ( k` with the remaining parameter length.
    GsParenKHead(u16),
    DleEot,
    DleDc4,
    DleDc4Pulse,
}

/// Where the decoder stands between bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ground,
    Esc,
    Gs,
    Fs,
    Dle,
    Args {
        cmd: Cmd,
        need: u8,
        have: u8,
        buf: [u8; 8],
    },
    /// Throw away this many bytes (image data, unsupported blocks).
    Skip(u64),
    /// `ESC D`: tab positions until NUL, at most 32.
    TabStops,
    /// `ESC & y c1 c2`: per character `x` then `y * x` bytes.
    UserChars {
        y: u8,
        chars_left: u16,
        data_left: u32,
    },
    /// `GS ( k` function 80: the `m` byte (first) then the QR data.
    QrStore {
        m_pending: bool,
        left: u32,
    },
    /// `GS k m d1..dk NUL` (m = 0..=6).
    BarcodeNul,
    /// `GS k m n d1..dn` (m = 65..=79).
    BarcodeLen(u8),
}

/// Streaming ESC/POS decoder. See the module documentation.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    columns: u16,
    style: Style,
    align: Align,
    code_page: CodePage,
    /// Custom tab stops (`ESC D`) in cells; `None` means every 8 cells.
    tabs: Option<Vec<u16>>,
    qr_data: Vec<u8>,
    barcode: Vec<u8>,
    /// The line being filled (not printed yet).
    spans: Vec<Span>,
    cells: u16,
    /// An `ESC *` image row was printed on this line, so the next LF ends it
    /// instead of feeding a blank line.
    image_row: bool,
    lines: Vec<Line>,
    dropped_lines: u32,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder for 80 mm paper (48 columns).
    pub fn new() -> Self {
        Self::with_columns(DEFAULT_COLUMNS)
    }

    /// A decoder whose lines wrap after `columns` cells (clamped to 1..=[`MAX_COLUMNS`]).
    pub fn with_columns(columns: u16) -> Self {
        Decoder {
            state: State::Ground,
            columns: columns.clamp(1, MAX_COLUMNS),
            style: Style::default(),
            align: Align::Left,
            code_page: CodePage::Pc437,
            tabs: None,
            qr_data: Vec::new(),
            barcode: Vec::new(),
            spans: Vec::new(),
            cells: 0,
            image_row: false,
            lines: Vec::new(),
            dropped_lines: 0,
        }
    }

    pub fn columns(&self) -> u16 {
        self.columns
    }

    /// Reads some bytes; returns what they completed, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Output> {
        bytes.iter().filter_map(|&b| self.feed_byte(b)).collect()
    }

    /// Reads one byte. One byte completes at most one output.
    pub fn feed_byte(&mut self, b: u8) -> Option<Output> {
        let state = std::mem::replace(&mut self.state, State::Ground);
        match state {
            State::Ground => self.ground(b),
            State::Esc => self.esc(b),
            State::Gs => self.gs(b),
            State::Fs => self.fs(b),
            State::Dle => self.dle(b),
            State::Args {
                cmd,
                need,
                have,
                mut buf,
            } => {
                if let Some(slot) = buf.get_mut(usize::from(have)) {
                    *slot = b;
                }
                let have = have + 1;
                if have < need {
                    self.state = State::Args {
                        cmd,
                        need,
                        have,
                        buf,
                    };
                    None
                } else {
                    self.execute(cmd, buf)
                }
            }
            State::Skip(n) => {
                if n > 1 {
                    self.state = State::Skip(n - 1);
                }
                None
            }
            State::TabStops => {
                let tabs = self.tabs.get_or_insert_with(Vec::new);
                if b != 0 {
                    tabs.push(u16::from(b));
                    if tabs.len() < 32 {
                        self.state = State::TabStops;
                    }
                }
                None
            }
            State::UserChars {
                y,
                chars_left,
                data_left,
            } => {
                let (chars_left, data_left) = if data_left > 0 {
                    (chars_left, data_left - 1)
                } else {
                    // `b` is the width x of the next character.
                    (chars_left.saturating_sub(1), u32::from(y) * u32::from(b))
                };
                if chars_left > 0 || data_left > 0 {
                    self.state = State::UserChars {
                        y,
                        chars_left,
                        data_left,
                    };
                }
                None
            }
            State::QrStore { m_pending, left } => {
                if !m_pending && self.qr_data.len() < MAX_QR_DATA {
                    self.qr_data.push(b);
                }
                if left > 1 {
                    self.state = State::QrStore {
                        m_pending: false,
                        left: left - 1,
                    };
                }
                None
            }
            State::BarcodeNul => {
                if b == 0 {
                    self.print_barcode();
                    None
                } else if (0x20..0x7F).contains(&b) {
                    if self.barcode.len() < MAX_BARCODE_DATA {
                        self.barcode.push(b);
                    }
                    self.state = State::BarcodeNul;
                    None
                } else {
                    // Not barcode data: the printer gives up on the barcode
                    // and reads the byte as ordinary data.
                    self.barcode.clear();
                    self.ground(b)
                }
            }
            State::BarcodeLen(left) => {
                if self.barcode.len() < MAX_BARCODE_DATA {
                    self.barcode.push(b);
                }
                if left > 1 {
                    self.state = State::BarcodeLen(left - 1);
                } else {
                    self.print_barcode();
                }
                None
            }
        }
    }

    /// Ends the stream (connection closed without a cut): the pending line is
    /// printed and the page handed out, if anything was printed.
    pub fn finish(&mut self) -> Option<Page> {
        if !self.spans.is_empty() {
            self.end_line();
        }
        self.image_row = false;
        if self.lines.is_empty() && self.dropped_lines == 0 {
            return None;
        }
        Some(self.take_page(false))
    }

    /// True when nothing is waiting to be printed (no pending line, no page content).
    pub fn is_idle(&self) -> bool {
        self.spans.is_empty() && self.lines.is_empty() && self.dropped_lines == 0
    }

    fn args(&mut self, cmd: Cmd, need: u8) -> Option<Output> {
        self.state = State::Args {
            cmd,
            need,
            have: 0,
            buf: [0; 8],
        };
        None
    }

    fn skip(&mut self, n: u64) {
        if n > 0 {
            self.state = State::Skip(n);
        }
    }

    fn ground(&mut self, b: u8) -> Option<Output> {
        match b {
            ESC => self.state = State::Esc,
            GS => self.state = State::Gs,
            FS => self.state = State::Fs,
            DLE => self.state = State::Dle,
            LF => {
                if std::mem::take(&mut self.image_row) && self.spans.is_empty() {
                    return None;
                }
                self.end_line();
            }
            HT => self.tab(),
            0x20..=0x7E => self.put_char(char::from(b)),
            0x80..=0xFF => self.put_char(self.code_page.upper(b)),
            // CR (ignored as on a printer without auto line feed), FF in
            // standard mode, DEL and the other control bytes print nothing.
            _ => {}
        }
        None
    }

    fn esc(&mut self, b: u8) -> Option<Output> {
        match b {
            b'@' => self.reset(),
            b'!' => return self.args(Cmd::EscBang, 1),
            b'-' => return self.args(Cmd::EscMinus, 1),
            b'E' => return self.args(Cmd::EscE, 1),
            b'G' => return self.args(Cmd::EscG, 1),
            b'J' => return self.args(Cmd::EscJ, 1),
            b'a' => return self.args(Cmd::EscA, 1),
            b'd' => return self.args(Cmd::EscD, 1),
            b't' => return self.args(Cmd::EscT, 1),
            b'p' => return self.args(Cmd::EscP, 3),
            b'*' => return self.args(Cmd::EscStar, 3),
            b'&' => return self.args(Cmd::EscAmp, 3),
            b'(' => return self.args(Cmd::ParenSkip, 3),
            b'D' => {
                self.tabs = Some(Vec::new());
                self.state = State::TabStops;
            }
            // Partial cut (obsolete forms).
            b'i' | b'm' => return Some(self.cut()),
            // Line spacing, font, character set, rotation, upside down,
            // peripheral device, panel keys, colour, spacing, etc.: one
            // argument that does not change the decoded text.
            b' ' | b'%' | b'3' | b'=' | b'?' | b'M' | b'R' | b'T' | b'U' | b'V' | b'e' | b'r'
            | b'u' | b'{' => return self.args(Cmd::Ignore, 1),
            b'$' | b'\\' | b'c' => return self.args(Cmd::Ignore, 2),
            b'W' => return self.args(Cmd::Ignore, 8),
            // Default line spacing, page mode on/off, home, paper sensor status.
            b'2' | b'L' | b'S' | b'<' | b'v' | 0x0C => {}
            // Not a command byte: read it as ordinary data.
            0x00..=0x1F => return self.ground(b),
            _ => {}
        }
        None
    }

    fn gs(&mut self, b: u8) -> Option<Output> {
        match b {
            b'!' => return self.args(Cmd::GsBang, 1),
            b'B' => return self.args(Cmd::GsB, 1),
            b'V' => return self.args(Cmd::GsV, 1),
            b'v' => return self.args(Cmd::GsSmallV, 6),
            b'*' => return self.args(Cmd::GsStar, 2),
            b'8' => return self.args(Cmd::Gs8, 5),
            b'k' => return self.args(Cmd::GsK, 1),
            b'(' => {
                return self
                    .args(Cmd::GsParenKLen, 1)
                    .and(None)
                    .or_else(|| self.gs_paren());
            }
            // HRI position/font, barcode height/width, printer ID, ASB,
            // smoothing, status (GS r: answered by nothing, see the module
            // docs of printer_sim), print downloaded image, etc.
            b'E' | b'H' | b'I' | b'T' | b'a' | b'b' | b'f' | b'h' | b'j' | b'r' | b'w' | b'/' => {
                return self.args(Cmd::Ignore, 1);
            }
            b'$' | b'\\' | b'L' | b'P' | b'W' => return self.args(Cmd::Ignore, 2),
            b'^' => return self.args(Cmd::Ignore, 3),
            b'g' => return self.args(Cmd::Ignore, 4),
            b':' | b'c' => {}
            0x00..=0x1F => return self.ground(b),
            _ => {}
        }
        None
    }

    /// `GS (` read: the next byte says which function family.
    fn gs_paren(&mut self) -> Option<Output> {
        // `GS ( k` is told apart from the other `GS (` commands by its first
        // argument byte, so collect that byte first.
        self.state = State::Args {
            cmd: Cmd::GsParenKLen,
            need: 3,
            have: 0,
            buf: [0; 8],
        };
        None
    }

    fn fs(&mut self, b: u8) -> Option<Output> {
        match b {
            b'!' | b'-' | b'C' | b'W' => return self.args(Cmd::Ignore, 1),
            b'S' | b'p' => return self.args(Cmd::Ignore, 2),
            b'(' => return self.args(Cmd::ParenSkip, 3),
            b'&' | b'.' => {}
            0x00..=0x1F => return self.ground(b),
            _ => {}
        }
        None
    }

    fn dle(&mut self, b: u8) -> Option<Output> {
        match b {
            EOT => self.args(Cmd::DleEot, 1),
            ENQ => self.args(Cmd::Ignore, 1),
            DC4 => self.args(Cmd::DleDc4, 1),
            _ => self.ground(b),
        }
    }

    fn execute(&mut self, cmd: Cmd, a: [u8; 8]) -> Option<Output> {
        let [a0, a1, a2, a3, a4, a5, ..] = a;
        let word = |lo: u8, hi: u8| u16::from(lo) | (u16::from(hi) << 8);
        match cmd {
            Cmd::Ignore => {}
            Cmd::EscBang => {
                self.style.emphasized = a0 & 0x08 != 0;
                self.style.height = if a0 & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if a0 & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = a0 & 0x80 != 0;
            }
            Cmd::EscMinus => self.style.underline = matches!(a0, 1 | 2 | b'1' | b'2'),
            Cmd::EscE => self.style.emphasized = a0 & 1 != 0,
            Cmd::EscG => self.style.double_strike = a0 & 1 != 0,
            Cmd::EscA => {
                // Only honoured at the beginning of a line, as on a printer.
                if self.spans.is_empty() {
                    self.align = match a0 {
                        0 | b'0' => Align::Left,
                        1 | b'1' => Align::Center,
                        2 | b'2' => Align::Right,
                        _ => self.align,
                    };
                }
            }
            Cmd::EscD => self.print_and_feed_lines(usize::from(a0)),
            Cmd::EscJ => {
                if !self.spans.is_empty() || self.image_row {
                    self.print_and_feed_lines(1);
                } else {
                    // A feed by dots on an empty line: one blank line per 30 dots
                    // (the default line spacing).
                    self.print_and_feed_lines((usize::from(a0) + 15) / 30);
                }
            }
            Cmd::EscT => self.code_page = CodePage::from_esc_t(a0),
            Cmd::EscP => {
                let pin = match a0 {
                    0 | b'0' => 2,
                    1 | b'1' => 5,
                    _ => return None,
                };
                let on_ms = u32::from(a1) * 2;
                let off_ms = u32::from(a2.max(a1)) * 2;
                return Some(Output::DrawerKick { pin, on_ms, off_ms });
            }
            Cmd::EscStar => {
                let n = u64::from(word(a1, a2));
                let (bytes, height) = match a0 {
                    0 | 1 => (n, 8),
                    32 | 33 => (3 * n, 24),
                    _ => (0, 0),
                };
                if height > 0 {
                    self.push_image(u32::from(word(a1, a2)), height);
                    self.image_row = true;
                }
                self.skip(bytes);
            }
            Cmd::EscAmp => {
                let (y, c1, c2) = (a0, a1, a2);
                if c2 >= c1 {
                    self.state = State::UserChars {
                        y,
                        chars_left: u16::from(c2 - c1) + 1,
                        data_left: 0,
                    };
                }
            }
            Cmd::ParenSkip => self.skip(u64::from(word(a1, a2))),
            Cmd::GsBang => {
                self.style.width = ((a0 >> 4) & 0x07) + 1;
                self.style.height = (a0 & 0x07) + 1;
            }
            Cmd::GsB => self.style.invert = a0 & 1 != 0,
            Cmd::GsV => match a0 {
                0 | 1 | 48 | 49 => return Some(self.cut()),
                65 | 66 | 97 | 98 | 103 | 104 => return self.args(Cmd::GsVFeed, 1),
                _ => {}
            },
            Cmd::GsVFeed => return Some(self.cut()),
            Cmd::GsSmallV => {
                // GS v 0 m xL xH yL yH, then xL+xH*256 bytes per row for yL+yH*256 rows.
                if a0 == b'0' {
                    let x = u32::from(word(a2, a3));
                    let y = u32::from(word(a4, a5));
                    self.push_image(x * 8, y);
                    self.skip(u64::from(x) * u64::from(y));
                }
            }
            Cmd::GsStar => {
                // Define downloaded image: x * y * 8 bytes follow.
                self.skip(u64::from(a0) * u64::from(a1) * 8);
            }
            Cmd::Gs8 => {
                // GS 8 L p1 p2 p3 p4: a graphics block of p bytes.
                let p = u32::from_le_bytes([a1, a2, a3, a4]);
                self.skip(u64::from(p));
            }
            Cmd::GsK => {
                self.barcode.clear();
                match a0 {
                    0..=6 => self.state = State::BarcodeNul,
                    65..=79 => return self.args(Cmd::GsKLen, 1),
                    _ => {}
                }
            }
            Cmd::GsKLen => {
                if a0 > 0 {
                    self.state = State::BarcodeLen(a0);
                }
            }
            Cmd::GsParenKLen => {
                // a0 is the function family letter, a1 a2 the parameter length.
                let p = word(a1, a2);
                if a0 == b'k' && p >= 2 {
                    return self.args(Cmd::GsParenKHead(p - 2), 2);
                }
                self.skip(u64::from(p));
            }
            Cmd::GsParenKHead(rest) => return self.two_d_code(a0, a1, rest),
            Cmd::DleEot => match a0 {
                1..=4 => return Some(Output::StatusRequest(a0)),
                // Extended statuses carry one more byte; we do not answer them.
                7 | 8 | 18 => return self.args(Cmd::Ignore, 1),
                _ => {}
            },
            Cmd::DleDc4 => match a0 {
                1 => return self.args(Cmd::DleDc4Pulse, 2),
                2 => return self.args(Cmd::Ignore, 2),
                7 => return self.args(Cmd::Ignore, 1),
                8 => return self.args(Cmd::Ignore, 7),
                _ => {}
            },
            Cmd::DleDc4Pulse => {
                let pin = match a0 {
                    0 => 2,
                    1 => 5,
                    _ => return None,
                };
                let ms = u32::from(a1.clamp(1, 8)) * 100;
                return Some(Output::DrawerKick {
                    pin,
                    on_ms: ms,
                    off_ms: ms,
                });
            }
        }
        None
    }

    /// `GS ( k pL pH cn fn ...` with `rest` parameter bytes still to come.
    fn two_d_code(&mut self, cn: u8, fun: u8, rest: u16) -> Option<Output> {
        const QR: u8 = 49;
        match (cn, fun) {
            (QR, 80) => {
                // Store data: m, then the data itself.
                self.qr_data.clear();
                let data_len = usize::from(rest).saturating_sub(1);
                if data_len > MAX_QR_DATA {
                    self.skip(u64::from(rest));
                } else if rest > 0 {
                    self.state = State::QrStore {
                        m_pending: true,
                        left: u32::from(rest),
                    };
                }
            }
            (QR, 81) => {
                // Print the stored symbol; the `m` byte that follows is skipped.
                if !self.qr_data.is_empty() {
                    let data = String::from_utf8_lossy(&self.qr_data).into_owned();
                    self.push_special(LineKind::Qr(data));
                }
                self.skip(u64::from(rest));
            }
            // Model, module size, error correction, size info and all other
            // symbologies: only their length matters here.
            _ => self.skip(u64::from(rest)),
        }
        None
    }

    fn reset(&mut self) {
        // ESC @ clears the unprinted line and every mode, not what is printed.
        let columns = self.columns;
        let lines = std::mem::take(&mut self.lines);
        let dropped = self.dropped_lines;
        *self = Decoder::with_columns(columns);
        self.lines = lines;
        self.dropped_lines = dropped;
    }

    fn put_char(&mut self, c: char) {
        let width = u16::from(self.style.width);
        if self.cells > 0 && self.cells + width > self.columns {
            // The line is full: the printer prints it and goes on below.
            self.end_line();
        }
        match self.spans.last_mut() {
            Some(span) if self.style.same_look(span) => span.text.push(c),
            _ => self.spans.push(self.style.span(c.to_string())),
        }
        self.cells += width;
    }

    fn tab(&mut self) {
        let next = match &self.tabs {
            None => Some((self.cells / 8 + 1) * 8),
            Some(tabs) => tabs.iter().copied().find(|&t| t > self.cells),
        };
        let Some(next) = next.filter(|&t| t <= self.columns) else {
            return;
        };
        let saved = self.style;
        self.style.width = 1;
        for _ in self.cells..next {
            self.put_char(' ');
        }
        self.style = saved;
    }

    /// Prints the pending line and feeds `n` lines (`ESC d n`): a pending
    /// line takes the first feed, the others are blank lines.
    fn print_and_feed_lines(&mut self, n: usize) {
        let mut blanks = n;
        if !self.spans.is_empty() || std::mem::take(&mut self.image_row) {
            if !self.spans.is_empty() {
                self.end_line();
            }
            blanks = n.saturating_sub(1);
        }
        for _ in 0..blanks {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        let line = Line {
            spans: std::mem::take(&mut self.spans),
            align: self.align,
            kind: LineKind::Text,
        };
        self.cells = 0;
        self.push_line(line);
    }

    fn push_line(&mut self, line: Line) {
        if self.lines.len() < MAX_LINES {
            self.lines.push(line);
        } else {
            self.dropped_lines = self.dropped_lines.saturating_add(1);
        }
    }

    /// Puts a QR code, barcode or image on a line of its own.
    fn push_special(&mut self, kind: LineKind) {
        if !self.spans.is_empty() {
            self.end_line();
        }
        self.image_row = false;
        let align = self.align;
        self.push_line(Line {
            spans: Vec::new(),
            align,
            kind,
        });
    }

    /// An image; rows of the same width printed one after the other
    /// (as bit-image logos are) become one image.
    fn push_image(&mut self, width: u32, height: u32) {
        if self.spans.is_empty()
            && self.dropped_lines == 0
            && let Some(Line {
                kind:
                    LineKind::Image {
                        width: w,
                        height: h,
                    },
                ..
            }) = self.lines.last_mut()
            && *w == width
        {
            *h = h.saturating_add(height);
            return;
        }
        self.push_special(LineKind::Image { width, height });
    }

    fn print_barcode(&mut self) {
        let data = String::from_utf8_lossy(&self.barcode).into_owned();
        self.barcode.clear();
        if !data.is_empty() {
            self.push_special(LineKind::Barcode(data));
        }
    }

    fn cut(&mut self) -> Output {
        if !self.spans.is_empty() {
            self.end_line();
        }
        self.image_row = false;
        Output::Page(self.take_page(true))
    }

    fn take_page(&mut self, cut: bool) -> Page {
        Page {
            lines: std::mem::take(&mut self.lines),
            cut,
            columns: self.columns,
            dropped_lines: std::mem::take(&mut self.dropped_lines),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(bytes: &[u8]) -> Page {
        let mut d = Decoder::new();
        let mut out = d.feed(bytes);
        match out.pop() {
            Some(Output::Page(p)) => p,
            other => panic!("expected a page, got {other:?}"),
        }
    }

    #[test]
    fn text_styles_and_alignment() {
        let p = page(b"\x1b@\x1ba\x01\x1bE\x01Hello\x1bE\x00\n\x1ba\x02\x1d!\x11Hi\n\x1dV\x00");
        assert_eq!(p.text_lines(), ["Hello", "Hi"]);
        assert_eq!(p.lines[0].align, Align::Center);
        assert!(p.lines[0].spans[0].bold);
        assert_eq!(
            (p.lines[1].spans[0].width, p.lines[1].spans[0].height),
            (2, 2)
        );
        assert!(p.cut);
    }

    #[test]
    fn lines_wrap_at_the_paper_width() {
        let mut d = Decoder::with_columns(4);
        let out = d.feed(b"abcdef\n");
        assert!(out.is_empty());
        let p = d.finish().unwrap();
        assert_eq!(p.text_lines(), ["abcd", "ef"]);
        assert!(!p.cut);
    }

    #[test]
    fn esc_d_counts_the_pending_line() {
        let p = page(b"a\x1bd\x01b\x1bd\x03\x1bd\x02\x1dV\x00");
        assert_eq!(p.text_lines(), ["a", "b", "", "", "", ""]);
    }

    #[test]
    fn code_pages() {
        let p = page(b"\x81\x1bt\x13\xd5\x1bt\x10\x80\xe9\x1bm");
        assert_eq!(p.text_lines(), ["ü€€é"]);
    }

    #[test]
    fn tabs_default_every_eight() {
        let p = page(b"ab\tc\x1bD\x0c\x00\td\x1bm");
        assert_eq!(p.text_lines(), ["ab      c   d"]);
    }
}
