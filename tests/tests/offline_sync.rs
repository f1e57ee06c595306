//! The whole system across a cut link: a real hub and two real store nodes (of
//! one store) as processes. The nodes reach the hub through a TCP proxy that
//! this test can cut. While cut, both nodes take orders and both nodes and
//! the hub edit the menu; when the link returns, all three converge to the
//! same menu and the same orders, none lost and none doubled. Runs against
//! the hub's SQLite default and against PostgreSQL (its own database).

mod common;

use common::{ADMIN, Api, eventually, hub_command, node_command, spawn};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy that can be cut (existing connections dropped, new ones refused) and healed.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(tokio::sync::watch::channel(0u64).0);
        let (c, g) = (cut.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if c.load(Ordering::SeqCst) {
                    continue; // refused: dropped at once
                }
                let target = target.clone();
                let mut gone = g.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = gone.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            generation,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn order(item: &str, mods: &[&str]) -> Value {
    json!({"channel": "pos", "fulfillment": "takeaway", "lines": [{"item_id": item, "quantity": 1, "modifiers": mods}]})
}

/// Orders as (id, status), sorted: what must be identical everywhere.
fn order_set(list: &Value) -> Vec<(String, String)> {
    let mut v: Vec<_> = list["orders"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["id"].as_str().unwrap_or("").to_owned(),
                        o["status"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn scenario(database_url: String) {
    let api = Api {
        http: reqwest::Client::new(),
    };
    let hub = spawn(hub_command(&database_url));
    let hub_addr = hub.base.trim_start_matches("http://").to_owned();
    let (s, _) = api
        .call(
            reqwest::Method::POST,
            &format!("{}/api/v1/admin/stores", hub.base),
            Some(ADMIN),
            Some(json!({"id": "store-1", "name": "Harbor Street Kitchen"})),
            None,
        )
        .await;
    assert_eq!(s, 201);
    let proxy = Proxy::start(hub_addr).await;

    let mut nodes = vec![];
    let dirs: Vec<_> = (0..2).map(|_| test_support::temp_dir()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        let (s, t) = api
            .call(
                reqwest::Method::POST,
                &format!("{}/api/v1/admin/stores/store-1/node-tokens", hub.base),
                Some(ADMIN),
                Some(json!({"label": format!("node-{i}")})),
                None,
            )
            .await;
        assert_eq!(s, 201, "{t}");
        // Through the proxy, so the test can cut the link.
        nodes.push(spawn(node_command(
            dir.path(),
            "store-1",
            &format!("http://127.0.0.1:{}", proxy.port),
            t["token"].as_str().unwrap(),
        )));
    }
    let mut cashiers = vec![];
    let mut managers = vec![];
    for n in &nodes {
        cashiers.push(api.login(&n.base, "cashier", "3000").await);
        managers.push(api.login(&n.base, "manager", "2000").await);
    }
    for (n, t) in nodes.iter().zip(&cashiers) {
        eventually("the node connected to the hub", async || {
            api.get(&format!("{}/api/v1/sync/status", n.base), t).await["connected"] == true
        })
        .await;
    }

    // Online: one order at each node reaches the hub.
    let mut placed = 0;
    for (n, t) in nodes.iter().zip(&cashiers) {
        let (s, _) = api
            .call(
                reqwest::Method::POST,
                &format!("{}/api/v1/orders", n.base),
                Some(t),
                Some(order("house-garden-salad", &["salad-dressing-ranch"])),
                Some(&uuid::Uuid::now_v7().to_string()),
            )
            .await;
        assert_eq!(s, 201);
        placed += 1;
    }
    let hub_orders = format!("{}/api/v1/stores/store-1/orders", hub.base);
    eventually("the first orders at the hub", async || {
        order_set(&api.get(&hub_orders, ADMIN).await).len() == placed
    })
    .await;

    // Cut the link. Both nodes keep taking orders; everyone edits the menu.
    proxy.cut();
    for (n, t) in nodes.iter().zip(&cashiers) {
        eventually("the node to notice the cut", async || {
            api.get(&format!("{}/api/v1/sync/status", n.base), t).await["connected"] == false
        })
        .await;
        for _ in 0..5 {
            let (s, _) = api
                .call(
                    reqwest::Method::POST,
                    &format!("{}/api/v1/orders", n.base),
                    Some(t),
                    Some(order(
                        "fountain-soda",
                        &["drink-size-small", "soda-choice-cola"],
                    )),
                    Some(&uuid::Uuid::now_v7().to_string()),
                )
                .await;
            assert_eq!(s, 201, "the node takes orders with the hub unreachable");
            placed += 1;
        }
    }
    let (s, _) = api
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/api/v1/menu/items/margherita-pizza/sold-out",
                nodes[0].base
            ),
            Some(&managers[0]),
            Some(json!({"sold_out": true})),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            reqwest::Method::POST,
            &format!(
                "{}/api/v1/menu/modifiers/pizza-crust-thin/sold-out",
                nodes[1].base
            ),
            Some(&managers[1]),
            Some(json!({"sold_out": true})),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let mut menu = api
        .get(&format!("{}/api/v1/stores/store-1/menu", hub.base), ADMIN)
        .await["menu"]
        .clone();
    for item in menu["items"].as_array_mut().unwrap() {
        if item["id"] == "fountain-soda" {
            item["price"] = json!(333);
        }
    }
    let (s, b) = api
        .call(
            reqwest::Method::PUT,
            &format!("{}/api/v1/stores/store-1/menu", hub.base),
            Some(ADMIN),
            Some(menu),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // The merchant hires someone and renames the store at the hub, also while cut.
    let (s, b) = api
        .call(
            reqwest::Method::PUT,
            &format!("{}/api/v1/stores/store-1/staff/sam", hub.base),
            Some(ADMIN),
            Some(json!({"name": "Sam Server", "role": "cashier", "pin": "7777"})),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = api
        .call(
            reqwest::Method::PUT,
            &format!("{}/api/v1/stores/store-1/settings", hub.base),
            Some(ADMIN),
            Some(json!({"name": "Harbor Street Kitchen — Pier 39", "pickup_lead_minutes": 20})),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Heal: everything converges.
    proxy.heal();
    let urls: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    eventually("identical orders and menus everywhere", async || {
        let hub_set = order_set(&api.get(&hub_orders, ADMIN).await);
        if hub_set.len() != placed {
            return false;
        }
        let hub_menu = api
            .get(&format!("{}/api/v1/stores/store-1/menu", hub.base), ADMIN)
            .await["menu"]
            .clone();
        for (u, t) in urls.iter().zip(&cashiers) {
            if order_set(&api.get(&format!("{u}/api/v1/orders?limit=500"), t).await) != hub_set {
                return false;
            }
            if api.get(&format!("{u}/api/v1/menu"), t).await["menu"] != hub_menu {
                return false;
            }
        }
        true
    })
    .await;

    // Every edit survived, on every replica.
    for (u, t) in urls.iter().zip(&cashiers) {
        let m = api.get(&format!("{u}/api/v1/menu"), t).await["menu"].clone();
        let item = |id: &str| {
            m["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(item("fountain-soda")["price"], 333);
        assert_eq!(item("margherita-pizza")["sold_out"], true);
        let thin = m["modifier_groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["modifiers"].as_array().unwrap().clone())
            .find(|x| x["id"] == "pizza-crust-thin")
            .unwrap();
        assert_eq!(thin["sold_out"], true);
        // The merge itself made a local menu.changed event; the hub acknowledges it shortly.
        eventually("the node to have nothing waiting", async || {
            api.get(&format!("{u}/api/v1/sync/status"), t).await["events_waiting"] == 0
        })
        .await;
    }
    // The roster and settings reached both nodes: Sam signs in there (offline-capable, the PIN hash
    // came with the roster), and the nodes show the new name. The nodes' own staff reached the hub.
    for u in &urls {
        eventually("the new staff member can sign in at the node", async || {
            let r = api
                .http
                .post(format!("{u}/api/v1/auth/login"))
                .json(&json!({"staff_id": "sam", "pin": "7777"}))
                .send()
                .await
                .unwrap();
            r.status() == 200
        })
        .await;
        let r = api
            .http
            .post(format!("{u}/api/v1/auth/login"))
            .json(&json!({"staff_id": "sam", "pin": "0000"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "a wrong PIN is still wrong");
        let store: Value = api
            .http
            .get(format!("{u}/api/v1/store"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                store["name"].as_str(),
                store["pickup_lead_minutes"].as_u64()
            ),
            (Some("Harbor Street Kitchen — Pier 39"), Some(20))
        );
    }
    let staff = api
        .get(&format!("{}/api/v1/stores/store-1/staff", hub.base), ADMIN)
        .await;
    let ids: Vec<&str> = staff["staff"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in ["sam", "cashier", "manager", "kitchen"] {
        assert!(
            ids.contains(&id),
            "{id} missing from the hub's roster: {ids:?}"
        );
    }
    drop(nodes);
    drop(hub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_two_nodes_converge_after_a_cut_on_sqlite() {
    let dir = test_support::temp_dir();
    scenario(common::sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_two_nodes_converge_after_a_cut_on_postgres() {
    let db = common::PgDatabase::create();
    scenario(db.url.clone()).await;
}
