//! Customer receipts, kitchen tickets and the cash-drawer kick as ESC/POS
//! bytes, independent of where the bytes go (see [`crate::transport`]).
//!
//! Rendering goes through the `escpos` crate's [`Printer`] over an in-memory
//! driver, so the result is a plain `Vec<u8>` that can be sent, stored,
//! snapshotted or fed to the virtual printer. Layout (word wrap, right-aligned
//! amounts, magnified text) is computed here in character columns of font A:
//! nothing is ever wider than the paper. Every string from the outside is
//! reduced to printable ASCII first (`é` → `e`, anything unknown → `?`), which
//! every ESC/POS code page prints the same way, so no input can make rendering
//! fail or put a control byte on the wire.

use std::cell::RefCell;

use escpos::driver::Driver;
use escpos::errors::PrinterError;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};
use serde::{Deserialize, Serialize};

/// A customer receipt, with every amount in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptDoc {
    /// Printed centred, bold and double size at the top.
    pub store_name: String,
    /// Address, phone, tax id...: printed centred under the name, one entry per line.
    pub store_lines: Vec<String>,
    /// The pick-up number, e.g. `S-0042`, printed large.
    pub ticket: String,
    /// The order's id; the QR code at the bottom encodes it.
    pub order_id: String,
    /// Where the order came from: `counter`, `kiosk`, `online`.
    pub channel: String,
    /// Already formatted local time, e.g. `2026-11-26 12:04`.
    pub placed_at: String,
    /// ISO 4217 code; decides the number of decimals (2 unless JPY-like).
    pub currency: String,
    /// The ordered items.
    pub lines: Vec<DocLine>,
    /// Sum of the line amounts, in minor units.
    pub subtotal: i64,
    /// Discount in minor units, printed as a negative line; 0 prints nothing.
    pub discount: i64,
    /// One line per tax rate, e.g. `Tax 8.25%`.
    pub taxes: Vec<TaxLine>,
    /// What the customer pays, in minor units.
    pub total: i64,
    /// How the customer paid.
    pub payments: Vec<DocPayment>,
    /// A closing line such as "Thank you!", printed centred.
    pub footer: Option<String>,
}

/// One item on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocLine {
    /// How many.
    pub qty: u32,
    /// The item's name.
    pub name: String,
    /// Chosen options, printed indented with `+ `.
    pub modifiers: Vec<String>,
    /// The customer's note, printed indented with `! `.
    pub note: Option<String>,
    /// The line's price in minor units (quantity already applied).
    pub amount: i64,
}

/// One tax amount on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// What to print, e.g. `Tax 8.25%`.
    pub label: String,
    /// The tax in minor units.
    pub amount: i64,
}

/// One payment on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPayment {
    /// `cash` or `card` (anything else is printed as given).
    pub method: String,
    /// The amount paid with this method, in minor units.
    pub amount: i64,
    /// Cash handed over, in minor units.
    pub tendered: Option<i64>,
    /// Cash handed back, in minor units.
    pub change: Option<i64>,
    /// The terminal's reference for a card payment, never a card number.
    pub reference: Option<String>,
}

/// A ticket for one kitchen station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenDoc {
    /// The station this ticket is for, e.g. `Grill`.
    pub station: String,
    /// The pick-up number, printed as large as the paper allows.
    pub ticket: String,
    /// Where the order came from: `counter`, `kiosk`, `online`.
    pub channel: String,
    /// Already formatted local time.
    pub placed_at: String,
    /// What this station has to make.
    pub items: Vec<KitchenItem>,
    /// A note for the whole order.
    pub order_note: Option<String>,
    /// Prints a `REPRINT` banner so the kitchen does not cook it twice.
    pub reprint: bool,
    /// When the customer collects an order placed ahead, already formatted local
    /// time (`12:30`); printed large under the ticket number. None: as soon as possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_at: Option<String>,
}

