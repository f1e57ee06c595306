//! A simulated network for convergence tests: one hub and several store nodes
//! in a star, every frame encoded and decoded with the real envelope, and a
//! seeded RNG that drops, duplicates and reorders frames, cuts and heals links
//! and crashes replicas (a crash loses connections and in-flight frames; the
//! log and documents are durable, as on disk). Scripts read like a story:
//! create, place orders, edit menus, partition, heal, run until quiet, compare.
//!
//! Orders are recorded as the domain's facts (`domain::fact`), in the form a
//! store node logs them, and read back with `Order::apply`, the rule every
//! projection uses. Invariants are checked as the simulation runs, not only at
//! the end: no order's status (the fold of its facts) ever moves backwards on
//! any replica, every fact parses, and no event id is ever held twice.
//!
//! Sessions run with a frame budget of [`SIM_FRAME_BUDGET`] bytes instead of
//! megabytes, so every run fills frames by bytes and cuts documents' sync
//! messages into parts, which the faults then drop, duplicate and reorder.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use domain::fact::{Fact, Order, OrderChange, OrderFact, OrderView};
use domain::menu::Menu;
use domain::status::{OrderStatus, Transition};
use serde_json::{Map, json};

use crate::catalog::{read_menu, write_menu};
use crate::doc::{DocKind, SharedDoc};
use crate::log::{Event, EventStore, MemoryLog};
use crate::session::{Docs, Session};
use crate::wire;

/// The sessions' frame budget: a couple of the simulator's orders per `Events`
/// frame, and a catalog's first sync message in several parts.
pub const SIM_FRAME_BUDGET: usize = 2048;

/// A small deterministic RNG (SplitMix64): the same seed gives the same run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// How unreliable the network is.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    /// Chance that a frame other than the oldest in flight is delivered next.
    pub reorder: f64,
}

impl Faults {
    pub const NONE: Faults = Faults {
        drop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
    };
}

pub struct Replica {
    pub name: String,
    pub log: MemoryLog,
    pub docs: Docs,
    sessions: BTreeMap<String, Session>,
    /// Each order as the facts held here describe it, joined as they arrive.
    orders: BTreeMap<String, Order>,
    /// Events held here that do not parse as facts (the simulator records none).
    unreadable: Vec<String>,
    /// Highest status each order has shown here.
    shown: BTreeMap<String, OrderStatus>,
}

impl Replica {
    fn new(name: &str) -> Replica {
        let docs = DocKind::ALL
            .into_iter()
            .map(|k| (k, SharedDoc::new(k, name.as_bytes())))
            .collect();
        Replica {
            name: name.into(),
            log: MemoryLog::new(),
            docs,
            sessions: BTreeMap::new(),
            orders: BTreeMap::new(),
            unreadable: vec![],
            shown: BTreeMap::new(),
        }
    }

    fn index(&mut self, e: &Event) {
        match order_view(e) {
            Ok(Some(view)) => match self.orders.get_mut(&view.id) {
                Some(order) => {
                    order.join(&view);
                }
                None => {
                    self.orders.insert(view.id.clone(), Order::new(view));
                }
            },
            Ok(None) => {}
            Err(why) => self.unreadable.push(why),
        }
    }

    fn record(&mut self, store: &str, origin: &str, subject: &str, fact: &Fact) {
        let data = fact.data().expect("the simulator's facts serialise");
        let e = self
            .log
            .record(store, origin, fact.kind(), Some(subject), data);
        self.index(&e);
    }

    /// Order id -> status, folded afresh from this replica's log.
    pub fn read_model(&self) -> BTreeMap<String, OrderStatus> {
        let mut orders: BTreeMap<String, Order> = BTreeMap::new();
        for view in self
            .log
            .events()
            .filter_map(|e| order_view(e).ok().flatten())
        {
            match orders.get_mut(&view.id) {
                Some(order) => {
                    order.join(&view);
                }
                None => {
                    orders.insert(view.id.clone(), Order::new(view));
                }
            }
        }
        orders.into_iter().map(|(id, o)| (id, o.status())).collect()
    }

    pub fn menu(&self) -> Option<Menu> {
        read_menu(&self.docs[&DocKind::Catalog]).ok()
    }
}

