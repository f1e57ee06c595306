//! Who may do what. Roles and permissions are data here; the servers enforce
//! them (the store node in its request extractors).

use crate::order::Channel;
use crate::status::Transition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns the business: everything a manager can, plus staff and settings.
    Owner,
    /// Runs a shift: menu edits, voids, refunds, reprints.
    Manager,
    /// Takes orders and payments at the counter.
    Cashier,
    /// Works the kitchen display: sees and bumps tickets.
    Kitchen,
    /// Orders for themselves (kiosk, online).
    Customer,
    /// Platform operator (the hub's staff); not a store employee.
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    MenuRead,
    MenuEdit,
    MenuSoldOut,
    OrderCreate,
    OrderRead,
    /// Accept, start, ready, complete.
    OrderProgress,
    OrderCancel,
    OrderVoid,
    OrderRefund,
    /// Give a discount without asking a manager.
    OrderDiscount,
    /// Take a payment at the counter.
    PaymentTake,
    StaffManage,
    EventsSubscribe,
    /// See devices and their health (printers, terminals).
    DeviceRead,
    /// Register, change and remove devices; reprint dead print jobs.
    DeviceManage,
    /// Change a store's settings: profile, hours, pickup lead time, online ordering on/off.
    SettingsManage,
    /// Enrol the store's nodes at the hub (issue and revoke node tokens): what an installer needs.
    NodeEnroll,
    /// Read the sales reports (totals and breakdowns of a store's or an organisation's orders).
    ReportsView,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Manager,
        Role::Cashier,
        Role::Kitchen,
        Role::Customer,
        Role::Admin,
    ];

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => &[
                MenuRead,
                MenuEdit,
                MenuSoldOut,
                OrderCreate,
                OrderRead,
                OrderProgress,
                OrderCancel,
                OrderVoid,
                OrderRefund,
                OrderDiscount,
                PaymentTake,
                StaffManage,
                EventsSubscribe,
                DeviceRead,
                DeviceManage,
                SettingsManage,
                NodeEnroll,
                ReportsView,
            ],
            Role::Manager => &[
                MenuRead,
                MenuEdit,
                MenuSoldOut,
                OrderCreate,
                OrderRead,
                OrderProgress,
                OrderCancel,
                OrderVoid,
                OrderRefund,
                OrderDiscount,
                PaymentTake,
                EventsSubscribe,
                DeviceRead,
                DeviceManage,
                SettingsManage,
                ReportsView,
            ],
            Role::Cashier => &[
                MenuRead,
                OrderCreate,
                OrderRead,
                OrderProgress,
                OrderCancel,
                PaymentTake,
                EventsSubscribe,
                DeviceRead,
            ],
            Role::Kitchen => &[
                MenuRead,
                OrderRead,
                OrderProgress,
                EventsSubscribe,
                DeviceRead,
            ],
            Role::Customer => &[MenuRead, OrderCreate],
        }
    }

    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }

    /// Staff ring orders up at the POS; customers order at a kiosk or online.
    pub fn may_place_on(self, channel: Channel) -> bool {
        match self {
            Role::Customer => matches!(channel, Channel::Kiosk | Channel::Online),
            Role::Kitchen => false,
            Role::Owner | Role::Manager | Role::Cashier | Role::Admin => channel != Channel::Online,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Cashier => "cashier",
            Role::Kitchen => "kitchen",
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl Transition {
    /// The permission a transition needs.
    pub fn permission(self) -> Permission {
        match self {
            Transition::Accept | Transition::Start | Transition::Ready | Transition::Complete => {
                Permission::OrderProgress
            }
            Transition::Cancel => Permission::OrderCancel,
            Transition::Void => Permission::OrderVoid,
            Transition::Refund => Permission::OrderRefund,
        }
    }
}

/// A staff PIN: 4 to 8 digits. Never stored; servers keep only an Argon2 hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a PIN is 4 to 8 digits")]
pub struct PinError;

impl Pin {
    pub fn parse(s: &str) -> Result<Pin, PinError> {
        if (4..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(s.to_owned()))
        } else {
            Err(PinError)
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitchen_cannot_void_or_edit_menus_but_managers_can() {
        assert!(!Role::Kitchen.can(Permission::OrderVoid));
        assert!(!Role::Cashier.can(Permission::MenuEdit));
        assert!(Role::Manager.can(Permission::OrderVoid));
        assert!(Role::Kitchen.can(Transition::Ready.permission()));
        assert!(!Role::Customer.may_place_on(Channel::Pos));
    }

    #[test]
    fn owners_and_managers_change_settings_but_only_owners_manage_staff() {
        for r in [Role::Owner, Role::Manager, Role::Admin] {
            assert!(r.can(Permission::SettingsManage), "{r:?}");
        }
        for r in [Role::Cashier, Role::Kitchen, Role::Customer] {
            assert!(!r.can(Permission::SettingsManage), "{r:?}");
        }
        assert!(!Role::Manager.can(Permission::StaffManage));
    }

    #[test]
    fn only_owners_enrol_nodes() {
        for r in Role::ALL {
            assert_eq!(
                r.can(Permission::NodeEnroll),
                matches!(r, Role::Owner | Role::Admin),
                "{r:?}"
            );
        }
    }

    #[test]
    fn owners_and_managers_read_sales_reports_cashiers_do_not() {
        for r in Role::ALL {
            assert_eq!(
                r.can(Permission::ReportsView),
                matches!(r, Role::Owner | Role::Manager | Role::Admin),
                "{r:?}"
            );
        }
    }

    #[test]
    fn pins_are_digits_and_never_printed() {
        assert!(Pin::parse("1234").is_ok());
        assert!(Pin::parse("12a4").is_err());
        assert!(Pin::parse("123").is_err());
        assert_eq!(format!("{:?}", Pin::parse("1234").unwrap()), "Pin(****)");
    }
}