/// One item on a kitchen ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitchenItem {
    /// How many.
    pub qty: u32,
    /// The item's name.
    pub name: String,
    /// Chosen options, printed indented with `+ `.
    pub modifiers: Vec<String>,
    /// The customer's note, printed indented with `! `.
    pub note: Option<String>,
}

/// Paper roll width, which fixes the number of font-A columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperWidth {
    /// 58 mm paper: 32 columns.
    Mm58,
    /// 80 mm paper: 48 columns.
    Mm80,
}

impl PaperWidth {
    /// Characters per line in font A at normal size.
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm58 => 32,
            PaperWidth::Mm80 => 48,
        }
    }
}

/// Why a document could not be turned into bytes.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The escpos crate refused a command (not expected: all text is ASCII by then).
    #[error("ESC/POS encoding failed: {0}")]
    Escpos(#[from] PrinterError),
}

/// The drawer kick: `ESC p 0 25 250`, pin 2 on for 50 ms, off for 500 ms.
///
/// Written out by hand because the escpos crate's `cash_drawer` leaves out
/// the two timing bytes.
pub fn drawer_kick() -> Vec<u8> {
    vec![0x1B, 0x70, 0x00, 0x19, 0xFA]
}

/// Renders a customer receipt as ESC/POS bytes, from `ESC @` to the paper cut.
pub fn render_receipt(doc: &ReceiptDoc, width: PaperWidth) -> Result<Vec<u8>, RenderError> {
    let cols = width.columns();
    let money = MoneyFormat::for_currency(&doc.currency);
    let mut s = Sheet::new(cols)?;

    // Header: who we are and which order this is.
    s.p.justify(JustifyMode::CENTER)?;
    s.styled(true, 2, 2, &wrap(&ascii(&doc.store_name), cols / 2, 0))?;
    for line in &doc.store_lines {
        s.lines(&wrap(&ascii(line), cols, 0))?;
    }
    s.p.feed()?;
    let ticket = ascii(&doc.ticket);
    let mag = magnification(&ticket, cols, 3);
    s.styled(true, mag, mag, &wrap(&ticket, cols / mag, 0))?;
    s.lines(&wrap(
        &when_and_where(&doc.channel, &doc.placed_at),
        cols,
        0,
    ))?;

    // Items.
    s.p.justify(JustifyMode::LEFT)?;
    s.rule()?;
    for line in &doc.lines {
        let prefix = format!("{} x ", line.qty);
        let left = format!("{prefix}{}", ascii(&line.name));
        s.lines(&two_columns(
            &left,
            &money.format(line.amount),
            cols,
            prefix.len(),
        ))?;
        s.lines(&details(&line.modifiers, line.note.as_deref(), cols))?;
    }
    s.rule()?;

    // Totals.
    s.lines(&two_columns(
        "Subtotal",
        &money.format(doc.subtotal),
        cols,
        0,
    ))?;
    if doc.discount != 0 {
        s.lines(&two_columns(
            "Discount",
            &money.negative(doc.discount),
            cols,
            0,
        ))?;
    }
    for tax in &doc.taxes {
        s.lines(&two_columns(
            &ascii(&tax.label),
            &money.format(tax.amount),
            cols,
            0,
        ))?;
    }
    let total_label = format!("TOTAL {}", ascii(&doc.currency));
    s.styled(
        true,
        1,
        2,
        &two_columns(&total_label, &money.format(doc.total), cols, 0),
    )?;

    // Payments.
    if !doc.payments.is_empty() {
        s.rule()?;
    }
    for pay in &doc.payments {
        s.lines(&two_columns(
            &method_label(&pay.method),
            &money.format(pay.amount),
            cols,
            0,
        ))?;
        if let Some(tendered) = pay.tendered {
            s.lines(&two_columns("  Tendered", &money.format(tendered), cols, 2))?;
        }
        if let Some(change) = pay.change {
            s.lines(&two_columns("  Change", &money.format(change), cols, 2))?;
        }
        if let Some(reference) = &pay.reference {
            let reference = mask_card_numbers(&ascii(reference));
            s.lines(&wrap(&format!("  Ref {reference}"), cols, 6))?;
        }
    }

    // The order id as a QR code, then the footer.
    s.p.justify(JustifyMode::CENTER)?;
    let order_id = ascii(doc.order_id.trim());
    if !order_id.is_empty() && order_id.len() <= MAX_QR_BYTES {
        s.p.feed()?;
        s.p.qrcode_option(
            &order_id,
            QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M),
        )?;
    } else if !order_id.is_empty() {
        tracing::warn!(
            len = order_id.len(),
            "order id too long for the receipt QR code; left out"
        );
    }
    if let Some(footer) = &doc.footer {
        s.p.feed()?;
        s.lines(&wrap(&ascii(footer), cols, 0))?;
    }
    s.finish()
}

