//! The built-in plugins, compiled from `plugins/*` for wasm32-wasip2 by the host's build
//! script and embedded in the binary (no `.wasm` is checked in).

/// `(crate name, component bytes)` of every built-in plugin.
pub const PLUGINS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// `(crate name, sha256 hex of its component)` of every built-in plugin, computed by the build
/// script: hashing them at every start cost more than the rest of a small `plan`.
pub const DIGESTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_digests.rs"));

/// The build-time digest of the built-in plugin `name`.
pub fn digest(name: &str) -> Option<&'static str> {
    DIGESTS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn build_time_digests_are_those_of_the_embedded_bytes() {
        assert_eq!(super::DIGESTS.len(), super::PLUGINS.len());
        for (name, wasm) in super::PLUGINS {
            let digest = hex::encode(Sha256::digest(wasm));
            assert_eq!(super::digest(name), Some(digest.as_str()), "{name}");
        }
    }
}
