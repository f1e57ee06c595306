//! The ZVT specification's tables in one place: command codes, bitmap (BMP)
//! formats, result-code and intermediate-status texts, card types, and which
//! fields carry card data the driver must never keep.
//!
//! Section names refer to "ECR-Interface ZVT-Protocol, Commands, Bitmaps,
//! Error Messages" (revision 13.x, distributed by the ZVT association at
//! terminalhersteller.de) and to its companion "Transport-Protocol" document.
//! Byte details were cross-checked against open implementations (Wireshark's
//! ZVT dissector, ecrterm, Portalum.Zvt).

/// An APDU's control field: class byte and instruction byte.
pub type Control = [u8; 2];

/// Ports and framing constants ("Transport-Protocol").
pub mod transport {
    /// TCP port PTs listen on by convention ("Transport Protocol TCP/IP").
    pub const DEFAULT_TCP_PORT: u16 = 20007;
    /// Serial default: 9600 baud, 8 data bits, no parity, 2 stop bits.
    pub const DEFAULT_BAUD: u32 = 9600;
}

/// Control fields of the messages this driver sends or understands.
pub mod command {
    use super::Control;

    /// "Registration (06 00)", chapter "Commands from ECR to PT": password, config byte, currency.
    pub const REGISTRATION: Control = [0x06, 0x00];
    /// "Authorization (06 01)", chapter "Commands from ECR to PT": BMP 04 amount, BMP 49 currency.
    pub const AUTHORIZATION: Control = [0x06, 0x01];
    /// "Abort (06 B0)", chapter "Commands from ECR to PT": cancel the
    /// command in progress.
    pub const ABORT_BY_ECR: Control = [0x06, 0xB0];
    /// "Repeat Receipt (06 20)", chapter "Commands from ECR to PT": password
    /// (3 BCD bytes). The PT repeats its last stored payment: Status-Information
    /// (04 0F) with the transaction's BMPs, its receipt, then Completion (06 0F).
    /// The node uses it to learn the outcome of a payment it lost to a crash.
    pub const REPEAT_RECEIPT: Control = [0x06, 0x20];
    /// "Status-Information (04 0F)", chapter "Commands from PT to ECR":
    /// the transaction's BMPs.
    pub const STATUS_INFORMATION: Control = [0x04, 0x0F];
    /// "Intermediate Status-Information (04 FF)", PT → ECR: one status byte
    /// ("insert card", "please wait", ...).
    pub const INTERMEDIATE_STATUS: Control = [0x04, 0xFF];
    /// "Completion (06 0F)", PT → ECR: the command succeeded.
    pub const COMPLETION: Control = [0x06, 0x0F];
    /// "Abort (06 1E)", PT → ECR: the command failed; first data byte is
    /// the result code.
    pub const ABORT_BY_PT: Control = [0x06, 0x1E];
    /// "Print Line (06 D1)", PT → ECR: one receipt line.
    pub const PRINT_LINE: Control = [0x06, 0xD1];
    /// "Print Text-Block (06 D3)", PT → ECR: a whole receipt in a TLV.
    pub const PRINT_TEXT_BLOCK: Control = [0x06, 0xD3];
    /// Class byte of the positive acknowledgement `80 00 00`.
    pub const POSITIVE_ACK_CLASS: u8 = 0x80;
    /// Class byte of the negative acknowledgement `84 xx 00`; `xx` is a
    /// result code from chapter "Error-Messages".
    pub const NEGATIVE_ACK_CLASS: u8 = 0x84;
}

/// Bits of the Registration config byte ("Registration (06 00)", "Config-byte").
pub mod config_byte {
    /// The ECR prints payment receipts (PT sends them as 06 D1 / 06 D3).
    pub const ECR_PRINTS_PAYMENT_RECEIPTS: u8 = 0x02;
    /// The ECR prints administration receipts.
    pub const ECR_PRINTS_ADMIN_RECEIPTS: u8 = 0x04;
    /// The PT sends Intermediate Status-Information (04 FF).
    pub const SEND_INTERMEDIATE_STATUS: u8 = 0x08;
    /// The ECR controls payment: amount input on the PT is not possible.
    pub const ECR_CONTROLS_PAYMENT: u8 = 0x10;
    /// The ECR controls administration functions.
    pub const ECR_CONTROLS_ADMIN: u8 = 0x20;
    /// What this driver registers with: the PT prints its own receipts,
    /// reports intermediate status, and takes amounts only from the ECR.
    pub const DRIVER_DEFAULT: u8 =
        SEND_INTERMEDIATE_STATUS | ECR_CONTROLS_PAYMENT | ECR_CONTROLS_ADMIN;
}