/// Renders a kitchen ticket as ESC/POS bytes, from `ESC @` to the paper cut.
pub fn render_kitchen(doc: &KitchenDoc, width: PaperWidth) -> Result<Vec<u8>, RenderError> {
    let cols = width.columns();
    let mut s = Sheet::new(cols)?;

    s.p.justify(JustifyMode::CENTER)?;
    if doc.reprint {
        s.p.reverse(true)?;
        s.styled(true, 2, 2, &[" REPRINT ".to_owned()])?;
        s.p.reverse(false)?;
    }
    s.styled(true, 2, 2, &wrap(&ascii(&doc.station), cols / 2, 0))?;
    let ticket = ascii(&doc.ticket);
    let mag = magnification(&ticket, cols, 8);
    s.styled(true, mag, mag, &wrap(&ticket, cols / mag, 0))?;
    s.lines(&wrap(
        &when_and_where(&doc.channel, &doc.placed_at),
        cols,
        0,
    ))?;
    if let Some(at) = &doc.pickup_at {
        // An order placed ahead: the cook times it by this, not by when it printed.
        let text = format!("PICKUP {}", ascii(at));
        let mag = magnification(&text, cols, 2);
        s.styled(true, mag, mag, &wrap(&text, cols / mag, 0))?;
    }

    s.p.justify(JustifyMode::LEFT)?;
    s.rule()?;
    // Items in double height: the cook reads them from a step away.
    s.p.size(1, 2)?;
    for item in &doc.items {
        let prefix = format!("{} x ", item.qty);
        let text = format!("{prefix}{}", ascii(&item.name));
        s.p.bold(true)?;
        s.lines(&wrap(&text, cols, prefix.len()))?;
        s.p.bold(false)?;
        s.lines(&details(&item.modifiers, item.note.as_deref(), cols))?;
    }
    s.p.reset_size()?;
    s.rule()?;
    if let Some(note) = &doc.order_note {
        s.styled(
            true,
            1,
            2,
            &wrap(&format!("NOTE: {}", ascii(note)), cols, 6),
        )?;
    }
    s.finish()
}

/// Longest order id put in the QR code: keeps the symbol narrower than 58 mm paper.
const MAX_QR_BYTES: usize = 128;

/// Narrowest column a wrapped continuation line may be left with before indenting is dropped.
const MIN_TEXT_COLS: usize = 8;

/// The escpos printer writing into memory, plus the paper's column count.
struct Sheet {
    p: Printer<MemoryDriver>,
    cols: usize,
}

impl Sheet {
    fn new(cols: usize) -> Result<Self, RenderError> {
        let mut p = Printer::new(MemoryDriver::default(), Protocol::default(), None);
        p.init()?;
        Ok(Self { p, cols })
    }

    /// Prints already wrapped lines, each ended by LF.
    fn lines(&mut self, lines: &[String]) -> Result<(), RenderError> {
        for line in lines {
            self.p.write(line)?;
            self.p.write("\n")?;
        }
        Ok(())
    }

