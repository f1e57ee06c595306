//! ZVT APDUs and their fields: the application layer that both transports
//! (serial frames, TCP) carry unchanged.
//!
//! An APDU is `CLASS INSTR LEN DATA`, where `LEN` is one byte, or `FF lo hi`
//! for 255 bytes and more ("Transport-Protocol", APDU format). The data of
//! most messages is a sequence of bitmaps (BMPs): a tag byte followed by a
//! fixed-length value, an LLVAR/LLLVAR value (length as `Fx Fy [Fz]` digits),
//! or a BER-length TLV container (BMP 06). [`spec::bmp_format`] says which.
//!
//! **Card data is dropped here.** [`BmpIter`] yields the value of every
//! bitmap except those in [`spec::WITHHELD_BMPS`] (PAN, track data, expiry,
//! free text, TLV container, ...), which it skips by length and reports as
//! [`BmpValue::Withheld`]. Nothing above this module ever sees those bytes,
//! and [`Apdu`]'s `Debug` prints only the control field and length.

use std::fmt;

use super::spec::{self, BmpFormat, Control, command};

/// Largest APDU data part: the extended length field is 16 bits.
pub const MAX_DATA_LEN: usize = 0xFFFF;
/// Largest encoded APDU: control field, `FF lo hi`, data.
pub const MAX_APDU_LEN: usize = 5 + MAX_DATA_LEN;

/// Errors of APDU and field decoding; all are protocol errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("APDU shorter than its header or length field")]
    Truncated,
    #[error("{0} bytes after the end of the APDU")]
    TrailingBytes(usize),
    #[error("APDU data of {0} bytes exceeds 65535")]
    TooLong(usize),
    #[error("bitmap 0x{0:02X} is not defined; cannot find its length")]
    UnknownBmp(u8),
    #[error("bitmap 0x{0:02X} is cut short")]
    BmpTruncated(u8),
    #[error("bitmap 0x{0:02X} has an invalid length field")]
    BadLength(u8),
    #[error("TLV data is malformed")]
    BadTlv,
    #[error("value does not fit the field")]
    ValueOutOfRange,
}

/// One application protocol data unit.
#[derive(Clone, PartialEq, Eq)]
pub struct Apdu {
    class: u8,
    instr: u8,
    data: Vec<u8>,
}

impl fmt::Debug for Apdu {
    /// Control field and length only: the data may hold card data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Apdu({:02X} {:02X}, {} data bytes)",
            self.class,
            self.instr,
            self.data.len()
        )
    }
}

impl Apdu {
    pub fn new(control: Control, data: Vec<u8>) -> Result<Self, ApduError> {
        if data.len() > MAX_DATA_LEN {
            return Err(ApduError::TooLong(data.len()));
        }
        Ok(Self {
            class: control[0],
            instr: control[1],
            data,
        })
    }

    /// An APDU without data, such as `06 B0 00`.
    pub fn bare(control: Control) -> Self {
        Self {
            class: control[0],
            instr: control[1],
            data: Vec::new(),
        }
    }

    pub fn control(&self) -> Control {
        [self.class, self.instr]
    }

    pub fn class(&self) -> u8 {
        self.class
    }

