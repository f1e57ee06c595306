//! Accounts, tokens and role checks, over real HTTP on both databases:
//! signup and login, refresh rotation with reuse detection, logout and
//! password changes ending sessions, the password policy, sign-in throttling,
//! hash upgrades on login, forged and tampered tokens, tenancy (another
//! organisation's store is a 404) and role checks (403), invitations, and
//! `Idempotency-Key` replays.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloud_hub::auth::jwt::{self, Claims, Key, KeySet};
use cloud_hub::db::{Db, UserRow};
use common::{ADMIN, Backend, TestDb, TestHub, both, code, demo_menu, s};
use serde_json::{Value, json};

const GOOD: &str = "plum-kettle-73-orbit";
const GOOD2: &str = "velvet-harbor-19-lantern";

async fn signup(hub: &TestHub, email: &str, password: &str) -> Value {
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": email, "password": password, "name": "Ada" })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b
}

async fn login(hub: &TestHub, email: &str, password: &str) -> (u16, Value) {
    hub.call_as(
        None,
        "POST",
        "/api/v1/auth/login",
        Some(&json!({ "email": email, "password": password })),
    )
    .await
}

async fn me(hub: &TestHub, access: &str) -> (u16, Value) {
    hub.call_as(Some(access), "GET", "/api/v1/auth/me", None)
        .await
}

async fn refresh(hub: &TestHub, token: &str) -> (u16, Value) {
    hub.call_as(
        None,
        "POST",
        "/api/v1/auth/refresh",
        Some(&json!({ "refresh_token": token })),
    )
    .await
}