/// The order view an event's fact carries (`None` for facts about no order);
/// `Err` for an event that does not parse as a fact, or names another order than its subject.
fn order_view(e: &Event) -> Result<Option<OrderView>, String> {
    let fact = Fact::decode(&e.kind, &e.data).map_err(|err| format!("event {}: {err}", e.id))?;
    match fact.order() {
        Some(v) if e.subject.as_deref() == Some(v.id.as_str()) => Ok(Some(v.clone())),
        Some(v) => Err(format!(
            "event {} names order {} as {:?}",
            e.id, v.id, e.subject
        )),
        None => Ok(None),
    }
}

/// A view of an order the simulator records: its id and status, nothing more.
fn sim_view(id: &str, status: OrderStatus) -> OrderView {
    OrderView {
        id: id.to_owned(),
        ticket: None,
        status,
        channel: None,
        created_ms: None,
        updated_ms: None,
        paid: None,
        refunded: None,
        stations_done: None,
        rest: Map::new(),
    }
}

struct InFlight {
    from: String,
    to: String,
    bytes: Vec<u8>,
}

pub struct Net {
    pub rng: Rng,
    pub store: String,
    pub hub: String,
    pub replicas: BTreeMap<String, Replica>,
    cut: BTreeSet<String>,
    queue: VecDeque<InFlight>,
    pub faults: Faults,
    /// Frames delivered and their bytes (for wire-cost figures).
    pub delivered: u64,
    pub bytes: u64,
    /// Invariant violations seen while running.
    pub violations: Vec<String>,
}

impl Net {
    /// A hub holding `menu` in its catalog, and `nodes` with nothing yet; all connected.
    pub fn new(seed: u64, hub: &str, nodes: &[&str], menu: &Menu, faults: Faults) -> Net {
        let mut replicas = BTreeMap::new();
        let mut h = Replica::new(hub);
        write_menu(h.docs.get_mut(&DocKind::Catalog).expect("catalog"), menu)
            .expect("menu fits the catalog");
        replicas.insert(hub.to_owned(), h);
        for n in nodes {
            replicas.insert((*n).to_owned(), Replica::new(n));
        }
        let mut net = Net {
            rng: Rng::new(seed),
            store: "store-1".into(),
            hub: hub.into(),
            replicas,
            cut: BTreeSet::new(),
            queue: VecDeque::new(),
            faults,
            delivered: 0,
            bytes: 0,
            violations: vec![],
        };
        for n in nodes {
            net.connect(n);
        }
        net
    }

    pub fn nodes(&self) -> Vec<String> {
        self.replicas
            .keys()
            .filter(|n| **n != self.hub)
            .cloned()
            .collect()
    }

    /// Queues `frames` as the sender's session encodes them for `to` (parts when over budget).
    fn send(&mut self, from: &str, to: &str, frames: Vec<wire::Frame>) {
        let session = self.replicas.get(from).and_then(|r| r.sessions.get(to));
        for f in frames {
            let messages = match session {
                Some(s) => s.encode(&f),
                None => vec![wire::encode(&f)],
            };
            for bytes in messages {
                self.queue.push_back(InFlight {
                    from: from.into(),
                    to: to.into(),
                    bytes,
                });
            }
        }
    }

    /// Opens a fresh connection between `node` and the hub (both sides start over).
    pub fn connect(&mut self, node: &str) {
        let hub = self.hub.clone();
        for (me, peer) in [
            (node.to_owned(), hub.clone()),
            (hub.clone(), node.to_owned()),
        ] {
            let store = self.store.clone();
            let r = self.replicas.get_mut(&me).expect("replica");
            let mut s = Session::new(&me, &store).with_frame_budget(SIM_FRAME_BUDGET);
            let frames = s.start(&r.log, &mut r.docs).expect("start");
            r.sessions.insert(peer.clone(), s);
            self.send(&me, &peer, frames);
        }
    }

    fn disconnect(&mut self, node: &str) {
        let hub = self.hub.clone();
        self.queue
            .retain(|m| !((m.from == node && m.to == hub) || (m.from == hub && m.to == node)));
        self.replicas
            .get_mut(node)
            .expect("replica")
            .sessions
            .remove(&hub);
        self.replicas
            .get_mut(&hub)
            .expect("hub")
            .sessions
            .remove(node);
    }

