//! Fixes the service's version at build time: `APP_VERSION` if set, else Cargo's version.
//! The version goes into every response's `Server` header, so it must be a safe token.

fn main() {
    println!("cargo:rerun-if-env-changed=APP_VERSION");
    let version = match std::env::var("APP_VERSION") {
        Ok(v) if !v.is_empty() => v,
        _ => std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION"),
    };
    let valid = version.len() <= 64
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if !valid {
        eprintln!(
            "APP_VERSION must be 1-64 characters of letters, digits, '.', '_', '+', '-'; got {version:?}"
        );
        std::process::exit(1);
    }
    println!("cargo:rustc-env=SERVICE_VERSION={version}");
}