/// The claims of a token, read without checking it (the test knows where it came from).
fn claims_of(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn signup_login_refresh_logout(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;

    let first = signup(&hub, "Ada@Example.com", GOOD).await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let access = s(&first, "access_token");
    let claims = claims_of(&access);
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str()),
        ("cloud-hub", "edge-restaurant")
    );
    assert!(claims.exp - claims.iat <= 900);
    assert!(
        claims.stores.is_empty() && claims.name.is_none(),
        "a customer works at no store"
    );
    let (st, who) = me(&hub, &access).await;
    assert_eq!(st, 200, "{who}");
    assert_eq!(who["email"], "ada@example.com");
    assert_eq!(who["kind"], "customer");
    assert_eq!(who["memberships"], json!([]));

    // The email is unique whatever its case.
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": "ADA@example.COM", "password": GOOD2, "name": "Ada" })),
        )
        .await;
    assert_eq!((st, code(&b)), (409, "email_taken"));

    // A wrong password and an unknown email look the same.
    let (st1, wrong) = login(&hub, "ada@example.com", GOOD2).await;
    let (st2, unknown) = login(&hub, "nobody@example.com", GOOD).await;
    assert_eq!((st1, st2), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(code(&wrong), "invalid_credentials");

    // Refresh rotates; the spent token, shown again, ends the whole session.
    let (st, s1) = login(&hub, "  ADA@example.com", GOOD).await;
    assert_eq!(st, 200, "{s1}");
    let r1 = s(&s1, "refresh_token");
    let (st, s2) = refresh(&hub, &r1).await;
    assert_eq!(st, 200, "{s2}");
    let r2 = s(&s2, "refresh_token");
    let a2 = s(&s2, "access_token");
    assert_ne!(r1, r2);
    assert_eq!(claims_of(&a2).sid, claims_of(&s(&s1, "access_token")).sid);
    assert_eq!(me(&hub, &a2).await.0, 200);
    let (st, b) = refresh(&hub, &r1).await;
    assert_eq!((st, code(&b)), (401, "refresh_token_reused"));
    let (st, b) = refresh(&hub, &r2).await;
    assert_eq!((st, code(&b)), (401, "invalid_refresh_token"));
    let (st, b) = me(&hub, &a2).await;
    assert_eq!((st, code(&b)), (401, "token_revoked"));
    // Other sessions are untouched.
    assert_eq!(me(&hub, &access).await.0, 200);

    // Logout with the access token ends that session only.
    let (_, s3) = login(&hub, "ada@example.com", GOOD).await;
    let (st, b) = hub
        .call_as(
            Some(&s(&s3, "access_token")),
            "POST",
            "/api/v1/auth/logout",
            None,
        )
        .await;
    assert_eq!((st, b), (204, Value::Null));
    assert_eq!(me(&hub, &s(&s3, "access_token")).await.0, 401);
    assert_eq!(refresh(&hub, &s(&s3, "refresh_token")).await.0, 401);
    assert_eq!(me(&hub, &access).await.0, 200);
    // Logout with the refresh token; again: still 204.
    let (_, s4) = login(&hub, "ada@example.com", GOOD).await;
    for _ in 0..2 {
        let (st, _) = hub
            .call_as(
                None,
                "POST",
                "/api/v1/auth/logout",
                Some(&json!({ "refresh_token": s(&s4, "refresh_token") })),
            )
            .await;
        assert_eq!(st, 204);
    }
    assert_eq!(refresh(&hub, &s(&s4, "refresh_token")).await.0, 401);
    assert_eq!(me(&hub, &s(&s4, "access_token")).await.0, 401);
    let (st, b) = hub.call_as(None, "POST", "/api/v1/auth/logout", None).await;
    assert_eq!((st, code(&b)), (401, "unauthenticated"));

    // The JWKS publishes the key that signed the tokens.
    for path in ["/.well-known/jwks.json", "/api/v1/auth/jwks"] {
        let (st, jwks) = hub.call_as(None, "GET", path, None).await;
        assert_eq!(st, 200);
        let k = &jwks["keys"][0];
        assert_eq!(
            (k["kty"].as_str(), k["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(s(k, "x")).unwrap().len(), 32);
        assert_eq!(k["kid"].as_str().unwrap(), jwt::kid_of(&access).unwrap());
    }
    // The admin token is a platform credential, not an account.
    let (st, _) = me(&hub, ADMIN).await;
    assert_eq!(st, 403);
    hub.stop().await;
}
both!(signup_login_refresh_logout);

async fn password_change_ends_other_sessions(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let a = signup(&hub, "bea@example.com", GOOD).await;
    let (_, b) = login(&hub, "bea@example.com", GOOD).await;
    let access = s(&a, "access_token");
    let change = |current: &'static str, new: &'static str| json!({ "current_password": current, "new_password": new });

    let (st, body) = hub
        .call_as(
            Some(&access),
            "POST",
            "/api/v1/auth/password",
            Some(&change(GOOD2, GOOD2)),
        )
        .await;
    assert_eq!((st, code(&body)), (403, "forbidden"));
    let (st, body) = hub
        .call_as(
            Some(&access),
            "POST",
            "/api/v1/auth/password",
            Some(&change(GOOD, "password1")),
        )
        .await;
    assert_eq!((st, code(&body)), (422, "password_too_weak"));
    let (st, body) = hub
        .call_as(
            Some(&access),
            "POST",
            "/api/v1/auth/password",
            Some(&change(GOOD, GOOD)),
        )
        .await;
    assert_eq!((st, code(&body)), (422, "password_unchanged"));
    let (st, fresh) = hub
        .call_as(
            Some(&access),
            "POST",
            "/api/v1/auth/password",
            Some(&change(GOOD, GOOD2)),
        )
        .await;
    assert_eq!(st, 200, "{fresh}");

    // Every earlier session is over, access and refresh tokens alike.
    for old in [&a, &b] {
        let (st, body) = me(&hub, &s(old, "access_token")).await;
        assert_eq!((st, code(&body)), (401, "token_revoked"));
        assert_eq!(refresh(&hub, &s(old, "refresh_token")).await.0, 401);
    }
    assert_eq!(me(&hub, &s(&fresh, "access_token")).await.0, 200);
    assert_eq!(login(&hub, "bea@example.com", GOOD).await.0, 401);
    let (st, again) = login(&hub, "bea@example.com", GOOD2).await;
    assert_eq!(st, 200);
    assert_eq!(me(&hub, &s(&again, "access_token")).await.0, 200);
    let (st, rotated) = refresh(&hub, &s(&fresh, "refresh_token")).await;
    assert_eq!(st, 200, "{rotated}");
    hub.stop().await;
}
both!(password_change_ends_other_sessions);

async fn bad_signups_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let long = "k".repeat(129);
    let cases = [
        (
            json!({ "email": "c@example.com", "password": "Ab1!", "name": "C" }),
            422,
            "password_length",
        ),
        (
            json!({ "email": "c@example.com", "password": long, "name": "C" }),
            422,
            "password_length",
        ),
        (
            json!({ "email": "c@example.com", "password": "password123", "name": "C" }),
            422,
            "password_too_weak",
        ),
        (
            json!({ "email": "c@example.com", "password": "iloveyou", "name": "C" }),
            422,
            "password_too_weak",
        ),
        (
            json!({ "email": "c@example.com", "password": "qwertyuiop", "name": "C" }),
            422,
            "password_too_weak",
        ),
        (
            json!({ "email": "carla.jones@example.com", "password": "carla.jones@example.com", "name": "C" }),
            422,
            "password_too_weak",
        ),
        (
            json!({ "email": "not-an-email", "password": GOOD, "name": "C" }),
            422,
            "invalid_email",
        ),
        (
            json!({ "email": "c@example.com", "password": GOOD, "name": "  " }),
            422,
            "invalid_name",
        ),
        (
            json!({ "email": "c@example.com", "password": GOOD }),
            422,
            "invalid_body",
        ),
        (
            json!({ "email": "c@example.com", "password": GOOD, "name": "C", "kind": "admin" }),
            422,
            "invalid_body",
        ),
        (json!([]), 422, "invalid_body"),
    ];
    for (body, status, want) in cases {
        let (st, b) = hub
            .call_as(None, "POST", "/api/v1/auth/signup", Some(&body))
            .await;
        assert_eq!((st, code(&b)), (status, want), "{body}");
    }
    let r = hub
        .http
        .post(format!("{}/api/v1/auth/login", hub.base))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "malformed_json");
    let (st, b) = refresh(&hub, "not-a-token").await;
    assert_eq!((st, code(&b)), (401, "invalid_refresh_token"));
    // Huge inputs are refused as any other bad sign-in, cheaply.
    let huge = "x".repeat(100_000);
    let (st, b) = login(&hub, &huge, &huge).await;
    assert_eq!((st, code(&b)), (401, "invalid_credentials"));
    let (st, b) = login(&hub, "c@example.com", &huge).await;
    assert_eq!((st, code(&b)), (401, "invalid_credentials"));
    hub.stop().await;
}
both!(bad_signups_are_refused);

async fn sign_in_is_throttled(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Per account: three attempts, then 429 even with the right password.
    let hub = TestHub::start_with(&db, |c| {
        c.auth.limits.account_burst = 3;
        c.auth.limits.account_per_minute = 1;
    })
    .await;
    signup(&hub, "dan@example.com", GOOD).await; // the first attempt at this account
    for _ in 0..2 {
        assert_eq!(login(&hub, "dan@example.com", GOOD2).await.0, 401);
    }
    let (st, b, headers) = hub
        .request(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({ "email": "DAN@example.com", "password": GOOD })),
            &[],
        )
        .await;
    assert_eq!((st, code(&b)), (429, "too_many_attempts"));
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another account is not affected.
    assert_eq!(login(&hub, "eve@example.com", GOOD).await.0, 401);
    hub.stop().await;

    // Per IP: five attempts at any accounts, then 429.
    let hub = TestHub::start_with(&db, |c| {
        c.auth.limits.ip_burst = 5;
        c.auth.limits.ip_per_minute = 1;
    })
    .await;
    for i in 0..5 {
        assert_eq!(login(&hub, &format!("u{i}@example.com"), GOOD).await.0, 401);
    }
    let (st, b, headers) = hub
        .request(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(&json!({ "email": "dan@example.com", "password": GOOD })),
            &[],
        )
        .await;
    assert_eq!((st, code(&b)), (429, "too_many_attempts"));
    assert!(headers.contains_key("retry-after"));
    let (st, _) = refresh(&hub, "whatever").await;
    assert_eq!(st, 429);
    hub.stop().await;
}
both!(sign_in_is_throttled);

