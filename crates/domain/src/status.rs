//! The order lifecycle: statuses, the transitions between them, and the fold
//! that turns a set of order events into a status.
//!
//! Two views of the same rules:
//! - `OrderStatus::apply` is the strict state machine the store node (the one
//!   writer of order status) uses before it records a transition. An illegal
//!   transition is a typed `TransitionError`.
//! - `fold` reads a *set* of events, in any arrival order, as replicas receive
//!   them. Every status has a rank and every legal transition raises it, so
//!   the fold is the highest-ranked status seen: the same for every
//!   permutation, and never lower than any status a replica showed before.

use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Accepted,
    InPreparation,
    Ready,
    Completed,
    Cancelled,
    Voided,
    Refunded,
}

/// A requested change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Accept,
    Start,
    Ready,
    Complete,
    Cancel,
    Void,
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} an order that is {from}")]
pub struct TransitionError {
    pub from: OrderStatus,
    pub transition: Transition,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Placed,
        OrderStatus::Accepted,
        OrderStatus::InPreparation,
        OrderStatus::Ready,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Voided,
        OrderStatus::Refunded,
    ];

    /// Position in the lattice the fold uses; every legal transition raises it.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// No transition leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Cancelled | OrderStatus::Voided | OrderStatus::Refunded
        )
    }

    /// Still on the kitchen's or counter's list.
    pub fn is_open(self) -> bool {
        self.rank() < OrderStatus::Completed.rank()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Accepted => "accepted",
            OrderStatus::InPreparation => "in_preparation",
            OrderStatus::Ready => "ready",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Voided => "voided",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The strict state machine.
    ///
    /// Kitchen progress (accept, start, ready, complete) may skip steps (a
    /// drink is completed at once) but never goes back. Cancel is possible
    /// until the food is ready; void (a manager's correction) until completed;
    /// refund only after completion.
    pub fn apply(self, t: Transition) -> Result<OrderStatus, TransitionError> {
        use OrderStatus as S;
        let target = t.target();
        let ok = match t {
            Transition::Accept | Transition::Start | Transition::Ready | Transition::Complete => {
                !self.is_terminal() && self.rank() < target.rank() && self != S::Completed
            }
            Transition::Cancel => matches!(self, S::Placed | S::Accepted | S::InPreparation),
            Transition::Void => {
                matches!(self, S::Placed | S::Accepted | S::InPreparation | S::Ready)
            }
            Transition::Refund => self == S::Completed,
        };
        if ok {
            Ok(target)
        } else {
            Err(TransitionError {
                from: self,
                transition: t,
            })
        }
    }
}

impl Transition {
    pub const ALL: [Transition; 7] = [
        Transition::Accept,
        Transition::Start,
        Transition::Ready,
        Transition::Complete,
        Transition::Cancel,
        Transition::Void,
        Transition::Refund,
    ];

    pub fn target(self) -> OrderStatus {
        match self {
            Transition::Accept => OrderStatus::Accepted,
            Transition::Start => OrderStatus::InPreparation,
            Transition::Ready => OrderStatus::Ready,
            Transition::Complete => OrderStatus::Completed,
            Transition::Cancel => OrderStatus::Cancelled,
            Transition::Void => OrderStatus::Voided,
            Transition::Refund => OrderStatus::Refunded,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Accept => "accept",
            Transition::Start => "start",
            Transition::Ready => "ready",
            Transition::Complete => "complete",
            Transition::Cancel => "cancel",
            Transition::Void => "void",
            Transition::Refund => "refund",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an order, as recorded in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    Placed,
    Moved(Transition),
}

impl LifecycleEvent {
    pub fn status(self) -> OrderStatus {
        match self {
            LifecycleEvent::Placed => OrderStatus::Placed,
            LifecycleEvent::Moved(t) => t.target(),
        }
    }
}

/// The status a set of events describes, whatever order they arrived in.
/// `None` when the set is empty.
pub fn fold(events: impl IntoIterator<Item = LifecycleEvent>) -> Option<OrderStatus> {
    events.into_iter().map(LifecycleEvent::status).max()
}

/// How far an order has got as one replica saw it: its status and what was
/// paid. Replicas record their views independently (one node accepts and takes
/// the money, another marks the order ready without having seen the payment),
/// so two views join by taking the higher of each: the same result in any
/// arrival order (commutative, associative, idempotent), and never lower than
/// either view. Projections of order views use this, not their own rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Progress {
    pub status: OrderStatus,
    /// Paid so far, minor units.
    pub paid: i64,
}

impl Progress {
    pub fn join(self, other: Progress) -> Progress {
        Progress {
            status: fold([self.status, other.status].map(LifecycleEvent::from))
                .unwrap_or(self.status),
            paid: self.paid.max(other.paid),
        }
    }
}

impl From<OrderStatus> for LifecycleEvent {
    /// The event that leaves an order in `status`.
    fn from(status: OrderStatus) -> LifecycleEvent {
        match status {
            OrderStatus::Placed => LifecycleEvent::Placed,
            OrderStatus::Accepted => LifecycleEvent::Moved(Transition::Accept),
            OrderStatus::InPreparation => LifecycleEvent::Moved(Transition::Start),
            OrderStatus::Ready => LifecycleEvent::Moved(Transition::Ready),
            OrderStatus::Completed => LifecycleEvent::Moved(Transition::Complete),
            OrderStatus::Cancelled => LifecycleEvent::Moved(Transition::Cancel),
            OrderStatus::Voided => LifecycleEvent::Moved(Transition::Void),
            OrderStatus::Refunded => LifecycleEvent::Moved(Transition::Refund),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as S;
    use Transition as T;

    #[test]
    fn happy_path_and_illegal_moves() {
        let s = S::Placed.apply(T::Accept).unwrap();
        let s = s.apply(T::Start).unwrap();
        let s = s.apply(T::Ready).unwrap();
        assert_eq!(s.apply(T::Cancel).unwrap_err().from, S::Ready);
        let s = s.apply(T::Complete).unwrap();
        assert!(s.apply(T::Void).is_err());
        assert!(s.apply(T::Accept).is_err());
        assert_eq!(s.apply(T::Refund), Ok(S::Refunded));
        assert!(S::Accepted.apply(T::Accept).is_err(), "no self-transition");
        assert!(S::Cancelled.apply(T::Complete).is_err());
        assert_eq!(S::Placed.apply(T::Complete), Ok(S::Completed));
    }
}
