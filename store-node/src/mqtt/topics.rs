//! Names and topic rules of the store's MQTT space: which store and device ids
//! are valid, which topics a device may publish to, which filters it may
//! subscribe to, and how a topic names its device. Pure functions over strings,
//! shared by the proxy (which enforces them) and the node's link (which reads
//! device status topics).
//!
//! The topic layout is
//!
//! ```text
//! store/{store}/devices/{device}/...   a device's own subtree (it publishes and subscribes here;
//!                                      the node reads all of them and may write to any)
//! store/{store}/broadcast/...          the node to every device (devices may only subscribe)
//! ```
//!
//! Ids are `[A-Za-z0-9_-]{1,64}`, so they never contain `/`, `+` or `#`: a
//! prefix built from them is a literal run of whole topic levels, and checking
//! "starts with `store/S/devices/D/`" is exactly "lies in D's subtree".

use thiserror::Error;

/// Longest id (store or device).
pub const MAX_ID_LEN: usize = 64;
/// Longest topic name or filter accepted from a device, in bytes.
pub const MAX_TOPIC_LEN: usize = 512;
/// The subtopic on which a device reports it is alive (heartbeats, its last will).
pub const STATUS_SUBTOPIC: &str = "status";
/// The MQTT client id of the node's own in-process link. No device may use it:
/// rumqttd would hand the node's link over to such a device (a takeover).
pub const NODE_CLIENT_ID: &str = "store-node";

/// True for a valid store or device id: 1 to 64 ASCII letters, digits, `_` or `-`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// True for an id a device may connect with: a valid id other than [`NODE_CLIENT_ID`].
pub fn is_valid_device_id(id: &str) -> bool {
    is_valid_id(id) && id != NODE_CLIENT_ID
}

/// Why a topic or filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicError {
    #[error("topic is empty or longer than {MAX_TOPIC_LEN} bytes")]
    Length,
    #[error("a topic name may not contain `+`, `#` or NUL")]
    Wildcard,
    #[error("malformed filter (`#` must be a whole last level, `+` a whole level, no NUL)")]
    MalformedFilter,
    #[error("outside the device's own subtree")]
    OutsideScope,
    #[error("{0} is reserved for the device itself")]
    Reserved(String),
}

/// The topic rules of one connected device.
#[derive(Debug, Clone)]
pub struct DeviceScope {
    /// `store/{store}/devices/{device}/`
    own: String,
    /// `store/{store}/broadcast/`
    broadcast: String,
}

impl DeviceScope {
    /// The scope of `device` in `store`; `None` when either id is invalid.
    pub fn new(store: &str, device: &str) -> Option<DeviceScope> {
        if !is_valid_id(store) || !is_valid_id(device) {
            return None;
        }
        Some(DeviceScope {
            own: format!("store/{store}/devices/{device}/"),
            broadcast: format!("store/{store}/broadcast/"),
        })
    }

    /// Checks a PUBLISH (or last-will) topic and returns the part after the
    /// device's prefix (`store/S/devices/D/`), which is never empty.
    pub fn check_publish<'t>(&self, topic: &'t str) -> Result<&'t str, TopicError> {
        check_topic_name(topic)?;
        match topic.strip_prefix(self.own.as_str()) {
            Some(sub) if !sub.is_empty() => Ok(sub),
            _ => Err(TopicError::OutsideScope),
        }
    }

    /// Checks a SUBSCRIBE filter: it must lie in the device's own subtree or in
    /// the broadcast subtree, with wildcards only below those prefixes.
    pub fn check_subscribe(&self, filter: &str) -> Result<(), TopicError> {
        if filter.is_empty() || filter.len() > MAX_TOPIC_LEN {
            return Err(TopicError::Length);
        }
        check_filter_syntax(filter)?;
        let below = filter
            .strip_prefix(self.own.as_str())
            .or_else(|| filter.strip_prefix(self.broadcast.as_str()));
        match below {
            Some(rest) if !rest.is_empty() => Ok(()),
            _ => Err(TopicError::OutsideScope),
        }
    }
}