/// Wrong passwords from a stranger throttle the stranger, not the owner: the
/// per-account budget is per IP and account. Guessing from many IPs meets the
/// account's own, slower budget, which the owner's known IP does not need.
async fn strangers_cannot_lock_an_owner_out(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start_with(&db, |c| {
        c.auth.trust_forwarded_for = true;
        c.auth.limits.account_burst = 5;
        c.auth.limits.account_per_minute = 1;
        c.auth.limits.account_total_burst = 10;
        c.auth.limits.account_total_per_hour = 1;
    })
    .await;
    let login_from = async |ip: &str, password: &str| {
        let body = json!({ "email": "owner@example.com", "password": password });
        let headers: &[(&str, &str)] = if ip.is_empty() {
            &[]
        } else {
            &[("x-forwarded-for", ip)]
        };
        let (st, b, _) = hub
            .request(None, "POST", "/api/v1/auth/login", Some(&body), headers)
            .await;
        (st, b)
    };
    // The owner signs up from 127.0.0.1 (no proxy header: the TCP peer).
    signup(&hub, "owner@example.com", GOOD).await;
    for _ in 0..5 {
        assert_eq!(login_from("10.0.0.66", GOOD2).await.0, 401);
    }
    let (st, b) = login_from("10.0.0.66", GOOD).await;
    assert_eq!((st, code(&b)), (429, "too_many_attempts"));
    let (st, b) = login_from("", GOOD).await;
    assert_eq!(st, 200, "the owner is not locked out: {b}");

    // Many addresses spend the account's own budget: new clients then wait...
    let mut refused = false;
    for i in 1..=20 {
        let (st, _) = login_from(&format!("10.0.1.{i}"), GOOD2).await;
        if st == 429 {
            refused = true;
            break;
        }
        assert_eq!(st, 401);
    }
    assert!(
        refused,
        "the account's budget bounds guessing from many IPs"
    );
    let (st, b) = login_from("10.0.2.1", GOOD).await;
    assert_eq!((st, code(&b)), (429, "too_many_attempts"));
    // ...but the owner's known IP still signs in.
    let (st, b) = login_from("", GOOD).await;
    assert_eq!(st, 200, "{b}");
    hub.stop().await;
}
both!(strangers_cannot_lock_an_owner_out);