/// How the length of one bitmap field is found (chapter "Bitmaps").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmpFormat {
    /// Exactly this many bytes follow the tag.
    Fixed(usize),
    /// Two length bytes `Fx Fy` (value = 10x + y), then the data.
    LlVar,
    /// Three length bytes `Fx Fy Fz` (value = 100x + 10y + z), then the data.
    LllVar,
    /// BMP 06: a TLV container whose length is BER-style (not LLLVAR).
    TlvContainer,
}

/// Bitmap tags the driver reads.
pub mod bmp {
    pub const TIMEOUT: u8 = 0x01;
    pub const MAX_STATUS_INFOS: u8 = 0x02;
    pub const SERVICE_BYTE: u8 = 0x03;
    pub const AMOUNT: u8 = 0x04;
    pub const TLV_CONTAINER: u8 = 0x06;
    pub const TRACE_NUMBER: u8 = 0x0B;
    pub const TIME: u8 = 0x0C;
    pub const DATE: u8 = 0x0D;
    pub const EXPIRY_DATE: u8 = 0x0E;
    pub const CARD_SEQUENCE_NUMBER: u8 = 0x17;
    pub const PAYMENT_TYPE: u8 = 0x19;
    pub const PAN: u8 = 0x22;
    pub const TRACK_2: u8 = 0x23;
    pub const TRACK_3: u8 = 0x24;
    pub const RESULT_CODE: u8 = 0x27;
    pub const TERMINAL_ID: u8 = 0x29;
    pub const VU_NUMBER: u8 = 0x2A;
    pub const TRACK_1: u8 = 0x2D;
    pub const CVV: u8 = 0x3A;
    pub const AUTH_ATTRIBUTE: u8 = 0x3B;
    pub const ADDITIONAL_TEXT: u8 = 0x3C;
    pub const PASSWORD: u8 = 0x3D;
    pub const CURRENCY_CODE: u8 = 0x49;
    pub const RECEIPT_NUMBER: u8 = 0x87;
    pub const TURNOVER_NUMBER: u8 = 0x88;
    pub const CARD_TYPE: u8 = 0x8A;
    pub const CARD_NAME: u8 = 0x8B;
    pub const CARD_TYPE_ID: u8 = 0x8C;
    pub const RESULT_CODE_AS: u8 = 0xA0;
}

/// The length rule of a bitmap tag (chapter "Bitmaps", table of BMPs).
/// `None` for tags the table does not define: their length is unknown, so a
/// parser has to stop there.
pub fn bmp_format(tag: u8) -> Option<BmpFormat> {
    use BmpFormat::{Fixed, LlVar, LllVar, TlvContainer};
    Some(match tag {
        0x01 => Fixed(1),        // timeout
        0x02 => Fixed(1),        // max. status infos
        0x03 => Fixed(1),        // service byte
        0x04 => Fixed(6),        // amount, 12 BCD digits
        0x05 => Fixed(1),        // pump number
        0x06 => TlvContainer,    // TLV container
        0x0B => Fixed(3),        // trace number, BCD
        0x0C => Fixed(3),        // time HHMMSS, BCD
        0x0D => Fixed(2),        // date MMDD, BCD
        0x0E => Fixed(2),        // expiry date YYMM, BCD
        0x17 => Fixed(2),        // card sequence number, BCD
        0x19 => Fixed(1),        // payment type / status byte
        0x22 => LlVar,           // PAN / EF_ID
        0x23 => LlVar,           // track 2 data
        0x24 => LllVar,          // track 3 data
        0x27 => Fixed(1),        // result code
        0x29 => Fixed(4),        // terminal id, 8 BCD digits
        0x2A => Fixed(15),       // VU number (contract number), ASCII
        0x2D => LlVar,           // track 1 data
        0x2E => LllVar,          // synchronous chip data
        0x37 => Fixed(3),        // trace number of the original transaction
        0x3A => Fixed(2),        // CVV / CVC
        0x3B => Fixed(8),        // AID authorisation attribute
        0x3C => LllVar,          // additional data / text
        0x3D => Fixed(3),        // password
        0x49 => Fixed(2),        // currency code, BCD
        0x60 => LllVar,          // individual totals
        0x87 => Fixed(2),        // receipt number, BCD
        0x88 => Fixed(3),        // turnover record number, BCD
        0x8A => Fixed(1),        // card type (ZVT card-type id)
        0x8B => LlVar,           // card name, ASCII
        0x8C => Fixed(1),        // card-type id of the network operator
        0x92 => LllVar,          // additional text for credit cards
        0x9A => LllVar,          // GeldKarte payment record
        0xA0 => Fixed(1),        // result code of the authorisation system
        0xA7 => LlVar,           // chip data, EF_ID
        0xAA => Fixed(3),        // date YYMMDD
        0xAF => LllVar,          // EF_Info
        0xBA => Fixed(5),        // AID parameter
        0xD0 => Fixed(1),        // algorithm key
        0xD1 => LlVar,           // card offset / PIN data
        0xD2 => Fixed(1),        // card output direction
        0xD3 => Fixed(1),        // DUKPT key identifier
        0xE0 => Fixed(1),        // minimal input length
        0xE1..=0xE8 => LlVar,    // text2 lines 1-8
        0xE9 => Fixed(1),        // maximal input length
        0xEA => Fixed(1),        // echo input
        0xEB => Fixed(8),        // MAC over text 1 and 2
        0xF0 => Fixed(1),        // display duration
        0xF1..=0xF8 => LlVar,    // text1 lines 1-8
        0xF9..=0xFD => Fixed(1), // beeps, reader activation, confirmation, dialog control, display device
        _ => return None,
    })
}