    /// Prints lines with emphasis and magnification, then back to plain text.
    fn styled(
        &mut self,
        bold: bool,
        w: usize,
        h: usize,
        lines: &[String],
    ) -> Result<(), RenderError> {
        let (w, h) = (clamp_mag(w), clamp_mag(h));
        self.p.bold(bold)?.size(w, h)?;
        self.lines(lines)?;
        self.p.reset_size()?.bold(false)?;
        Ok(())
    }

    /// A full-width rule of dashes.
    fn rule(&mut self) -> Result<(), RenderError> {
        self.lines(&["-".repeat(self.cols)])
    }

    /// Cuts the paper (`GS V A 0` feeds to the cutter first) and hands back the bytes.
    fn finish(mut self) -> Result<Vec<u8>, RenderError> {
        self.p.cut()?.print()?;
        Ok(self.p.driver().bytes.into_inner())
    }
}

/// An escpos [`Driver`] that keeps what it is given.
#[derive(Default)]
struct MemoryDriver {
    bytes: RefCell<Vec<u8>>,
}

impl Driver for MemoryDriver {
    fn name(&self) -> String {
        "memory".to_owned()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.bytes.try_borrow_mut()?.extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// How many decimals a currency's amounts get.
#[derive(Debug, Clone, Copy)]
struct MoneyFormat {
    digits: u32,
}

impl MoneyFormat {
    /// Uses the ISO 4217 minor digits; an unknown or malformed code gets 2.
    fn for_currency(code: &str) -> Self {
        let digits = domain::money::Currency::parse(code.trim())
            .map(|c| c.minor_digits())
            .unwrap_or(2);
        Self { digits }
    }

    /// `1234` → `12.34`, `-5` → `-0.05`; exact for every `i64`, `i64::MIN` included.
    fn format(self, minor: i64) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        format!("{sign}{}", self.magnitude(minor.unsigned_abs()))
    }

    /// The amount's size with a minus sign, whatever sign it was stored with.
    fn negative(self, minor: i64) -> String {
        format!("-{}", self.magnitude(minor.unsigned_abs()))
    }

    fn magnitude(self, abs: u64) -> String {
        if self.digits == 0 {
            return abs.to_string();
        }
        let scale = 10u64.pow(self.digits);
        let width = self.digits as usize;
        format!("{}.{:0width$}", abs / scale, abs % scale)
    }
}

/// `cash` → `Cash`, `card` → `Card`, anything else as given (made printable).
fn method_label(method: &str) -> String {
    match method.trim().to_ascii_lowercase().as_str() {
        "cash" => "Cash".to_owned(),
        "card" => "Card".to_owned(),
        _ => ascii(method),
    }
}

/// `counter - 2026-11-26 12:04`, leaving out whichever part is blank.
fn when_and_where(channel: &str, placed_at: &str) -> String {
    let parts = [ascii(channel), ascii(placed_at)];
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    parts.join(" - ")
}

/// Modifier lines (`  + ...`) and the note line (`  ! ...`) under an item.
fn details(modifiers: &[String], note: Option<&str>, cols: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for m in modifiers {
        lines.extend(wrap(&format!("  + {}", ascii(m)), cols, 4));
    }
    if let Some(note) = note {
        lines.extend(wrap(&format!("  ! {}", ascii(note)), cols, 4));
    }
    lines
}

/// The largest text magnification (1 to `max`) at which `text` fits on one line.
fn magnification(text: &str, cols: usize, max: usize) -> usize {
    let len = text.chars().count().max(1);
    (cols / len).clamp(1, max)
}

/// ESC/POS magnifications run from 1 to 8.
fn clamp_mag(m: usize) -> u8 {
    u8::try_from(m.clamp(1, 8)).unwrap_or(1)
}

/// Reduces `text` to printable ASCII: accented Latin letters lose their
/// accents, a few symbols get spelled out, whitespace and control characters
/// become spaces, anything else becomes `?`.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c),
            c if c.is_whitespace() || c.is_control() => out.push(' '),
            c => out.push_str(fold(c)),
        }
    }
    out
}