async fn weak_hashes_are_upgraded_on_login(backend: Backend) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        GOOD.as_bytes(),
        &SaltString::encode_b64(&[9u8; 16]).unwrap(),
    )
    .unwrap()
    .to_string();
    let direct = Db::connect(&db.url, 1).await.unwrap();
    assert!(
        direct
            .insert_user(&UserRow {
                id: "u-old".into(),
                email: "old@example.com".into(),
                password_hash: weak.clone(),
                kind: "customer".into(),
                name: "Old".into(),
                created_at: 1,
                password_changed_at: 1,
            })
            .await
            .unwrap()
    );
    let (st, b) = login(&hub, "old@example.com", GOOD).await;
    assert_eq!(st, 200, "{b}");
    let stored = direct
        .user_by_email("old@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.password_hash, weak);
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.password_hash
    );
    // The upgrade keeps the session and the password.
    assert_eq!(me(&hub, &s(&b, "access_token")).await.0, 200);
    assert_eq!(login(&hub, "old@example.com", GOOD).await.0, 200);
    direct.close().await;
    hub.stop().await;
}
both!(weak_hashes_are_upgraded_on_login);

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// `header.payload.` signed with HMAC-SHA256 under `secret`.
fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn forged_tokens_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let session = signup(&hub, "fay@example.com", GOOD).await;
    let real = s(&session, "access_token");
    let base = claims_of(&real);
    let direct = Db::connect(&db.url, 1).await.unwrap();
    let row = direct.signing_keys().await.unwrap().remove(0);
    let hub_key = KeySet::new(vec![
        Key::from_stored(
            row.kid.clone(),
            &row.private_key,
            &row.public_key,
            row.created_at,
        )
        .unwrap(),
    ]);
    let now = jsonwebtoken::get_current_timestamp();
    let mint = |keys: &KeySet, edit: &dyn Fn(&mut Claims)| {
        let mut c = base.clone();
        c.iat = now;
        c.exp = now + 600;
        edit(&mut c);
        keys.sign(&c).unwrap()
    };

    // Control: a token minted with the hub's key and right claims passes.
    assert_eq!(me(&hub, &mint(&hub_key, &|_| {})).await.0, 200);

    let mut attacks: Vec<(&str, String)> = vec![
        ("expired by 1 s", mint(&hub_key, &|c| c.exp = now - 1)),
        (
            "wrong audience",
            mint(&hub_key, &|c| c.aud = "pos-terminal".into()),
        ),
        (
            "wrong issuer",
            mint(&hub_key, &|c| c.iss = "evil-hub".into()),
        ),
    ];
    let claims = serde_json::to_value(&base).unwrap();
    let mut live = claims.clone();
    live["exp"] = json!(now + 600);
    attacks.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({ "alg": "none", "typ": "JWT", "kid": row.kid })),
            b64(&live)
        ),
    ));
    attacks.push((
        "HS256 with the public key as secret",
        hs256(
            &json!({ "alg": "HS256", "typ": "JWT", "kid": row.kid }),
            &live,
            &row.public_key,
        ),
    ));
    let x = URL_SAFE_NO_PAD.encode(&row.public_key);
    attacks.push((
        "HS256 with the JWK x as secret",
        hs256(
            &json!({ "alg": "HS256", "typ": "JWT", "kid": row.kid }),
            &live,
            x.as_bytes(),
        ),
    ));
    let (der, public) = jwt::generate_key().unwrap();
    let stranger = KeySet::new(vec![
        Key::from_stored("unknown-kid".into(), &der, &public, 1).unwrap(),
    ]);
    attacks.push(("unknown kid", mint(&stranger, &|_| {})));
    let impostor = KeySet::new(vec![
        Key::from_stored(row.kid.clone(), &der, &public, 1).unwrap(),
    ]);
    attacks.push(("the hub's kid, another key", mint(&impostor, &|_| {})));
    let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
    let mut sig = URL_SAFE_NO_PAD.decode(&parts[2]).unwrap();
    sig[0] ^= 0x01;
    parts[2] = URL_SAFE_NO_PAD.encode(&sig);
    attacks.push(("tampered signature", parts.join(".")));
    let mut other = claims.clone();
    other["sub"] = json!("someone-else");
    let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
    parts[1] = b64(&other);
    attacks.push(("tampered claims", parts.join(".")));
    attacks.push(("garbage", "not.a.token".into()));
    attacks.push(("no kid", {
        let p: Vec<&str> = real.split('.').collect();
        format!(
            "{}.{}.{}",
            b64(&json!({ "alg": "EdDSA", "typ": "JWT" })),
            p[1],
            p[2]
        )
    }));

    for (what, token) in attacks {
        for path in ["/api/v1/auth/me", "/api/v1/stores/x/menu"] {
            let (st, b) = hub.call_as(Some(&token), "GET", path, None).await;
            assert_eq!(st, 401, "{what} on {path}: {b}");
            assert!(b["error"]["code"].is_string(), "{what}: {b}");
        }
    }
    direct.close().await;
    hub.stop().await;
}
both!(forged_tokens_are_refused);