/// Bitmaps whose contents the driver withholds while parsing: card data, and
/// free-text or container fields that may embed it. The parser skips their
/// bytes using only their length ([`crate::zvt::apdu::BmpValue::Withheld`]),
/// so their values are never copied, logged or returned.
pub const WITHHELD_BMPS: &[(u8, &str)] = &[
    (
        0x06,
        "TLV container: may carry EMV data objects such as the application PAN",
    ),
    (0x0E, "expiry date"),
    (0x17, "card sequence number"),
    (0x22, "PAN / EF_ID"),
    (0x23, "track 2 data"),
    (0x24, "track 3 data"),
    (0x2D, "track 1 data"),
    (0x2E, "synchronous chip data"),
    (0x3A, "CVV / CVC"),
    (
        0x3C,
        "additional text: free text that may quote the card number",
    ),
    (0x92, "additional text for credit cards"),
    (0x9A, "GeldKarte payment record"),
    (0xA7, "chip data, EF_ID"),
    (0xAF, "EF_Info"),
    (0xD1, "card offset / PIN data"),
];

/// Whether a bitmap's contents must be withheld (see [`WITHHELD_BMPS`]).
pub fn is_withheld(tag: u8) -> bool {
    WITHHELD_BMPS.iter().any(|(t, _)| *t == tag)
}

/// Result codes (chapter "Error-Messages"): the English text for a code, as
/// carried in BMP 27, in Abort 06 1E and in negative acknowledgements 84 xx.
pub fn result_code_text(code: u8) -> &'static str {
    match code {
        0x00 => "no error",
        0x01..=0x63 => "declined by the network operator / authorisation system",
        0x64 => "card not readable (LRC-/parity-error)",
        0x65 => "card-data not present (neither track-data nor chip found)",
        0x66 => "processing-error (also for problems with card-reader mechanism)",
        0x67 => "function not permitted for ec- and Maestro-cards",
        0x68 => "function not permitted for credit- and tank-cards",
        0x6A => "turnover-file full",
        0x6B => "function deactivated (PT not registered)",
        0x6C => "abort via timeout or abort-key",
        0x6E => "card in blocked-list",
        0x6F => "wrong currency",
        0x71 => "credit not sufficient (chip-card)",
        0x72 => "chip error",
        0x73 => "card-data incorrect (e.g. country-key check, checksum-error)",
        0x74 => "DUKPT engine exhausted",
        0x75 => "text not authentic",
        0x76 => "PAN not in white list",
        0x77 => "end-of-day batch not possible",
        0x78 => "card expired",
        0x79 => "card not yet valid",
        0x7A => "card unknown",
        0x7B => "fallback to magnetic stripe for girocard not possible",
        0x7C => "fallback to magnetic stripe not possible",
        0x7D => "communication error (communication module does not answer or is not present)",
        0x7E => "fallback to magnetic stripe not possible, debit advice possible",
        0x83 => "function not possible",
        0x85 => "key missing",
        0x89 => "PIN-pad defective",
        0x9A => "ZVT protocol error",
        0x9B => "error from dial-up/communication fault",
        0x9C => "please wait",
        0xA0 => "receiver not ready",
        0xA1 => "remote station does not respond",
        0xA3 => "no connection",
        0xA4 => "submission of Geldkarte not possible",
        0xA5 => "function not allowed due to PCI-DSS/P2PE rules",
        0xB1 => "memory full",
        0xB2 => "merchant-journal full",
        0xB4 => "already reversed",
        0xB5 => "reversal not possible",
        0xB7 => "pre-authorisation incorrect (amount too high) or amount wrong",
        0xB8 => "error pre-authorisation",
        0xBF => "voltage supply too low (external power supply)",
        0xC0 => "card locking mechanism defective",
        0xC1 => "merchant-card locked",
        0xC2 => "diagnosis required",
        0xC3 => "maximum amount exceeded",
        0xC4 => "card-profile invalid, new card-profiles must be loaded",
        0xC5 => "payment method not supported",
        0xC6 => "currency not applicable",
        0xC8 => "amount too small",
        0xC9 => "max. transaction-amount too small",
        0xCB => "function only allowed in EURO",
        0xCC => "printer not ready",
        0xCD => "cashback not possible",
        0xD2 => "function not permitted for service-cards/bank-customer-cards",
        0xDC => "card inserted",
        0xDD => "error during card-eject (for motor-insertion reader)",
        0xDE => "error during card-insertion (for motor-insertion reader)",
        0xE0 => "remote-maintenance activated",
        0xE2 => "card-reader does not answer / card-reader defective",
        0xE3 => "shutter closed",
        0xE4 => "terminal activation required",
        0xE7 => "min. one goods-group not found",
        0xE8 => "no goods-groups-table loaded",
        0xE9 => "restriction-code not permitted",
        0xEA => "card-code not permitted (e.g. card not activated via Diagnosis)",
        0xEB => "function not executable (PIN-algorithm unknown)",
        0xEC => "PIN-processing not possible",
        0xED => "PIN-pad defective",
        0xF0 => "open end-of-day batch present",
        0xF1 => "ec-cash/Maestro offline error",
        0xF5 => "OPT-error",
        0xF6 => "OPT-data not available (OPT personalisation required)",
        0xFA => "error transmitting offline-transactions (clearing error)",
        0xFB => "turnover data-set defective",
        0xFC => "necessary device not present or defective",
        0xFD => "baudrate not supported",
        0xFE => "register unknown",
        0xFF => "system error (other/unknown error)",
        _ => "unknown result code",
    }
}