    pub fn instr(&self) -> u8 {
        self.instr
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The wire form: `CLASS INSTR LEN DATA`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 5);
        out.extend_from_slice(&[self.class, self.instr]);
        match u8::try_from(self.data.len()) {
            Ok(len) if len < 0xFF => out.push(len),
            _ => {
                // `new` guarantees the length fits 16 bits.
                let len = u16::try_from(self.data.len()).unwrap_or(u16::MAX);
                out.push(0xFF);
                out.extend_from_slice(&len.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Decodes exactly one APDU.
    pub fn decode(bytes: &[u8]) -> Result<Self, ApduError> {
        match Self::decode_prefix(bytes) {
            Some((apdu, used)) if used == bytes.len() => Ok(apdu),
            Some((_, used)) => Err(ApduError::TrailingBytes(bytes.len() - used)),
            None => Err(ApduError::Truncated),
        }
    }

    /// Decodes the APDU at the start of a byte stream (TCP), returning it and
    /// the number of bytes it used, or `None` if more bytes are needed.
    pub fn decode_prefix(bytes: &[u8]) -> Option<(Self, usize)> {
        let (&class, rest) = bytes.split_first()?;
        let (&instr, rest) = rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (len, header, rest) = if len == 0xFF {
            let (lo_hi, rest) = rest.split_at_checked(2)?;
            (
                usize::from(u16::from_le_bytes([lo_hi[0], lo_hi[1]])),
                5,
                rest,
            )
        } else {
            (usize::from(len), 3, rest)
        };
        let data = rest.get(..len)?;
        Some((
            Self {
                class,
                instr,
                data: data.to_vec(),
            },
            header + len,
        ))
    }

    /// Whether this is a positive acknowledgement `80 00 00`.
    pub fn is_positive_ack(&self) -> bool {
        self.class == command::POSITIVE_ACK_CLASS
    }

    /// The result code of a negative acknowledgement `84 xx 00`.
    pub fn negative_ack_code(&self) -> Option<u8> {
        (self.class == command::NEGATIVE_ACK_CLASS).then_some(self.instr)
    }
}

// ---------------------------------------------------------------------------
// BCD and length digits
// ---------------------------------------------------------------------------

/// Packed BCD, most significant digit first, exactly `n_bytes` long.
/// `None` if the value has more digits than fit.
pub fn bcd_encode(value: u64, n_bytes: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; n_bytes];
    let mut rest = value;
    for byte in out.iter_mut().rev() {
        let low = (rest % 10) as u8;
        rest /= 10;
        let high = (rest % 10) as u8;
        rest /= 10;
        *byte = (high << 4) | low;
    }
    (rest == 0).then_some(out)
}

/// Reads packed BCD. `None` if a nibble is not a decimal digit or the
/// number overflows.
pub fn bcd_decode(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &byte| {
        let (high, low) = (u64::from(byte >> 4), u64::from(byte & 0x0F));
        if high > 9 || low > 9 {
            return None;
        }
        acc.checked_mul(100)?.checked_add(high * 10 + low)
    })
}

/// Reads packed BCD as a digit string, keeping leading zeros (terminal ids).
pub fn bcd_digits(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        for nibble in [byte >> 4, byte & 0x0F] {
            out.push(char::from_digit(u32::from(nibble), 10)?);
        }
    }
    Some(out)
}

/// Reads `Fx Fy [Fz]` length digits.
fn length_digits(bytes: &[u8]) -> Option<usize> {
    bytes.iter().try_fold(0usize, |acc, &byte| {
        let digit = byte & 0x0F;
        (byte & 0xF0 == 0xF0 && digit <= 9).then(|| acc * 10 + usize::from(digit))
    })
}

/// Writes `len` as `Fx Fy [Fz]` digits.
fn push_length_digits(out: &mut Vec<u8>, len: usize, digits: u32) -> Result<(), ApduError> {
    if len >= 10usize.pow(digits) {
        return Err(ApduError::ValueOutOfRange);
    }
    for position in (0..digits).rev() {
        out.push(0xF0 | ((len / 10usize.pow(position)) % 10) as u8);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Bitmaps
// ---------------------------------------------------------------------------

/// The value of one bitmap as the parser hands it out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BmpValue<'a> {
    /// The value bytes (without LLVAR/LLLVAR/TLV length digits).
    Data(&'a [u8]),
    /// Card data or free text: skipped by length, contents not exposed.
    Withheld,
}

impl fmt::Debug for BmpValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Data(bytes) => write!(f, "Data({bytes:02X?})"),
            Self::Withheld => f.write_str("Withheld"),
        }
    }
}

/// One bitmap: tag and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bmp<'a> {
    pub tag: u8,
    pub value: BmpValue<'a>,
}

