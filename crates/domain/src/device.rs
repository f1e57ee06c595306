//! The store's devices as data: what kinds there are, how each kind may be
//! connected, and the rules a registration must follow. The store node keeps
//! the registry and talks to the hardware; this module only decides what is a
//! valid registration, so every server decides the same way.

use crate::Ident;

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Prints customer receipts at the counter; a cash drawer is usually wired to it.
    ReceiptPrinter,
    /// Prints kitchen tickets for one station.
    KitchenPrinter,
    /// Takes card payments; never hands card data to the node.
    CardTerminal,
    /// Opens on a kick pulse, through a receipt printer or its own serial line.
    CashDrawer,
    /// A kitchen display screen on MQTT.
    KdsScreen,
    /// A self-order kiosk on MQTT.
    Kiosk,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 6] = [
        DeviceKind::ReceiptPrinter,
        DeviceKind::KitchenPrinter,
        DeviceKind::CardTerminal,
        DeviceKind::CashDrawer,
        DeviceKind::KdsScreen,
        DeviceKind::Kiosk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::ReceiptPrinter => "receipt_printer",
            DeviceKind::KitchenPrinter => "kitchen_printer",
            DeviceKind::CardTerminal => "card_terminal",
            DeviceKind::CashDrawer => "cash_drawer",
            DeviceKind::KdsScreen => "kds_screen",
            DeviceKind::Kiosk => "kiosk",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Printers take ESC/POS print jobs.
    pub fn is_printer(self) -> bool {
        matches!(
            self,
            DeviceKind::ReceiptPrinter | DeviceKind::KitchenPrinter
        )
    }

    /// Whether a device of this kind may be connected this way.
    pub fn allows(self, link: LinkKind) -> bool {
        use LinkKind::*;
        match self {
            DeviceKind::ReceiptPrinter | DeviceKind::KitchenPrinter => {
                matches!(link, Serial | Tcp | File | Usb)
            }
            DeviceKind::CardTerminal => matches!(link, Serial | Tcp),
            DeviceKind::CashDrawer => matches!(link, ViaPrinter | Serial),
            DeviceKind::KdsScreen | DeviceKind::Kiosk => matches!(link, Mqtt),
        }
    }
}

/// How a device is connected, without its address details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Serial,
    Tcp,
    File,
    Usb,
    Mqtt,
    /// A cash drawer wired to a receipt printer's drawer port.
    ViaPrinter,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Serial => "serial",
            LinkKind::Tcp => "tcp",
            LinkKind::File => "file",
            LinkKind::Usb => "usb",
            LinkKind::Mqtt => "mqtt",
            LinkKind::ViaPrinter => "via_printer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("a {kind} cannot be connected over {link}")]
    LinkNotAllowed {
        kind: &'static str,
        link: &'static str,
    },
    #[error("a kitchen printer needs the station it prints for")]
    StationRequired,
    #[error("only kitchen printers and KDS screens belong to a station")]
    StationNotAllowed,
    #[error("the name must be 1 to 60 characters")]
    BadName,
}

/// Checks a registration: the link suits the kind, and a station is given exactly where one belongs.
pub fn validate(
    kind: DeviceKind,
    name: &str,
    link: LinkKind,
    station: Option<&Ident>,
) -> Result<(), DeviceError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 60 {
        return Err(DeviceError::BadName);
    }
    if !kind.allows(link) {
        return Err(DeviceError::LinkNotAllowed {
            kind: kind.as_str(),
            link: link.as_str(),
        });
    }
    match (kind, station) {
        (DeviceKind::KitchenPrinter, None) => Err(DeviceError::StationRequired),
        (DeviceKind::KitchenPrinter | DeviceKind::KdsScreen, _) | (_, None) => Ok(()),
        (_, Some(_)) => Err(DeviceError::StationNotAllowed),
    }
}

/// MQTT topics of a store's devices. A device publishes only under its own
/// subtree and reads its own subtree and the store's broadcast topics.
pub mod topics {
    /// `store/{store}/devices/{device}`: the root of one device's topics.
    pub fn device_root(store: &str, device: &str) -> String {
        format!("store/{store}/devices/{device}")
    }
    /// `store/{store}/broadcast`: what the node tells every device (order updates).
    pub fn broadcast_root(store: &str) -> String {
        format!("store/{store}/broadcast")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitchen_printers_need_a_station_and_receipt_printers_must_not_have_one() {
        let grill = Ident::parse("grill").unwrap();
        assert_eq!(
            validate(DeviceKind::KitchenPrinter, "Grill", LinkKind::Tcp, None),
            Err(DeviceError::StationRequired)
        );
        assert!(
            validate(
                DeviceKind::KitchenPrinter,
                "Grill",
                LinkKind::Tcp,
                Some(&grill)
            )
            .is_ok()
        );
        assert_eq!(
            validate(
                DeviceKind::ReceiptPrinter,
                "Front",
                LinkKind::Tcp,
                Some(&grill)
            ),
            Err(DeviceError::StationNotAllowed)
        );
    }

    #[test]
    fn links_follow_the_kind() {
        assert!(validate(DeviceKind::CardTerminal, "T1", LinkKind::Serial, None).is_ok());
        assert!(validate(DeviceKind::CardTerminal, "T1", LinkKind::Mqtt, None).is_err());
        assert!(validate(DeviceKind::CashDrawer, "D", LinkKind::ViaPrinter, None).is_ok());
        assert!(validate(DeviceKind::KdsScreen, "K", LinkKind::Tcp, None).is_err());
        assert_eq!(
            validate(DeviceKind::Kiosk, "  ", LinkKind::Mqtt, None),
            Err(DeviceError::BadName)
        );
    }
}