/// Result code 0x6C: "abort via timeout or abort-key", i.e. the customer
/// cancelled or let the terminal time out.
pub const RESULT_ABORTED: u8 = 0x6C;

/// Result codes a PT answers with when it cannot take a command right now
/// (negative acknowledgement `84 xx 00` to a command): "please wait" (0x9C,
/// older revisions: repeat-request), "receiver not ready" (0xA0) and
/// "function not possible" (0x83, e.g. another transaction is running).
pub const BUSY_RESULT_CODES: &[u8] = &[0x83, 0x9C, 0xA0];

/// Intermediate status codes (chapter "Intermediate Status-Information",
/// table of status texts); used for logs only.
pub fn intermediate_status_text(code: u8) -> &'static str {
    match code {
        0x00 => "PT is waiting for amount-confirmation",
        0x01 | 0x02 => "please watch PIN-pad",
        0x03 => "not accepted",
        0x04 => "PT is waiting for response from FEP",
        0x05 => "PT is sending auto-reversal",
        0x06 => "PT is sending post-bookings",
        0x07 => "card not admitted",
        0x08 => "card unknown / undefined",
        0x09 => "expired card",
        0x0A => "insert card",
        0x0B => "please remove card",
        0x0C => "card not readable",
        0x0D => "processing error",
        0x0E | 0x17 => "please wait",
        0x0F => "PT is commencing an automatic end-of-day batch",
        0x10 => "invalid card",
        0x11 => "balance display",
        0x12 => "system malfunction",
        0x13 => "payment not possible",
        0x14 => "credit not sufficient",
        0x15 => "incorrect PIN",
        0x16 => "limit not sufficient",
        0x18 => "PIN try limit exceeded",
        0x19 => "card-data incorrect",
        0x1A => "service-mode",
        0x1B => "approved, please fill-up",
        0x1C => "approved, please take goods",
        0x1D => "declined",
        0x41..=0x5D => "as code minus 0x40, and: please remove card",
        0xFF => "no appropriate ZVT status code (see TLV)",
        _ => "other status",
    }
}

/// Card-type ids of BMP 8A (chapter "List of ZVT Card-type IDs"), the common
/// ones. BMP 8B (card name) is preferred when the PT sends it.
pub fn card_type_name(id: u8) -> Option<&'static str> {
    match id {
        0x02 => Some("ec-card"),
        0x05 => Some("girocard"),
        0x06 => Some("Mastercard"),
        0x0A => Some("VISA"),
        _ => None,
    }
}