/// Iterates over a bitmap sequence. Stops after the first error, since the
/// length of anything after a bad field is unknown.
#[derive(Debug)]
pub struct BmpIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> BmpIter<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            failed: false,
        }
    }

    fn next_bmp(&mut self) -> Result<Bmp<'a>, ApduError> {
        let (&tag, rest) = self.rest.split_first().ok_or(ApduError::Truncated)?;
        let format = spec::bmp_format(tag).ok_or(ApduError::UnknownBmp(tag))?;
        let (value, rest) = match format {
            BmpFormat::Fixed(len) => rest
                .split_at_checked(len)
                .ok_or(ApduError::BmpTruncated(tag))?,
            BmpFormat::LlVar | BmpFormat::LllVar => {
                let digits = if format == BmpFormat::LlVar { 2 } else { 3 };
                let (len_field, rest) = rest
                    .split_at_checked(digits)
                    .ok_or(ApduError::BmpTruncated(tag))?;
                let len = length_digits(len_field).ok_or(ApduError::BadLength(tag))?;
                rest.split_at_checked(len)
                    .ok_or(ApduError::BmpTruncated(tag))?
            }
            BmpFormat::TlvContainer => {
                let (len, used) = tlv_length(rest).ok_or(ApduError::BadLength(tag))?;
                let rest = rest.get(used..).ok_or(ApduError::BmpTruncated(tag))?;
                rest.split_at_checked(len)
                    .ok_or(ApduError::BmpTruncated(tag))?
            }
        };
        self.rest = rest;
        let value = if spec::is_withheld(tag) {
            BmpValue::Withheld
        } else {
            BmpValue::Data(value)
        };
        Ok(Bmp { tag, value })
    }
}

impl<'a> Iterator for BmpIter<'a> {
    type Item = Result<Bmp<'a>, ApduError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = self.next_bmp();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Builds bitmap sequences (the ECR's commands, the simulator's answers).
#[derive(Debug, Default, Clone)]
pub struct BmpWriter {
    out: Vec<u8>,
}

impl BmpWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixed-length field; the caller supplies exactly its bytes.
    pub fn fixed(&mut self, tag: u8, value: &[u8]) -> Result<&mut Self, ApduError> {
        match spec::bmp_format(tag) {
            Some(BmpFormat::Fixed(len)) if len == value.len() => {
                self.out.push(tag);
                self.out.extend_from_slice(value);
                Ok(self)
            }
            _ => Err(ApduError::ValueOutOfRange),
        }
    }

    /// A fixed-length BCD field (amount, trace number, terminal id, ...).
    pub fn bcd(&mut self, tag: u8, value: u64) -> Result<&mut Self, ApduError> {
        let Some(BmpFormat::Fixed(len)) = spec::bmp_format(tag) else {
            return Err(ApduError::ValueOutOfRange);
        };
        let bytes = bcd_encode(value, len).ok_or(ApduError::ValueOutOfRange)?;
        self.fixed(tag, &bytes)
    }

    /// An LLVAR or LLLVAR field, whichever the tag uses.
    pub fn var(&mut self, tag: u8, value: &[u8]) -> Result<&mut Self, ApduError> {
        let digits = match spec::bmp_format(tag) {
            Some(BmpFormat::LlVar) => 2,
            Some(BmpFormat::LllVar) => 3,
            _ => return Err(ApduError::ValueOutOfRange),
        };
        let mut field = vec![tag];
        push_length_digits(&mut field, value.len(), digits)?;
        field.extend_from_slice(value);
        self.out.extend(field);
        Ok(self)
    }

