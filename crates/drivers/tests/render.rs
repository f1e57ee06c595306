//! The exact bytes of a receipt and a kitchen ticket (insta snapshots, so any
//! change to what the printer receives shows up in review), and properties
//! over arbitrary documents: rendering never fails, always starts with
//! `ESC @`, ends with a cut, and no printed line is wider than the paper.

use drivers::render::{
    DocLine, DocPayment, KitchenDoc, KitchenItem, PaperWidth, ReceiptDoc, TaxLine, drawer_kick,
    render_kitchen, render_receipt,
};
use proptest::prelude::*;

/// Bytes as readable text: printable ASCII as is (except `<`), LF as a line
/// break, every other run of bytes as hex in angle brackets, e.g. `<1B 40>`.
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut hex: Vec<String> = Vec::new();
    let flush = |out: &mut String, hex: &mut Vec<String>| {
        if !hex.is_empty() {
            out.push('<');
            out.push_str(&hex.join(" "));
            out.push('>');
            hex.clear();
        }
    };
    for &b in bytes {
        match b {
            b'\n' => {
                flush(&mut out, &mut hex);
                out.push('\n');
            }
            0x20..=0x7e if b != b'<' => {
                flush(&mut out, &mut hex);
                out.push(char::from(b));
            }
            _ => hex.push(format!("{b:02X}")),
        }
    }
    flush(&mut out, &mut hex);
    out
}

fn sample_receipt() -> ReceiptDoc {
    ReceiptDoc {
        store_name: "Café Örtlich".into(),
        store_lines: vec![
            "12 Harbour Street, Springfield".into(),
            "Tel 555-0100".into(),
            "Tax ID 12-3456789".into(),
        ],
        ticket: "S-0042".into(),
        order_id: "0193a5c2-7d4e-7f00-8a1b-2c3d4e5f6a7b".into(),
        channel: "counter".into(),
        placed_at: "2026-11-26 12:04".into(),
        currency: "USD".into(),
        lines: vec![
            DocLine {
                qty: 2,
                name: "Burger".into(),
                modifiers: vec!["Extra cheese".into(), "No pickles".into()],
                note: Some("well done".into()),
                amount: 2398,
            },
            DocLine {
                qty: 1,
                name: "Crème brûlée with seasonal berries and a very long description".into(),
                modifiers: vec![],
                note: None,
                amount: 750,
            },
            DocLine {
                qty: 3,
                name: "Lemonade".into(),
                modifiers: vec![],
                note: None,
                amount: 1050,
            },
        ],
        subtotal: 4198,
        discount: 420,
        taxes: vec![TaxLine {
            label: "Tax 8.25%".into(),
            amount: 312,
        }],
        total: 4090,
        payments: vec![
            DocPayment {
                method: "cash".into(),
                amount: 2000,
                tendered: Some(2000),
                change: Some(0),
                reference: None,
            },
            DocPayment {
                method: "card".into(),
                amount: 2090,
                tendered: None,
                change: None,
                reference: Some("TID 29811 / 004711".into()),
            },
        ],
        footer: Some("Thank you! Come again.".into()),
    }
}

fn sample_kitchen() -> KitchenDoc {
    KitchenDoc {
        station: "Grill".into(),
        ticket: "S-0042".into(),
        channel: "kiosk".into(),
        placed_at: "12:04".into(),
        items: vec![
            KitchenItem {
                qty: 2,
                name: "Burger".into(),
                modifiers: vec!["Extra cheese".into()],
                note: Some("well done".into()),
            },
            KitchenItem {
                qty: 1,
                name: "Grilled halloumi skewers with a name too long for one line".into(),
                modifiers: vec![],
                note: None,
            },
        ],
        order_note: Some("Allergy: nuts".into()),
        reprint: true,
        pickup_at: None,
    }
}

#[test]
fn receipt_80mm_bytes() {
    let bytes = render_receipt(&sample_receipt(), PaperWidth::Mm80).unwrap();
    insta::assert_snapshot!(escaped(&bytes));
}

#[test]
fn receipt_58mm_bytes() {
    let bytes = render_receipt(&sample_receipt(), PaperWidth::Mm58).unwrap();
    insta::assert_snapshot!(escaped(&bytes));
}

#[test]
fn kitchen_58mm_bytes() {
    let bytes = render_kitchen(&sample_kitchen(), PaperWidth::Mm58).unwrap();
    insta::assert_snapshot!(escaped(&bytes));
}

