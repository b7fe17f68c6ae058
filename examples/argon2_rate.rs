//! Argon2id verifications per second on the current thread, with the IdP's parameters:
//! the floor that password logins per second are compared with (bench/login.sh).
//!
//! `cargo run --release --example argon2_rate -- [SECONDS]`

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let password = "Benchmark-heslo-2026";
    let hash = match mpsv_idp::password::hash_now(password) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("hashing failed: {e}");
            std::process::exit(1);
        }
    };
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        if !mpsv_idp::password::verify_blocking(password, &hash) {
            eprintln!("verification failed");
            std::process::exit(1);
        }
        n += 1;
    }
    println!("{:.1}", n as f64 / start.elapsed().as_secs_f64());
}