    /// Cuts the node's link to the hub: in-flight frames are lost.
    pub fn partition(&mut self, node: &str) {
        self.disconnect(node);
        self.cut.insert(node.into());
    }

    pub fn heal(&mut self, node: &str) {
        if self.cut.remove(node) {
            self.connect(node);
        }
    }

    /// The replica crashes and restarts: connections and in-flight frames are lost, its storage is not.
    pub fn crash(&mut self, name: &str) {
        let peers: Vec<String> = if name == self.hub {
            self.nodes()
        } else {
            vec![name.to_owned()]
        };
        for n in peers {
            if !self.cut.contains(&n) {
                self.disconnect(&n);
                self.connect(&n);
            }
        }
    }

    /// Sends what changed locally at `name` on its open connections.
    fn flush(&mut self, name: &str) {
        let r = self.replicas.get_mut(name).expect("replica");
        let mut out = vec![];
        for (peer, s) in r.sessions.iter_mut() {
            out.push((peer.clone(), s.flush(&r.log, &mut r.docs).expect("flush")));
        }
        for (peer, frames) in out {
            self.send(name, &peer, frames);
        }
    }

    /// A node takes an order.
    pub fn place_order(&mut self, node: &str) -> String {
        let id = format!("{node}-order-{}", self.rng.next_u64());
        let store = self.store.clone();
        let r = self.replicas.get_mut(node).expect("node");
        let fact = Fact::OrderCreated(OrderFact {
            order: sim_view(&id, OrderStatus::Placed),
            detail: Map::new(),
        });
        r.record(&store, node, &id, &fact);
        self.flush(node);
        id
    }

    /// A node moves one of its own orders by a random transition, if the state machine allows it.
    pub fn progress_order(&mut self, node: &str) {
        let t = Transition::ALL[self.rng.below(Transition::ALL.len())];
        let pick = self.rng.next_u64();
        let store = self.store.clone();
        let r = self.replicas.get_mut(node).expect("node");
        let prefix = format!("{node}-");
        let mine: Vec<(String, OrderStatus)> = r
            .orders
            .iter()
            .filter(|(id, _)| id.starts_with(&prefix))
            .map(|(id, o)| (id.clone(), o.status()))
            .collect();
        if mine.is_empty() {
            return;
        }
        let (id, status) = &mine[(pick % mine.len() as u64) as usize];
        if let Ok(to) = status.apply(t) {
            let mut detail = Map::new();
            detail.insert("from".into(), json!(status));
            detail.insert("to".into(), json!(to));
            let fact = Fact::OrderChanged(OrderChange {
                transition: Some(t),
                station_done: None,
                order: sim_view(id, to),
                detail,
            });
            r.record(&store, node, id, &fact);
            self.flush(node);
        }
    }

    /// Someone edits the menu at `name`: a price, a sold-out flag or a name.
    pub fn edit_menu(&mut self, name: &str) {
        let which = self.rng.next_u64();
        let value = self.rng.below(2000) as i64 + 100;
        let r = self.replicas.get_mut(name).expect("replica");
        let Some(mut menu) = r.menu() else { return };
        if menu.items.is_empty() {
            return;
        }
        let i = (which % menu.items.len() as u64) as usize;
        match which % 3 {
            0 => menu.items[i].price = value,
            1 => menu.items[i].sold_out = !menu.items[i].sold_out,
            _ => {
                menu.items[i].name = format!(
                    "{} {value}",
                    menu.items[i].name.split(' ').next().unwrap_or("Item")
                )
            }
        }
        write_menu(r.docs.get_mut(&DocKind::Catalog).expect("catalog"), &menu).expect("write menu");
        self.flush(name);
    }