    /// BMP 06, a TLV container holding these data objects.
    pub fn tlv_container(&mut self, objects: &[Tlv<'_>]) -> Result<&mut Self, ApduError> {
        let mut body = Vec::new();
        for object in objects {
            object.encode(&mut body)?;
        }
        self.out.push(spec::bmp::TLV_CONTAINER);
        push_tlv_length(&mut self.out, body.len())?;
        self.out.extend(body);
        Ok(self)
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

// ---------------------------------------------------------------------------
// TLV (BMP 06 and print text blocks)
// ---------------------------------------------------------------------------

/// One TLV data object: BER tag (one to four bytes) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

/// Reads a ZVT TLV length: `0..=7F` itself, `81 xx`, or `82 hi lo`.
/// Returns the length and the bytes used.
fn tlv_length(bytes: &[u8]) -> Option<(usize, usize)> {
    match *bytes.first()? {
        len @ 0x00..=0x7F => Some((usize::from(len), 1)),
        0x81 => Some((usize::from(*bytes.get(1)?), 2)),
        0x82 => Some((
            usize::from(u16::from_be_bytes([*bytes.get(1)?, *bytes.get(2)?])),
            3,
        )),
        _ => None,
    }
}

fn push_tlv_length(out: &mut Vec<u8>, len: usize) -> Result<(), ApduError> {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => return Err(ApduError::ValueOutOfRange),
    }
    Ok(())
}

/// Reads a BER tag: one byte, or more when the low five bits are all set
/// (continuation bytes have bit 8 set). At most four bytes.
fn tlv_tag(bytes: &[u8]) -> Option<(u32, usize)> {
    let first = *bytes.first()?;
    let mut tag = u32::from(first);
    let mut used = 1;
    if first & 0x1F == 0x1F {
        loop {
            let byte = *bytes.get(used)?;
            tag = (tag << 8) | u32::from(byte);
            used += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if used == 4 {
                return None;
            }
        }
    }
    Some((tag, used))
}

impl Tlv<'_> {
    /// Appends tag, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApduError> {
        let tag_bytes = self.tag.to_be_bytes();
        let start = tag_bytes.iter().position(|&b| b != 0).unwrap_or(3);
        let tag = &tag_bytes[start..];
        if tlv_tag(tag) != Some((self.tag, tag.len())) {
            return Err(ApduError::ValueOutOfRange);
        }
        out.extend_from_slice(tag);
        push_tlv_length(out, self.value.len())?;
        out.extend_from_slice(self.value);
        Ok(())
    }
}

/// Parses a sequence of TLV data objects (not recursing into constructed
/// ones: their value is the nested sequence).
pub fn parse_tlv(mut bytes: &[u8]) -> Result<Vec<Tlv<'_>>, ApduError> {
    let mut objects = Vec::new();
    while !bytes.is_empty() {
        let (tag, used) = tlv_tag(bytes).ok_or(ApduError::BadTlv)?;
        let rest = bytes.get(used..).ok_or(ApduError::BadTlv)?;
        let (len, used) = tlv_length(rest).ok_or(ApduError::BadTlv)?;
        let rest = rest.get(used..).ok_or(ApduError::BadTlv)?;
        let (value, rest) = rest.split_at_checked(len).ok_or(ApduError::BadTlv)?;
        objects.push(Tlv { tag, value });
        bytes = rest;
    }
    Ok(objects)
}

// ---------------------------------------------------------------------------
// Status information
// ---------------------------------------------------------------------------

/// What the driver keeps of a Status-Information (04 0F) or Completion
/// (06 0F): references and the outcome, no card data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusInfo {
    /// BMP 27, 0x00 = success.
    pub result_code: Option<u8>,
    /// BMP 04, minor units.
    pub amount: Option<u64>,
    /// BMP 49, ISO 4217 numeric.
    pub currency: Option<u16>,
    /// BMP 0B.
    pub trace: Option<u32>,
    /// BMP 29, eight digits.
    pub terminal_id: Option<String>,
    /// BMP 87.
    pub receipt_no: Option<u32>,
    /// BMP 88.
    pub turnover_no: Option<u32>,
    /// BMP 8A, a ZVT card-type id.
    pub card_type: Option<u8>,
    /// BMP 8B, the brand as the PT names it.
    pub card_name: Option<String>,
    /// BMP 3B, the authorisation attribute.
    pub auth_attribute: Option<String>,
    /// BMP 19.
    pub payment_type: Option<u8>,
}