/// A topic name as MQTT requires it for PUBLISH: non-empty, bounded, no wildcards, no NUL.
pub fn check_topic_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::Length);
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// MQTT filter syntax: `#` only as the whole last level, `+` only as a whole level, no NUL.
fn check_filter_syntax(filter: &str) -> Result<(), TopicError> {
    if filter.contains('\0') {
        return Err(TopicError::MalformedFilter);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        let ok = match level {
            "#" => is_last,
            "+" => true,
            other => !other.contains(['+', '#']),
        };
        if !ok {
            return Err(TopicError::MalformedFilter);
        }
    }
    Ok(())
}

/// Splits `store/{store}/devices/{device}/{subtopic}` into `(device, subtopic)`;
/// `None` for any other topic, an invalid device id or an empty subtopic.
pub fn device_topic<'t>(store: &str, topic: &'t str) -> Option<(&'t str, &'t str)> {
    let rest = topic
        .strip_prefix("store/")?
        .strip_prefix(store)?
        .strip_prefix("/devices/")?;
    let (device, sub) = rest.split_once('/')?;
    (is_valid_id(device) && !sub.is_empty()).then_some((device, sub))
}

/// Checks a topic the node publishes to: a valid topic name, and not a
/// device's status topic (those are the device's own heartbeats and would
/// otherwise read as a sign of life of the device).
pub fn check_node_publish(store: &str, topic: &str) -> Result<(), TopicError> {
    check_topic_name(topic)?;
    if let Some((_, STATUS_SUBTOPIC)) = device_topic(store, topic) {
        return Err(TopicError::Reserved(topic.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> DeviceScope {
        DeviceScope::new("demo", "kds-1").expect("valid ids")
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("kds-1"));
        assert!(is_valid_id("A_b-9"));
        assert!(is_valid_id(&"x".repeat(64)));
        for bad in ["", "a/b", "a+b", "#", "a b", "é", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(is_valid_device_id("kds-1"));
        assert!(!is_valid_device_id(NODE_CLIENT_ID));
        assert!(!is_valid_device_id("a/b"));
        assert!(DeviceScope::new("demo", "a/b").is_none());
        assert!(DeviceScope::new("de+mo", "a").is_none());
    }

    #[test]
    fn publish_rules() {
        let s = scope();
        assert_eq!(
            s.check_publish("store/demo/devices/kds-1/status"),
            Ok("status")
        );
        assert_eq!(s.check_publish("store/demo/devices/kds-1/a/b"), Ok("a/b"));
        for (topic, err) in [
            ("store/demo/devices/kds-1/", TopicError::OutsideScope),
            ("store/demo/devices/kds-1", TopicError::OutsideScope),
            ("store/demo/devices/kds-10/x", TopicError::OutsideScope),
            ("store/demo/devices/kds-2/x", TopicError::OutsideScope),
            ("store/demo/broadcast/x", TopicError::OutsideScope),
            ("store/other/devices/kds-1/x", TopicError::OutsideScope),
            ("/store/demo/devices/kds-1/x", TopicError::OutsideScope),
            ("store/demo/devices/kds-1/+", TopicError::Wildcard),
            ("store/demo/devices/kds-1/#", TopicError::Wildcard),
            ("store/demo/devices/kds-1/a\0", TopicError::Wildcard),
            ("", TopicError::Length),
        ] {
            assert_eq!(s.check_publish(topic), Err(err), "{topic:?}");
        }
    }

    #[test]
    fn subscribe_rules() {
        let s = scope();
        for ok in [
            "store/demo/devices/kds-1/#",
            "store/demo/devices/kds-1/jobs",
            "store/demo/devices/kds-1/+/done",
            "store/demo/broadcast/#",
            "store/demo/broadcast/orders/+",
        ] {
            assert_eq!(s.check_subscribe(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "#",
            "+/#",
            "store/#",
            "store/demo/#",
            "store/+/devices/#",
            "store/demo/devices/#",
            "store/demo/devices/+/#",
            "store/demo/devices/+/status",
            "store/demo/devices/kds-2/#",
            "store/demo/devices/kds-1",
            "store/demo/devices/kds-1/",
            "store/demo/broadcast",
            "store/demo/broadcast/",
            "$share/g/store/demo/devices/kds-2/#",
            "$SYS/#",
            "store/demo/devices/kds-1/#/x",
            "store/demo/devices/kds-1/a#",
            "store/demo/devices/kds-1/a+",
            "",
        ] {
            assert!(s.check_subscribe(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_topics() {
        assert_eq!(
            device_topic("demo", "store/demo/devices/p1/status"),
            Some(("p1", "status"))
        );
        assert_eq!(
            device_topic("demo", "store/demo/devices/p1/a/b"),
            Some(("p1", "a/b"))
        );
        assert_eq!(device_topic("demo", "store/demo/devices/p1/"), None);
        assert_eq!(device_topic("demo", "store/demo/devices/p1"), None);
        assert_eq!(device_topic("demo", "store/demox/devices/p1/s"), None);
        assert_eq!(device_topic("demo", "store/demo/devices/p+1/s"), None);
        assert_eq!(device_topic("demo", "store/demo/broadcast/s"), None);
    }

    #[test]
    fn node_publish_rules() {
        assert_eq!(check_node_publish("demo", "store/demo/broadcast/x"), Ok(()));
        assert_eq!(
            check_node_publish("demo", "store/demo/devices/p1/jobs"),
            Ok(())
        );
        assert!(check_node_publish("demo", "store/demo/devices/p1/status").is_err());
        assert!(check_node_publish("demo", "store/demo/broadcast/#").is_err());
        assert!(check_node_publish("demo", "").is_err());
    }

    /// A small model of MQTT matching, to check the rules against what a filter really covers.
    fn matches(filter: &str, topic: &str) -> bool {
        let mut f = filter.split('/');
        let mut t = topic.split('/');
        loop {
            match (f.next(), t.next()) {
                (Some("#"), _) => return true,
                (Some("+"), Some(_)) => {}
                (Some(a), Some(b)) if a == b => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("store".to_owned()),
            Just("demo".to_owned()),
            Just("devices".to_owned()),
            Just("broadcast".to_owned()),
            Just("kds-1".to_owned()),
            Just("kds-2".to_owned()),
            Just("+".to_owned()),
            Just("#".to_owned()),
            Just(String::new()),
            "[a-z+#/\\x00-]{0,4}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(level(), 1..8).prop_map(|v| v.join("/"))
    }

    proptest! {
        /// Whatever a device may subscribe to never covers another device's topics
        /// nor anything outside the store.
        #[test]
        fn allowed_filters_cover_only_own_or_broadcast(filter in path(), other in "[a-z]{1,3}") {
            let s = scope();
            if s.check_subscribe(&filter).is_ok() {
                for topic in [
                    format!("store/demo/devices/kds-2/{other}"),
                    format!("store/demo/devices/{other}/x"),
                    format!("store/other/devices/kds-1/{other}"),
                    format!("store/demo/{other}"),
                    other.clone(),
                ] {
                    let other_device = device_topic("demo", &topic).is_some_and(|(d, _)| d != "kds-1");
                    if other_device || !topic.starts_with("store/demo/") {
                        prop_assert!(!matches(&filter, &topic), "{filter} covers {topic}");
                    }
                }
            }
        }

        /// A topic a device may publish to is always its own and splits back to it.
        #[test]
        fn allowed_publish_is_own(topic in path()) {
            let s = scope();
            if let Ok(sub) = s.check_publish(&topic) {
                prop_assert_eq!(device_topic("demo", &topic), Some(("kds-1", sub)));
            }
        }

        /// The checks never panic on any string.
        #[test]
        fn never_panics(topic in any::<String>()) {
            let s = scope();
            let _ = s.check_publish(&topic);
            let _ = s.check_subscribe(&topic);
            let _ = device_topic("demo", &topic);
            let _ = check_node_publish("demo", &topic);
        }
    }
}