    /// Delivers one frame (or drops or duplicates it); false when nothing is in flight.
    pub fn step(&mut self) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let idx = if self.queue.len() > 1 && self.rng.chance(self.faults.reorder) {
            self.rng.below(self.queue.len())
        } else {
            0
        };
        let msg = self.queue.remove(idx).expect("index in range");
        if self.rng.chance(self.faults.drop) {
            return true;
        }
        if self.rng.chance(self.faults.duplicate) {
            self.queue.push_back(InFlight {
                from: msg.from.clone(),
                to: msg.to.clone(),
                bytes: msg.bytes.clone(),
            });
        }
        self.delivered += 1;
        self.bytes += msg.bytes.len() as u64;
        let frame = wire::decode(&msg.bytes).expect("the sim only sends valid frames");
        let r = self.replicas.get_mut(&msg.to).expect("replica");
        let Some(session) = r.sessions.get_mut(&msg.from) else {
            return true;
        };
        match session.receive(frame, &mut r.log, &mut r.docs) {
            Ok(step) => {
                for e in &step.applied {
                    r.index(e);
                }
                let touched: BTreeSet<String> = step
                    .applied
                    .iter()
                    .filter_map(|e| e.subject.clone())
                    .collect();
                self.check_no_backwards(&msg.to, &touched);
                let (to, from) = (msg.to.clone(), msg.from.clone());
                self.send(&to, &from, step.send);
            }
            Err(e) => self.violations.push(format!(
                "{} rejected a frame from {}: {e}",
                msg.to, msg.from
            )),
        }
        true
    }

    fn check_no_backwards(&mut self, name: &str, touched: &BTreeSet<String>) {
        let r = self.replicas.get_mut(name).expect("replica");
        if touched.is_empty() {
            return;
        }
        for id in touched {
            if let Some(now) = r.orders.get(id).map(Order::status) {
                let before = r.shown.insert(id.clone(), now);
                if let Some(b) = before
                    && now.rank() < b.rank()
                {
                    self.violations
                        .push(format!("{name}: order {id} moved back from {b} to {now}"));
                }
            }
        }
    }

    /// Heals every link, reconnects cleanly, and delivers without faults until nothing is in flight.
    pub fn heal_and_quiesce(&mut self, max_steps: u64) -> Result<(), String> {
        self.faults = Faults::NONE;
        for n in self.nodes() {
            self.cut.remove(&n);
            self.disconnect(&n);
            self.connect(&n);
        }
        let mut steps = 0;
        loop {
            while self.step() {
                steps += 1;
                if steps > max_steps {
                    return Err(format!("not quiet after {max_steps} deliveries"));
                }
            }
            for name in self.replicas.keys().cloned().collect::<Vec<_>>() {
                self.flush(&name);
            }
            if self.queue.is_empty() {
                return Ok(());
            }
        }
    }

    /// Every replica holds the same events (each once), documents and read model.
    pub fn check_converged(&mut self) -> Result<(), String> {
        if let Some(v) = self.violations.first() {
            return Err(v.clone());
        }
        let hub = self.hub.clone();
        let (hub_ids, hub_model, hub_heads) = {
            let h = self.replicas.get_mut(&hub).expect("hub");
            let ids: BTreeSet<uuid::Uuid> = h.log.events().map(|e| e.id).collect();
            if ids.len() != h.log.len() {
                return Err("the hub holds an event id twice".into());
            }
            let heads: Vec<_> = DocKind::ALL
                .iter()
                .map(|k| h.docs.get_mut(k).expect("doc").heads())
                .collect();
            (ids, h.read_model(), heads)
        };
        for (name, r) in self.replicas.iter_mut() {
            if let Some(why) = r.unreadable.first() {
                return Err(format!("{name} holds a fact that does not parse: {why}"));
            }
            let ids: BTreeSet<uuid::Uuid> = r.log.events().map(|e| e.id).collect();
            if ids.len() != r.log.len() {
                return Err(format!("{name} holds an event id twice"));
            }
            if ids != hub_ids {
                return Err(format!(
                    "{name}'s events differ from the hub's: {} missing here, {} missing at the hub",
                    hub_ids.difference(&ids).count(),
                    ids.difference(&hub_ids).count()
                ));
            }
            if r.read_model() != hub_model {
                return Err(format!("{name}'s orders differ from the hub's"));
            }
            let heads: Vec<_> = DocKind::ALL
                .iter()
                .map(|k| r.docs.get_mut(k).expect("doc").heads())
                .collect();
            if heads != hub_heads {
                return Err(format!("{name}'s documents differ from the hub's"));
            }
            let v = r.log.vector().map_err(|e| e.to_string())?;
            for (origin, n) in v.iter() {
                if r.log
                    .range(origin, 1, n, usize::MAX)
                    .map_err(|e| e.to_string())?
                    .len() as u64
                    != n
                {
                    return Err(format!("{name} has a gap in {origin}'s events"));
                }
            }
        }
        Ok(())
    }
}