impl StatusInfo {
    /// Reads the fields the driver needs. A field it cannot read ends the
    /// parse; what was read so far is kept and the error returned alongside,
    /// because a booked payment must not be lost over one odd field.
    pub fn parse(data: &[u8]) -> (Self, Option<ApduError>) {
        let mut info = Self::default();
        for bmp in BmpIter::new(data) {
            let bmp = match bmp {
                Ok(bmp) => bmp,
                Err(error) => return (info, Some(error)),
            };
            let BmpValue::Data(value) = bmp.value else {
                continue;
            };
            use spec::bmp as tag;
            match bmp.tag {
                tag::RESULT_CODE => info.result_code = value.first().copied(),
                tag::AMOUNT => info.amount = bcd_decode(value),
                tag::CURRENCY_CODE => {
                    info.currency = bcd_decode(value).and_then(|v| u16::try_from(v).ok())
                }
                tag::TRACE_NUMBER => {
                    info.trace = bcd_decode(value).and_then(|v| u32::try_from(v).ok())
                }
                tag::TERMINAL_ID => info.terminal_id = bcd_digits(value),
                tag::RECEIPT_NUMBER => {
                    info.receipt_no = bcd_decode(value).and_then(|v| u32::try_from(v).ok())
                }
                tag::TURNOVER_NUMBER => {
                    info.turnover_no = bcd_decode(value).and_then(|v| u32::try_from(v).ok())
                }
                tag::CARD_TYPE => info.card_type = value.first().copied(),
                tag::CARD_NAME => info.card_name = safe_text(value),
                tag::AUTH_ATTRIBUTE => info.auth_attribute = safe_text(value),
                tag::PAYMENT_TYPE => info.payment_type = value.first().copied(),
                _ => {}
            }
        }
        (info, None)
    }
}

/// Printable ASCII of a text field, trimmed of NULs and spaces. Refuses text
/// holding ten or more digits in a row: a brand name or authorisation code
/// never does, a card number always would.
pub fn safe_text(bytes: &[u8]) -> Option<String> {
    let text: String = bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                ' '
            }
        })
        .collect();
    let text = text.trim();
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 10 {
            return None;
        }
    }
    (!text.is_empty()).then(|| text.to_owned())
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// `80 00 00`, the positive acknowledgement of the receiving side.
pub fn positive_ack() -> Apdu {
    Apdu::bare([command::POSITIVE_ACK_CLASS, 0x00])
}

/// `84 xx 00`, a negative acknowledgement with a result code.
pub fn negative_ack(result_code: u8) -> Apdu {
    Apdu::bare([command::NEGATIVE_ACK_CLASS, result_code])
}

/// Registration (06 00): password (3 BCD bytes), config byte, and
/// optionally the currency (2 BCD bytes, without a BMP tag).
pub fn registration(
    password: [u8; 3],
    config: u8,
    currency: Option<u16>,
) -> Result<Apdu, ApduError> {
    let mut data = password.to_vec();
    data.push(config);
    if let Some(currency) = currency {
        data.extend(bcd_encode(u64::from(currency), 2).ok_or(ApduError::ValueOutOfRange)?);
    }
    Apdu::new(command::REGISTRATION, data)
}

/// Authorization (06 01): BMP 04 amount, BMP 49 currency.
pub fn authorization(amount: u64, currency: u16) -> Result<Apdu, ApduError> {
    let data = BmpWriter::new()
        .bcd(spec::bmp::AMOUNT, amount)?
        .bcd(spec::bmp::CURRENCY_CODE, u64::from(currency))?
        .finish();
    Apdu::new(command::AUTHORIZATION, data)
}

/// Repeat Receipt (06 20): the password (3 BCD bytes).
pub fn repeat_receipt(password: [u8; 3]) -> Apdu {
    Apdu::new(command::REPEAT_RECEIPT, password.to_vec())
        .unwrap_or_else(|_| Apdu::bare(command::REPEAT_RECEIPT))
}