#[test]
fn kitchen_80mm_bytes() {
    let mut doc = sample_kitchen();
    doc.reprint = false;
    doc.order_note = None;
    let bytes = render_kitchen(&doc, PaperWidth::Mm80).unwrap();
    insta::assert_snapshot!(escaped(&bytes));
}

#[test]
fn an_order_placed_ahead_prints_its_pickup_time_under_the_ticket() {
    let mut doc = sample_kitchen();
    let plain = escaped(&render_kitchen(&doc, PaperWidth::Mm80).unwrap());
    assert!(!plain.contains("PICKUP"));
    doc.pickup_at = Some("12:30".into());
    for width in [PaperWidth::Mm58, PaperWidth::Mm80] {
        let bytes = render_kitchen(&doc, width).unwrap();
        let text = escaped(&bytes);
        let (ticket, pickup, item) = (
            text.find("S-0042").unwrap(),
            text.find("PICKUP 12:30")
                .expect("the pickup time is printed"),
            text.find("Burger").unwrap(),
        );
        assert!(ticket < pickup && pickup < item, "{text}");
        check_layout(&bytes, width).unwrap();
    }
}

#[test]
fn drawer_kick_is_pin_2_50ms_on_500ms_off() {
    assert_eq!(drawer_kick(), [0x1B, 0x70, 0x00, 0x19, 0xFA]);
}

#[test]
fn receipt_carries_the_order_id_in_a_qr_code() {
    let doc = sample_receipt();
    let bytes = render_receipt(&doc, PaperWidth::Mm80).unwrap();
    // GS ( k pL pH 49 80 48 d1..dk: store the symbol data, then print it.
    let mut store = vec![
        0x1D,
        0x28,
        0x6B,
        (doc.order_id.len() + 3) as u8,
        0,
        49,
        80,
        48,
    ];
    store.extend_from_slice(doc.order_id.as_bytes());
    store.extend_from_slice(&[0x1D, 0x28, 0x6B, 3, 0, 49, 81, 48]);
    assert!(
        find(&bytes, &store).is_some(),
        "QR code of the order id missing"
    );
}

#[test]
fn yen_amounts_have_no_decimals_and_extremes_do_not_overflow() {
    let mut doc = sample_receipt();
    doc.currency = "JPY".into();
    doc.total = 1500;
    let text = escaped(&render_receipt(&doc, PaperWidth::Mm58).unwrap());
    assert!(text.contains("TOTAL JPY"), "{text}");
    assert!(text.contains(" 1500\n"), "{text}");

    doc.currency = "USD".into();
    doc.total = i64::MIN;
    doc.discount = i64::MIN;
    let text = escaped(&render_receipt(&doc, PaperWidth::Mm58).unwrap());
    assert!(text.contains("-92233720368547758.08\n"), "{text}");
}

#[test]
fn printed_lines_fit_the_paper_for_the_samples() {
    for width in [PaperWidth::Mm58, PaperWidth::Mm80] {
        check_layout(&render_receipt(&sample_receipt(), width).unwrap(), width).unwrap();
        check_layout(&render_kitchen(&sample_kitchen(), width).unwrap(), width).unwrap();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Walks the byte stream knowing only the commands the renderer emits and
/// checks that every printed line, at its magnification, fits in the paper's
/// columns, and that text is printable ASCII.
fn check_layout(bytes: &[u8], width: PaperWidth) -> Result<(), String> {
    let cols = width.columns();
    let mut i = 0;
    let mut mag_w = 1usize;
    let mut line = 0usize;
    let arg = |i: usize| {
        bytes
            .get(i)
            .copied()
            .ok_or(format!("truncated command at {i}"))
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x0A => {
                line = 0;
                i += 1;
            }
            0x20..=0x7E => {
                line += mag_w;
                if line > cols {
                    return Err(format!("line wider than {cols} columns at byte {i}"));
                }
                i += 1;
            }
            0x1B => match arg(i + 1)? {
                b'@' => {
                    mag_w = 1;
                    i += 2;
                }
                b'a' | b'E' => i += 3,
                b'd' => {
                    line = 0;
                    i += 3;
                }
                other => return Err(format!("unexpected ESC {other:#04x} at {i}")),
            },
            0x1D => match arg(i + 1)? {
                b'!' => {
                    mag_w = usize::from(arg(i + 2)? >> 4) + 1;
                    i += 3;
                }
                b'B' => i += 3,
                b'V' => i += 4,
                b'(' => {
                    let len = usize::from(arg(i + 3)?) + 256 * usize::from(arg(i + 4)?);
                    i += 5 + len;
                }
                other => return Err(format!("unexpected GS {other:#04x} at {i}")),
            },
            other => return Err(format!("unexpected byte {other:#04x} at {i}")),
        }
    }
    Ok(())
}

fn ends_with_cut(bytes: &[u8]) -> bool {
    bytes.ends_with(&[0x1D, 0x56, 0x41, 0x00]) || bytes.ends_with(&[0x1D, 0x56, 0x41, 0x01])
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,120}", "[a-z ]{0,200}"]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn doc_line() -> impl Strategy<Value = DocLine> {
    (
        any::<u32>(),
        text(),
        prop::collection::vec(text(), 0..3),
        opt_text(),
        any::<i64>(),
    )
        .prop_map(|(qty, name, modifiers, note, amount)| DocLine {
            qty,
            name,
            modifiers,
            note,
            amount,
        })
}