/// Creates an organisation with the admin token; returns (org id, owner invitation token).
async fn new_org(hub: &TestHub, name: &str, owner: &str) -> (String, String) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/orgs",
            Some(&json!({ "name": name, "owner_email": owner })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    (s(&b, "id"), s(&b["invitation"], "token"))
}

/// Accepts an invitation as a new account; returns its access token.
async fn accept_new(hub: &TestHub, token: &str, name: &str) -> String {
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": token, "name": name, "password": GOOD })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    s(&b, "access_token")
}

async fn invite(hub: &TestHub, who: &str, org: &str, body: Value) -> (u16, Value) {
    hub.call_as(
        Some(who),
        "POST",
        &format!("/api/v1/orgs/{org}/invitations"),
        Some(&body),
    )
    .await
}

async fn tenancy_and_roles(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org_a, inv_a) = new_org(&hub, "Harbor Group", "owner@a.example").await;
    let (org_b, inv_b) = new_org(&hub, "Hill Foods", "owner@b.example").await;
    for (id, org) in [("a1", &org_a), ("a2", &org_a), ("b1", &org_b)] {
        let (st, b) = hub
            .call(
                "POST",
                "/api/v1/admin/stores",
                Some(&json!({ "id": id, "name": id, "org_id": org })),
            )
            .await;
        assert_eq!((st, b["org_id"].as_str()), (201, Some(org.as_str())), "{b}");
    }
    // The old body still works: the store goes to the default organisation.
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": "legacy", "name": "Legacy" })),
        )
        .await;
    assert_eq!((st, b["org_id"].as_str()), (201, Some("default")));
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": "c1", "name": "c", "org_id": "no-such-org" })),
        )
        .await;
    assert_eq!((st, code(&b)), (422, "unknown_org"));

    let owner_a = accept_new(&hub, &inv_a, "Olive").await;
    let owner_b = accept_new(&hub, &inv_b, "Otto").await;
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": inv_a, "name": "X", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (409, "invitation_used"));
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": "nope", "name": "X", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));

    // Tenancy: org B's store answers owner A exactly as a store that does not exist.
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (st, b) = hub
        .call_as(Some(&owner_a), "GET", "/api/v1/stores/a1/menu", None)
        .await;
    assert_eq!((st, code(&b)), (404, "no_menu"));
    let (st, _) = hub
        .call_as(Some(&owner_a), "PUT", "/api/v1/stores/a1/menu", Some(&menu))
        .await;
    assert_eq!(st, 200);
    let (_, missing) = hub
        .call_as(Some(&owner_a), "GET", "/api/v1/stores/nope/menu", None)
        .await;
    for (method, path, body) in [
        ("GET", "/api/v1/stores/b1/menu", None),
        ("PUT", "/api/v1/stores/b1/menu", Some(&menu)),
        ("GET", "/api/v1/stores/b1/orders", None),
        ("GET", "/api/v1/stores/b1/staff", None),
        ("GET", "/api/v1/stores/b1/settings", None),
        ("GET", "/api/v1/stores/legacy/menu", None),
    ] {
        let (st, b) = hub.call_as(Some(&owner_a), method, path, body).await;
        assert_eq!((st, &b), (404, &missing), "{method} {path}");
    }
    let (st, _) = hub
        .call_as(Some(&owner_b), "GET", "/api/v1/stores/a1/menu", None)
        .await;
    assert_eq!(st, 404);
    let (st, b) = invite(
        &hub,
        &owner_a,
        &org_b,
        json!({ "email": "x@a.example", "role": "cashier" }),
    )
    .await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    let (st, b) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "x@a.example", "role": "cashier", "store_id": "b1" }),
    )
    .await;
    assert_eq!(
        (st, code(&b)),
        (404, "not_found"),
        "another organisation's store"
    );

    // Staff by invitation: a manager for the organisation, a cashier for a1, kitchen for all stores.
    let (st, b) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "Manny@A.example", "role": "manager" }),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["email"], "manny@a.example");
    let manager = accept_new(&hub, &s(&b, "token"), "Manny").await;
    let (st, b) = invite(
        &hub,
        &manager,
        &org_a,
        json!({ "email": "cass@a.example", "role": "cashier", "store_id": "a1" }),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let cashier = accept_new(&hub, &s(&b, "token"), "Cass").await;
    let (st, b) = invite(
        &hub,
        &manager,
        &org_a,
        json!({ "email": "kit@a.example", "role": "kitchen" }),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let kitchen = accept_new(&hub, &s(&b, "token"), "Kit").await;
    for role in ["manager", "owner"] {
        let (st, b) = invite(
            &hub,
            &manager,
            &org_a,
            json!({ "email": "m2@a.example", "role": role }),
        )
        .await;
        assert_eq!(
            (st, code(&b)),
            (403, "forbidden"),
            "a manager inviting a {role}"
        );
    }
    let (st, b) = invite(
        &hub,
        &cashier,
        &org_a,
        json!({ "email": "k2@a.example", "role": "kitchen", "store_id": "a1" }),
    )
    .await;
    assert_eq!((st, code(&b)), (403, "forbidden"));
    let (st, b) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "k2@a.example", "role": "admin" }),
    )
    .await;
    assert_eq!((st, code(&b)), (422, "invalid_role"));

    let (_, who) = me(&hub, &cashier).await;
    assert_eq!(
        who["memberships"],
        json!([{ "org_id": org_a, "org_name": "Harbor Group", "store_id": "a1", "role": "cashier" }])
    );
    assert_eq!(who["kind"], "staff");

    // Staff tokens name each store the user works at and the role there, so a
    // store node can authorise them offline; other organisations' stores are not named.
    let grants = |t: &str| {
        let c = claims_of(t);
        let stores: Vec<_> = c.stores.into_iter().map(|(s, r)| (s, r.as_str())).collect();
        (c.name.unwrap_or_default(), stores)
    };
    let a = |r: &'static str| vec![("a1".to_owned(), r), ("a2".to_owned(), r)];
    assert_eq!(grants(&owner_a), ("Olive".into(), a("owner")));
    assert_eq!(grants(&manager), ("Manny".into(), a("manager")));
    assert_eq!(grants(&kitchen), ("Kit".into(), a("kitchen")));
    assert_eq!(
        grants(&cashier),
        ("Cass".into(), vec![("a1".to_owned(), "cashier")])
    );

    // Roles: what each may do at a1 (status per request).
    let staff = json!({ "name": "Sam", "role": "cashier", "pin": "1234" });
    let settings = json!({ "pickup_lead_minutes": 20 });
    let checks: [(&str, &str, Option<&Value>, [u16; 4]); 8] = [
        //                                                     owner manager cashier kitchen
        ("GET", "/api/v1/stores/a1/menu", None, [200, 200, 200, 200]),
        (
            "PUT",
            "/api/v1/stores/a1/menu",
            Some(&menu),
            [200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/stores/a1/orders",
            None,
            [200, 200, 200, 200],
        ),
        ("GET", "/api/v1/stores/a1/staff", None, [200, 403, 403, 403]),
        (
            "PUT",
            "/api/v1/stores/a1/staff/sam",
            Some(&staff),
            [200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/stores/a1/settings",
            None,
            [200, 200, 200, 200],
        ),
        (
            "PUT",
            "/api/v1/stores/a1/settings",
            Some(&settings),
            [200, 200, 403, 403],
        ),
        // The cashier's membership is for a1 only.
        ("GET", "/api/v1/stores/a2/menu", None, [200, 200, 404, 200]),
    ];
    for (method, path, body, want) in checks {
        for (who, token, want) in [
            ("owner", &owner_a, want[0]),
            ("manager", &manager, want[1]),
            ("cashier", &cashier, want[2]),
            ("kitchen", &kitchen, want[3]),
        ] {
            let (st, b) = hub.call_as(Some(token), method, path, body).await;
            let got = if st == 404 && code(&b) == "no_menu" {
                200
            } else {
                st
            };
            assert_eq!(got, want, "{who}: {method} {path}: {b}");
            if st == 403 {
                assert_eq!(code(&b), "forbidden");
            }
        }
    }

    // A customer reaches no store and no admin route.
    let customer = s(&signup(&hub, "cus@example.com", GOOD).await, "access_token");
    let (st, _) = hub
        .call_as(Some(&customer), "GET", "/api/v1/stores/a1/menu", None)
        .await;
    assert_eq!(st, 404);
    let (st, b) = hub
        .call_as(
            Some(&customer),
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": "z", "name": "z" })),
        )
        .await;
    assert_eq!((st, code(&b)), (403, "forbidden"));
    let (st, _) = hub
        .call_as(
            Some(&customer),
            "POST",
            "/api/v1/admin/stores/a1/node-tokens",
            Some(&json!({ "label": "x" })),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = invite(
        &hub,
        &customer,
        &org_a,
        json!({ "email": "y@a.example", "role": "kitchen" }),
    )
    .await;
    assert_eq!(st, 404);

    // A signed-in account accepts an invitation to its own email, not to another's.
    let (_, b) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "cus@example.com", "role": "kitchen", "store_id": "a1" }),
    )
    .await;
    let (_, other) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "else@example.com", "role": "kitchen" }),
    )
    .await;
    let (st, body) = hub
        .call_as(
            Some(&customer),
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&other, "token") })),
        )
        .await;
    assert_eq!((st, code(&body)), (403, "forbidden"));
    let (st, body) = hub
        .call_as(
            Some(&customer),
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&b, "token") })),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, _) = hub
        .call_as(Some(&customer), "GET", "/api/v1/stores/a1/orders", None)
        .await;
    assert_eq!(st, 200);
    // Not signed in, for an email that has an account: sign in first.
    let (_, b) = invite(
        &hub,
        &owner_a,
        &org_a,
        json!({ "email": "cass@a.example", "role": "kitchen" }),
    )
    .await;
    let (st, body) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&b, "token"), "name": "Cass", "password": GOOD2 })),
        )
        .await;
    assert_eq!((st, code(&body)), (409, "account_exists"));

    // Platform admins: made with the admin token, they reach every store.
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/admins",
            Some(&json!({ "email": "root@hub.example", "password": GOOD })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = hub
        .call_as(
            Some(&owner_a),
            "POST",
            "/api/v1/admin/admins",
            Some(&json!({ "email": "r2@hub.example", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (403, "forbidden"));
    let (_, admin) = login(&hub, "root@hub.example", GOOD).await;
    let admin = s(&admin, "access_token");
    for path in [
        "/api/v1/stores/b1/orders",
        "/api/v1/stores/legacy/orders",
        "/api/v1/stores/a1/staff",
    ] {
        let (st, b) = hub.call_as(Some(&admin), "GET", path, None).await;
        assert_eq!(st, 200, "{path}: {b}");
    }
    let (st, b) = hub
        .call_as(
            Some(&admin),
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": "b2", "name": "b2", "org_id": org_b })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = invite(
        &hub,
        &admin,
        &org_b,
        json!({ "email": "boss@b.example", "role": "owner" }),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, _) = hub
        .call_as(Some(&owner_b), "GET", "/api/v1/stores/b2/menu", None)
        .await;
    assert_eq!(st, 404, "b2 has no menu yet, but owner B may look");
    let (_, b) = hub
        .call_as(Some(&owner_b), "GET", "/api/v1/stores/b2/menu", None)
        .await;
    assert_eq!(code(&b), "no_menu");
    hub.stop().await;
}
both!(tenancy_and_roles);

async fn invitations_expire(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start_with(&db, |c| c.auth.invitation_ttl_secs = 0).await;
    let (_, token) = new_org(&hub, "Late Co", "late@example.com").await;
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": token, "name": "Late", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (410, "invitation_expired"));
    hub.stop().await;
}
both!(invitations_expire);

/// The hourly sweep deletes refresh tokens past their expiry and invitations a
/// week past theirs, and nothing that is still good.
async fn expired_rows_are_swept(backend: Backend) {
    use cloud_hub::housekeeping::{KEEP_EXPIRED_INVITATIONS_MS, Swept, sweep};
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let user = signup(&hub, "sweep@example.com", GOOD).await;
    let (_, invitation) = new_org(&hub, "Sweep Co", "owner@sweep.example").await;
    let now = hub.running.hub().now_ms();

    // Now: nothing has expired, nothing goes, the session still refreshes.
    let swept = sweep(hub.running.hub(), now).await.unwrap();
    assert_eq!((swept.refresh_tokens, swept.invitations), (0, 0));
    let (st, b) = refresh(&hub, &s(&user, "refresh_token")).await;
    assert_eq!(st, 200, "{b}");

    // Past every expiry: the rotated-away token, its successor and the invitation go.
    let later = now + 31 * 24 * 3600 * 1000 + KEEP_EXPIRED_INVITATIONS_MS;
    let swept = sweep(hub.running.hub(), later).await.unwrap();
    assert_eq!(
        swept,
        Swept {
            refresh_tokens: 2,
            invitations: 1,
            idempotent_answers: swept.idempotent_answers
        }
    );
    let (st, b) = refresh(&hub, &s(&b, "refresh_token")).await;
    assert_eq!(st, 401, "{b}");
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": invitation, "name": "Late", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"), "{b}");
    // Signing in again still works: accounts are never swept.
    let (st, b) = login(&hub, "sweep@example.com", GOOD).await;
    assert_eq!(st, 200, "{b}");
    hub.stop().await;
}
both!(expired_rows_are_swept);

async fn writes_replay_under_an_idempotency_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let body = json!({ "email": "ida@example.com", "password": GOOD, "name": "Ida" });
    let key = [("idempotency-key", "signup-1")];
    let (st1, first, _) = hub
        .request(None, "POST", "/api/v1/auth/signup", Some(&body), &key)
        .await;
    let (st2, second, headers) = hub
        .request(None, "POST", "/api/v1/auth/signup", Some(&body), &key)
        .await;
    assert_eq!((st1, st2), (201, 201), "{second}");
    assert_eq!(first, second);
    assert_eq!(headers["idempotent-replayed"], "true");
    let (st, b, _) = hub
        .request(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": "other@example.com", "password": GOOD, "name": "O" })),
            &key,
        )
        .await;
    assert_eq!((st, code(&b)), (422, "idempotency_key_reused"));
    let (st, b) = hub
        .call_as(None, "POST", "/api/v1/auth/signup", Some(&body))
        .await;
    assert_eq!((st, code(&b)), (409, "email_taken"), "one account was made");

    // A refresh is never answered from storage: a spent refresh token sent
    // again, even with the same key, is reuse and ends the session.
    let r1 = s(&first, "refresh_token");
    let k = [("idempotency-key", "refresh-1")];
    let rb = json!({ "refresh_token": r1 });
    let (st, a, _) = hub
        .request(None, "POST", "/api/v1/auth/refresh", Some(&rb), &k)
        .await;
    assert_eq!(st, 200, "{a}");
    let (st, b, h) = hub
        .request(None, "POST", "/api/v1/auth/refresh", Some(&rb), &k)
        .await;
    assert_eq!((st, code(&b)), (401, "refresh_token_reused"), "{b}");
    assert!(!h.contains_key("idempotent-replayed"));
    assert_eq!(
        me(&hub, &s(&a, "access_token")).await.0,
        401,
        "reuse was detected: the session is over"
    );

    // The stored answers keep no token in the clear.
    let direct = Db::connect(&db.url, 1).await.unwrap();
    let dump = match &direct {
        Db::Sqlite(p) => {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT body FROM idempotency WHERE body IS NOT NULL")
                .fetch_all(p)
                .await
                .unwrap()
        }
        Db::Postgres(p) => {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT body FROM idempotency WHERE body IS NOT NULL")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(dump.len(), 1, "only the sign-up's answer is stored");
    for sealed in &dump {
        let text = String::from_utf8_lossy(sealed);
        assert!(
            !text.contains(&r1) && !text.contains("refresh_token"),
            "sealed"
        );
    }
    direct.close().await;

    // Admin writes too; a failed write does not hold its key.
    let store = json!({ "id": "s1", "name": "One" });
    let k = [("idempotency-key", "store-1")];
    let (st1, a, _) = hub
        .request(
            Some(ADMIN),
            "POST",
            "/api/v1/admin/stores",
            Some(&store),
            &k,
        )
        .await;
    let (st2, b, h) = hub
        .request(
            Some(ADMIN),
            "POST",
            "/api/v1/admin/stores",
            Some(&store),
            &k,
        )
        .await;
    assert_eq!((st1, st2, &a), (201, 201, &b));
    assert_eq!(h["idempotent-replayed"], "true");
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let k = [("idempotency-key", "menu-1")];
    let (st, _, _) = hub
        .request(
            Some(ADMIN),
            "PUT",
            "/api/v1/stores/s2/menu",
            Some(&menu),
            &k,
        )
        .await;
    assert_eq!(st, 404);
    hub.create_store("s2").await;
    let (st, _, h) = hub
        .request(
            Some(ADMIN),
            "PUT",
            "/api/v1/stores/s2/menu",
            Some(&menu),
            &k,
        )
        .await;
    assert_eq!(st, 200);
    assert!(!h.contains_key("idempotent-replayed"));
    for bad in ["", "has space", &"k".repeat(256)] {
        let (st, b, _) = hub
            .request(
                Some(ADMIN),
                "POST",
                "/api/v1/admin/stores",
                Some(&store),
                &[("idempotency-key", bad)],
            )
            .await;
        assert_eq!((st, code(&b)), (400, "invalid_idempotency_key"), "{bad:?}");
    }
    hub.stop().await;
}
both!(writes_replay_under_an_idempotency_key);

async fn add_admin_makes_a_platform_admin(backend: Backend) {
    let db = TestDb::new(backend).await;
    let id = cloud_hub::add_admin(&db.url, "Ops@Hub.example", GOOD, "Ops")
        .await
        .unwrap();
    assert!(
        cloud_hub::add_admin(&db.url, "ops2@hub.example", "password", "Ops")
            .await
            .is_err()
    );
    assert!(
        cloud_hub::add_admin(&db.url, "ops@hub.example", GOOD2, "Ops")
            .await
            .is_err()
    );
    let hub = TestHub::start(&db).await;
    let (st, b) = login(&hub, "ops@hub.example", GOOD).await;
    assert_eq!(st, 200, "{b}");
    let (_, who) = me(&hub, &s(&b, "access_token")).await;
    assert_eq!(
        (who["id"].as_str(), who["kind"].as_str()),
        (Some(id.as_str()), Some("admin"))
    );
    hub.stop().await;
}
both!(add_admin_makes_a_platform_admin);