/// Abort (06 B0) sent by the ECR.
pub fn abort_by_ecr() -> Apdu {
    Apdu::bare(command::ABORT_BY_ECR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn authorization_bytes() {
        let apdu = authorization(1234, 978).unwrap();
        assert_eq!(
            apdu.encode(),
            [
                0x06, 0x01, 0x0A, 0x04, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x49, 0x09, 0x78
            ]
        );
        assert!(authorization(1_000_000_000_000, 978).is_err());
    }

    #[test]
    fn extended_length_uses_ff_lo_hi() {
        let apdu = Apdu::new([0x06, 0xD3], vec![0xAB; 300]).unwrap();
        let bytes = apdu.encode();
        assert_eq!(&bytes[..5], &[0x06, 0xD3, 0xFF, 0x2C, 0x01]);
        assert_eq!(Apdu::decode(&bytes).unwrap(), apdu);
        // 255 bytes no longer fit the one-byte form (FF is the escape).
        assert_eq!(
            &Apdu::new([0x06, 0xD3], vec![0; 255]).unwrap().encode()[2..5],
            &[0xFF, 0xFF, 0x00]
        );
        assert_eq!(
            Apdu::new([0x06, 0xD3], vec![0; MAX_DATA_LEN + 1]),
            Err(ApduError::TooLong(65536))
        );
        let max = Apdu::new([0x06, 0xD3], vec![0; MAX_DATA_LEN]).unwrap();
        assert_eq!(max.encode().len(), MAX_APDU_LEN);
    }

    /// A real Status-Information after a VISA payment (from ecrterm's
    /// parser tests): masked PAN in BMP 22, card name "VISA", TLV container.
    #[test]
    fn real_status_information_parses_without_card_data() {
        let hex = "040FCE2700040000000010004909780C1230050D062922F0F8474843EEEEEE77438700023B38383931353000000B000733196029420030360E18018A0A8C038BF0F556495341002A3435353630303030303539392020203CF0F7F341532D544944203D2031334630303031330D41532D50726F632D436F6465203D203230203930332030300D436170742E2D5265662E3D20303030300D41494435393A20383039323538062B4102000A4902000315024445600F4204564953414307A00000000310102F0C1F1001001F1101011F120102";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let apdu = Apdu::decode(&bytes).unwrap();
        assert_eq!(apdu.control(), command::STATUS_INFORMATION);
        let (info, error) = StatusInfo::parse(apdu.data());
        assert_eq!(error, None);
        assert_eq!(info.result_code, Some(0));
        assert_eq!(info.amount, Some(1000));
        assert_eq!(info.currency, Some(978));
        assert_eq!(info.trace, Some(733));
        assert_eq!(info.terminal_id.as_deref(), Some("42003036"));
        assert_eq!(info.receipt_no, Some(2));
        assert_eq!(info.card_type, Some(0x0A));
        assert_eq!(info.card_name.as_deref(), Some("VISA"));
        assert_eq!(info.auth_attribute.as_deref(), Some("889150"));
        let withheld: Vec<u8> = BmpIter::new(apdu.data())
            .filter_map(Result::ok)
            .filter(|b| b.value == BmpValue::Withheld)
            .map(|b| b.tag)
            .collect();
        assert_eq!(withheld, vec![0x22, 0x0E, 0x3C, 0x06]);
    }

    #[test]
    fn safe_text_refuses_card_numbers() {
        assert_eq!(safe_text(b"VISA\0").as_deref(), Some("VISA"));
        assert_eq!(safe_text(b"123456\0\0").as_deref(), Some("123456"));
        assert_eq!(safe_text(b"4917484589897107"), None);
        assert_eq!(safe_text(b"\0\0"), None);
    }

    #[test]
    fn bcd_helpers() {
        assert_eq!(bcd_encode(978, 2), Some(vec![0x09, 0x78]));
        assert_eq!(bcd_encode(100, 1), None);
        assert_eq!(bcd_decode(&[0x09, 0x78]), Some(978));
        assert_eq!(bcd_decode(&[0x1A]), None);
        assert_eq!(
            bcd_digits(&[0x52, 0x50, 0x00, 0x38]).as_deref(),
            Some("52500038")
        );
    }

    #[test]
    fn tlv_round_trip_with_long_tags_and_lengths() {
        let long = vec![7u8; 300];
        let objects = [
            Tlv {
                tag: 0x1F10,
                value: &[0x01],
            },
            Tlv {
                tag: 0x07,
                value: &long,
            },
            Tlv {
                tag: 0x1F_81_01,
                value: &[],
            },
        ];
        let mut bytes = Vec::new();
        for object in &objects {
            object.encode(&mut bytes).unwrap();
        }
        assert_eq!(parse_tlv(&bytes).unwrap(), objects);
        assert!(
            Tlv {
                tag: 0x1F80,
                value: &[]
            }
            .encode(&mut Vec::new())
            .is_err()
        );
    }

    /// Values for a bitmap tag that the writer accepts.
    fn bmp_strategy() -> impl Strategy<Value = (u8, Vec<u8>)> {
        any::<u8>()
            .prop_filter("defined, not TLV", |t| {
                spec::bmp_format(*t).is_some_and(|f| f != BmpFormat::TlvContainer)
            })
            .prop_flat_map(|tag| {
                let len = match spec::bmp_format(tag) {
                    Some(BmpFormat::Fixed(n)) => n..=n,
                    Some(BmpFormat::LlVar) => 0..=99,
                    _ => 0..=400,
                };
                (Just(tag), prop::collection::vec(any::<u8>(), len))
            })
    }

    proptest! {
        #[test]
        fn apdu_round_trip(class: u8, instr: u8, data in prop::collection::vec(any::<u8>(), 0..700)) {
            let apdu = Apdu::new([class, instr], data).unwrap();
            let bytes = apdu.encode();
            prop_assert_eq!(Apdu::decode(&bytes).unwrap(), apdu.clone());
            prop_assert_eq!(Apdu::decode_prefix(&bytes[..bytes.len() - 1]), None);
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[1, 2, 3]);
            prop_assert_eq!(Apdu::decode_prefix(&longer), Some((apdu, bytes.len())));
        }

        #[test]
        fn bmp_round_trip(fields in prop::collection::vec(bmp_strategy(), 0..12)) {
            let mut writer = BmpWriter::new();
            for (tag, value) in &fields {
                if matches!(spec::bmp_format(*tag), Some(BmpFormat::Fixed(_))) {
                    writer.fixed(*tag, value).unwrap();
                } else {
                    writer.var(*tag, value).unwrap();
                }
            }
            let bytes = writer.finish();
            let parsed: Vec<Bmp<'_>> = BmpIter::new(&bytes).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(parsed.len(), fields.len());
            for (bmp, (tag, value)) in parsed.iter().zip(&fields) {
                prop_assert_eq!(bmp.tag, *tag);
                if spec::is_withheld(*tag) {
                    prop_assert_eq!(bmp.value, BmpValue::Withheld);
                } else {
                    prop_assert_eq!(bmp.value, BmpValue::Data(value));
                }
            }
        }

        #[test]
        fn bcd_round_trip(value in 0u64..1_000_000_000_000) {
            prop_assert_eq!(bcd_decode(&bcd_encode(value, 6).unwrap()), Some(value));
        }

        #[test]
        fn tlv_round_trip(objects in prop::collection::vec(
            (prop_oneof![0u32..0x1F, 0x20u32..0x3F, (0x1F00u32..0x1F7F)],
             prop::collection::vec(any::<u8>(), 0..300)), 0..6)
        ) {
            let mut bytes = Vec::new();
            for (tag, value) in &objects {
                Tlv { tag: *tag, value }.encode(&mut bytes).unwrap();
            }
            let parsed = parse_tlv(&bytes).unwrap();
            let expected: Vec<Tlv<'_>> = objects.iter().map(|(tag, value)| Tlv { tag: *tag, value }).collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            let _ = Apdu::decode(&bytes);
            let _ = Apdu::decode_prefix(&bytes);
            let _ = BmpIter::new(&bytes).count();
            let _ = parse_tlv(&bytes);
            let _ = StatusInfo::parse(&bytes);
            let _ = safe_text(&bytes);
            let _ = bcd_decode(&bytes);
        }
    }
}