fn payment() -> impl Strategy<Value = DocPayment> {
    (
        prop_oneof![Just("cash".to_owned()), Just("card".to_owned()), text()],
        any::<i64>(),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        opt_text(),
    )
        .prop_map(|(method, amount, tendered, change, reference)| DocPayment {
            method,
            amount,
            tendered,
            change,
            reference,
        })
}

fn receipt() -> impl Strategy<Value = ReceiptDoc> {
    (
        (text(), prop::collection::vec(text(), 0..3), text(), text()),
        (
            text(),
            text(),
            prop_oneof![Just("USD".to_owned()), Just("JPY".to_owned()), text()],
        ),
        prop::collection::vec(doc_line(), 0..4),
        (any::<i64>(), any::<i64>(), any::<i64>()),
        prop::collection::vec((text(), any::<i64>()), 0..3),
        prop::collection::vec(payment(), 0..3),
        opt_text(),
    )
        .prop_map(
            |(
                (store_name, store_lines, ticket, order_id),
                (channel, placed_at, currency),
                lines,
                (subtotal, discount, total),
                taxes,
                payments,
                footer,
            )| ReceiptDoc {
                store_name,
                store_lines,
                ticket,
                order_id,
                channel,
                placed_at,
                currency,
                lines,
                subtotal,
                discount,
                taxes: taxes
                    .into_iter()
                    .map(|(label, amount)| TaxLine { label, amount })
                    .collect(),
                total,
                payments,
                footer,
            },
        )
}

fn kitchen() -> impl Strategy<Value = KitchenDoc> {
    let item = (
        any::<u32>(),
        text(),
        prop::collection::vec(text(), 0..3),
        opt_text(),
    )
        .prop_map(|(qty, name, modifiers, note)| KitchenItem {
            qty,
            name,
            modifiers,
            note,
        });
    (
        (text(), text(), text(), text()),
        prop::collection::vec(item, 0..4),
        opt_text(),
        any::<bool>(),
        opt_text(),
    )
        .prop_map(
            |((station, ticket, channel, placed_at), items, order_note, reprint, pickup_at)| {
                KitchenDoc {
                    station,
                    ticket,
                    channel,
                    placed_at,
                    items,
                    order_note,
                    reprint,
                    pickup_at,
                }
            },
        )
}

fn paper() -> impl Strategy<Value = PaperWidth> {
    prop_oneof![Just(PaperWidth::Mm58), Just(PaperWidth::Mm80)]
}

proptest! {
    #[test]
    fn any_receipt_renders_fits_and_ends_with_a_cut(doc in receipt(), width in paper()) {
        let bytes = render_receipt(&doc, width).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(bytes.starts_with(&[0x1B, 0x40]));
        prop_assert!(ends_with_cut(&bytes));
        check_layout(&bytes, width).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn any_kitchen_ticket_renders_fits_and_ends_with_a_cut(doc in kitchen(), width in paper()) {
        let bytes = render_kitchen(&doc, width).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(bytes.starts_with(&[0x1B, 0x40]));
        prop_assert!(ends_with_cut(&bytes));
        check_layout(&bytes, width).map_err(TestCaseError::fail)?;
    }
}
