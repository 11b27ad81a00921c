//! In-memory data of the demo API, seeded fresh for every router.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A seeded account. The passwords are public on purpose: this API exists to
/// be attacked in demos and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    pub id: u64,
    pub username: &'static str,
    pub password: &'static str,
    pub role: &'static str,
}

/// alice and bob are ordinary users, admin is the administrator.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        id: 1,
        username: "alice",
        password: "alice-wonderland-1",
        role: "user",
    },
    DemoUser {
        id: 2,
        username: "bob",
        password: "bob-builder-2",
        role: "user",
    },
    DemoUser {
        id: 3,
        username: "admin",
        password: "admin-demo-3",
        role: "admin",
    },
];

pub(crate) fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// The full user record, served as is by the user endpoints: the hash and the
/// notes are the over-exposed properties a response filter must remove.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct User {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub role: String,
    pub password_hash: String,
    pub internal_notes: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Product {
    pub id: u64,
    pub name: String,
    pub category: String,
    pub price_cents: u64,
    pub stock: u64,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Order {
    pub id: u64,
    pub user_id: u64,
    pub product_id: u64,
    pub quantity: u64,
    pub total_cents: u64,
    pub status: &'static str,
    pub shipping_address: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReservationState {
    Held,
    Paid,
}

#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub id: u64,
    pub seat_id: String,
    pub user_id: u64,
    pub price_cents: u64,
    pub state: ReservationState,
    pub expires_at: Instant,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
    pub paid_at_ms: Option<i64>,
}

impl Reservation {
    pub fn status(&self, now: Instant) -> &'static str {
        match self.state {
            ReservationState::Paid => "paid",
            ReservationState::Held if now >= self.expires_at => "expired",
            ReservationState::Held => "held",
        }
    }

    /// True while this reservation keeps its seat from others.
    pub fn occupies_seat(&self, now: Instant) -> bool {
        self.state == ReservationState::Paid || now < self.expires_at
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Seat {
    pub id: String,
    pub row: String,
    pub number: u32,
    pub price_cents: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comment {
    pub id: u64,
    pub author: String,
    pub text: String,
    pub created_at_ms: i64,
}

#[derive(Debug)]
pub(crate) struct Store {
    pub users: Vec<User>,
    salts: HashMap<u64, String>,
    pub sessions: HashMap<String, u64>,
    pub products: Vec<Product>,
    pub orders: BTreeMap<u64, Order>,
    pub next_order_id: u64,
    pub seats: Vec<Seat>,
    pub reservations: BTreeMap<u64, Reservation>,
    pub next_reservation_id: u64,
    pub comments: Vec<Comment>,
    pub next_comment_id: u64,
}

fn hash_password(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(password.as_bytes());
    format!("sha256${salt}${}", hex::encode(hasher.finalize()))
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::fill(buffer.as_mut_slice());
    hex::encode(buffer)
}

/// A fresh opaque bearer token.
pub(crate) fn new_token() -> String {
    random_hex(32)
}

const PRODUCTS: &[(&str, &str, u64, u64, &str)] = &[
    (
        "Rust in Action",
        "books",
        3_999,
        25,
        "A hands-on systems programming book.",
    ),
    (
        "HTTP: The Definitive Guide",
        "books",
        4_499,
        12,
        "Everything about the protocol.",
    ),
    (
        "The Web Application Hacker's Handbook",
        "books",
        5_299,
        8,
        "Finding and exploiting flaws.",
    ),
    (
        "Mechanical Keyboard",
        "electronics",
        12_900,
        40,
        "Tactile switches, full size.",
    ),
    (
        "USB-C Hub",
        "electronics",
        3_450,
        100,
        "Seven ports, one cable.",
    ),
    (
        "Noise-Cancelling Headphones",
        "electronics",
        24_900,
        15,
        "Over-ear, 30 h battery.",
    ),
    ("4K Monitor", "electronics", 39_900, 6, "27 inch IPS panel."),
    (
        "Wooden Train Set",
        "toys",
        5_999,
        30,
        "Forty pieces of beech wood.",
    ),
    (
        "Puzzle 1000 pieces",
        "toys",
        1_999,
        50,
        "A lighthouse at dusk.",
    ),
    (
        "Concert Gift Card",
        "gift-cards",
        5_000,
        1_000,
        "Valid for any concert.",
    ),
    (
        "Coffee Beans 1 kg",
        "grocery",
        2_490,
        60,
        "Medium roast, single origin.",
    ),
    (
        "Green Tea 250 g",
        "grocery",
        1_290,
        80,
        "Sencha, first flush.",
    ),
];

impl Store {
    pub fn seeded() -> Store {
        let created = now_ms();
        let mut salts = HashMap::new();
        let users = DEMO_USERS
            .iter()
            .map(|seed| {
                let salt = random_hex(8);
                let user = User {
                    id: seed.id,
                    username: seed.username.to_string(),
                    email: format!("{}@demo-shop.example", seed.username),
                    role: seed.role.to_string(),
                    password_hash: hash_password(&salt, seed.password),
                    internal_notes: format!(
                        "KYC checked by support; card on file ends 4{:03}; do not share",
                        seed.id * 111
                    ),
                    created_at_ms: created,
                };
                salts.insert(seed.id, salt);
                user
            })
            .collect();
        let products = PRODUCTS
            .iter()
            .zip(1u64..)
            .map(
                |(&(name, category, price_cents, stock, description), id)| Product {
                    id,
                    name: name.to_string(),
                    category: category.to_string(),
                    price_cents,
                    stock,
                    description: description.to_string(),
                },
            )
            .collect();
        let mut orders = BTreeMap::new();
        for (id, user_id, product_id, quantity, address) in [
            (1u64, 1u64, 1u64, 1u64, "1 Rabbit Hole Lane, Oxford"),
            (2, 2, 4, 2, "12 Scaffold Street, Bristol"),
            (3, 3, 7, 1, "Operations Office, London"),
        ] {
            let price = PRODUCTS
                .get(usize::try_from(product_id - 1).unwrap_or(usize::MAX))
                .map_or(0, |p| p.2);
            orders.insert(
                id,
                Order {
                    id,
                    user_id,
                    product_id,
                    quantity,
                    total_cents: price * quantity,
                    status: "shipped",
                    shipping_address: address.to_string(),
                    created_at_ms: created,
                },
            );
        }
        let mut seats = Vec::new();
        for (row, price_cents) in [("A", 9_000u64), ("B", 6_500), ("C", 4_000)] {
            for number in 1..=8u32 {
                seats.push(Seat {
                    id: format!("{row}{number}"),
                    row: row.to_string(),
                    number,
                    price_cents,
                });
            }
        }
        Store {
            users,
            salts,
            sessions: HashMap::new(),
            products,
            orders,
            next_order_id: 4,
            seats,
            reservations: BTreeMap::new(),
            next_reservation_id: 1,
            comments: Vec::new(),
            next_comment_id: 1,
        }
    }

    /// The user with these credentials, if any.
    pub fn authenticate(&self, username: &str, password: &str) -> Option<&User> {
        let user = self.users.iter().find(|u| u.username == username)?;
        let salt = self.salts.get(&user.id)?;
        (hash_password(salt, password) == user.password_hash).then_some(user)
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn seat_status(&self, seat_id: &str, now: Instant) -> &'static str {
        let mut status = "available";
        for reservation in self.reservations.values() {
            if reservation.seat_id != seat_id || !reservation.occupies_seat(now) {
                continue;
            }
            if reservation.state == ReservationState::Paid {
                return "sold";
            }
            status = "held";
        }
        status
    }

    pub fn hold_duration_ms(hold: Duration) -> i64 {
        i64::try_from(hold.as_millis()).unwrap_or(i64::MAX)
    }
}