/// The ASCII stand-in for one non-ASCII character.
fn fold(c: char) -> &'static str {
    match c {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à'..='å' | 'ā' | 'ă' | 'ą' | 'ª' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Č' => "C",
        'ç' | 'ć' | 'č' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È'..='Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'Ğ' => "G",
        'ğ' => "g",
        'Ì'..='Ï' | 'Ī' | 'İ' => "I",
        'ì'..='ï' | 'ī' | 'ı' => "i",
        'Ł' | 'Ľ' => "L",
        'ł' | 'ľ' => "l",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ñ' | 'ń' | 'ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ő' => "O",
        'ò'..='ö' | 'ø' | 'ō' | 'ő' | 'º' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ř' => "R",
        'ř' => "r",
        'Ś' | 'Š' | 'Ş' => "S",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'Ť' | 'Ţ' => "T",
        'ť' | 'ţ' => "t",
        'Þ' => "Th",
        'þ' => "th",
        'Ù'..='Ü' | 'Ū' | 'Ů' | 'Ű' => "U",
        'ù'..='ü' | 'ū' | 'ů' | 'ű' => "u",
        'Ý' | 'Ÿ' => "Y",
        'ý' | 'ÿ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        '×' => "x",
        '÷' => "/",
        '€' => "EUR",
        '£' => "GBP",
        '¥' => "JPY",
        '¢' => "c",
        '°' => "o",
        '©' => "(c)",
        '®' => "(R)",
        '™' => "TM",
        '½' => "1/2",
        '¼' => "1/4",
        '¾' => "3/4",
        '‘' | '’' | '‚' | '′' | '´' => "'",
        '“' | '”' | '„' | '″' | '«' | '»' => "\"",
        '‐' | '‑' | '‒' | '–' | '—' | '−' => "-",
        '•' | '·' => "*",
        '…' => "...",
        _ => "?",
    }
}

/// Replaces all but the last four digits of any run of 13 or more digits with
/// `*`: a safety net so a card number handed over by mistake never gets printed.
fn mask_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars
            .iter()
            .skip(i)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if run == 0 {
            out.extend(chars.get(i));
            i += 1;
            continue;
        }
        for (k, c) in chars.iter().skip(i).take(run).enumerate() {
            out.push(if run >= 13 && k + 4 < run { '*' } else { *c });
        }
        i += run;
    }
    out
}

/// Word-wraps `text` into lines of at most `width` characters: breaks at
/// whitespace, cuts words longer than a line. Leading spaces of `text` are
/// kept on the first line; continuation lines start with `indent` spaces,
/// unless that would leave them fewer than [`MIN_TEXT_COLS`] columns. Blank
/// text gives no lines.
fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(1);
    let indent = if indent + MIN_TEXT_COLS <= width {
        indent
    } else {
        0
    };
    let body = text.trim_start();
    if body.trim_end().is_empty() {
        return Vec::new();
    }
    let lead = (text.len() - body.len()).min(width - 1);

    let mut lines: Vec<String> = Vec::new();
    // The line being filled: its text so far and whether it holds a word yet.
    let mut current: Vec<char> = vec![' '; lead];
    let mut has_word = false;
    for word in body.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let gap = usize::from(has_word);
            if current.len() + gap + word.len() <= width {
                if has_word {
                    current.push(' ');
                }
                current.append(&mut word);
                has_word = true;
            } else if has_word && (word.len() <= width - indent || current.len() + gap >= width) {
                // The word fits on the next line (or nothing more fits on this one).
                lines.push(current.drain(..).collect());
                current.resize(indent, ' ');
                has_word = false;
            } else {
                // A word longer than a whole line gets cut anyway: fill this line first.
                if has_word {
                    current.push(' ');
                }
                let take = width.saturating_sub(current.len()).max(1);
                let rest = word.split_off(take.min(word.len()));
                current.append(&mut word);
                word = rest;
                lines.push(current.drain(..).collect());
                current.resize(indent, ' ');
                has_word = false;
            }
        }
    }
    if has_word {
        lines.push(current.into_iter().collect());
    }
    lines
}

/// `left` wrapped on the left and `right` right-aligned on the first line,
/// in `cols` columns. When `right` leaves too little room, `left` gets its own
/// lines and `right` follows right-aligned underneath.
fn two_columns(left: &str, right: &str, cols: usize, indent: usize) -> Vec<String> {
    let right_len = right.chars().count();
    if right_len + 1 + MIN_TEXT_COLS > cols {
        let mut lines = wrap(left, cols, indent);
        lines.extend(
            wrap(right, cols, 0)
                .into_iter()
                .map(|r| format!("{r:>cols$}")),
        );
        return lines;
    }
    let left_width = cols - right_len - 1;
    let mut lines = wrap(left, left_width, indent);
    match lines.first_mut() {
        Some(first) => *first = format!("{first:<left_width$} {right}"),
        None => lines.push(format!("{right:>cols$}")),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_exact_at_the_extremes() {
        let usd = MoneyFormat::for_currency("USD");
        assert_eq!(usd.format(1234), "12.34");
        assert_eq!(usd.format(-5), "-0.05");
        assert_eq!(usd.format(0), "0.00");
        assert_eq!(usd.format(i64::MIN), "-92233720368547758.08");
        assert_eq!(usd.format(i64::MAX), "92233720368547758.07");
        assert_eq!(usd.negative(250), "-2.50");
        assert_eq!(usd.negative(-250), "-2.50");
        assert_eq!(usd.negative(i64::MIN), "-92233720368547758.08");
        assert_eq!(MoneyFormat::for_currency("JPY").format(1500), "1500");
        assert_eq!(MoneyFormat::for_currency("KWD").format(1500), "1.500");
        assert_eq!(MoneyFormat::for_currency("nonsense").format(7), "0.07");
    }

    #[test]
    fn text_is_folded_to_printable_ascii() {
        assert_eq!(ascii("Crème brûlée"), "Creme brulee");
        assert_eq!(ascii("Straße – 5 €"), "Strasse - 5 EUR");
        assert_eq!(ascii("a\tb\nc\u{1b}d"), "a b c d");
        assert_eq!(ascii("寿司"), "??");
    }

    #[test]
    fn card_numbers_are_masked_other_references_kept() {
        assert_eq!(mask_card_numbers("4111111111111111"), "************1111");
        assert_eq!(mask_card_numbers("TID 123456 / 2026"), "TID 123456 / 2026");
    }

    #[test]
    fn amounts_line_up_on_the_right() {
        let lines = two_columns("2 x Burger", "12.50", 20, 4);
        assert_eq!(lines, vec!["2 x Burger     12.50"]);
        let lines = two_columns("1 x Extraordinarily long dish", "3.00", 20, 4);
        assert_eq!(
            lines,
            vec!["1 x Extraordina 3.00", "    rily long", "    dish"]
        );
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 0), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3, 0), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("   ", 3, 0), Vec::<String>::new());
        assert_eq!(
            wrap("  + extra cheese please", 14, 4),
            vec!["  + extra", "    cheese", "    please"]
        );
    }

    proptest! {
        /// Nothing ever gets wider than the paper, and no word is lost.
        #[test]
        fn wrapped_lines_fit(text in "[a-z ]{0,120}", width in 1usize..60, indent in 0usize..20) {
            let lines = wrap(&text, width, indent);
            for l in &lines {
                prop_assert!(l.len() <= width, "{l:?} wider than {width}");
            }
            let joined: String = lines.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            prop_assert_eq!(joined, original);
        }

        #[test]
        fn two_columns_fit(left in "[a-z ]{0,80}", right in "[0-9.-]{0,30}", cols in 32usize..=48) {
            for l in two_columns(&left, &right, cols, 4) {
                prop_assert!(l.chars().count() <= cols, "{l:?} wider than {cols}");
            }
        }

        #[test]
        fn ascii_is_printable(text in any::<String>()) {
            prop_assert!(ascii(&text).bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }
}
