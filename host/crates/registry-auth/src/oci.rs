//! The OCI distribution client, set up once for every registry Dockwright reads or writes
//! (images found for reuse, plugin artifacts): a registry on loopback (127.0.0.0/8,
//! `localhost`, `[::1]`) is spoken to over plain HTTP, as the Docker engine does, every other
//! over HTTPS; the TLS crypto provider is installed first; credentials are the user's Docker
//! credentials in `oci-client`'s form.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth as OciAuth;

use crate::{CredentialError, DockerCredential, RegistryAuth, registry_credential};

/// A client for the registry `registry` (`host[:port]`).
pub fn client(registry: &str) -> oci_client::Client {
    install_crypto_provider();
    let protocol = if is_loopback(registry) {
        ClientProtocol::HttpsExcept(vec![registry.to_string()])
    } else {
        ClientProtocol::Https
    };
    oci_client::Client::new(ClientConfig {
        protocol,
        ..Default::default()
    })
}

/// Whether `registry` (`host[:port]`) is this machine: spoken to over plain HTTP.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The credentials `auth` gives for `registry`, as `oci-client` takes them.
pub fn credentials(auth: &RegistryAuth, registry: &str) -> Result<OciAuth, CredentialError> {
    Ok(match registry_credential(auth, registry)? {
        None => OciAuth::Anonymous,
        Some(DockerCredential::UsernamePassword(user, password)) => OciAuth::Basic(user, password),
        Some(DockerCredential::IdentityToken(token)) => OciAuth::Bearer(token),
    })
}

/// oci-client's reqwest is built without a TLS crypto provider of its own; the host already
/// links rustls with *ring* (through bollard), so that one is made the process default.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_recognised() {
        for registry in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "127.3.4.5",
        ] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in ["registry.example.com", "10.0.0.1:5000", "ghcr.io"] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }

    #[test]
    fn given_credentials_become_basic_auth_and_none_anonymous() {
        let given = RegistryAuth::UsernamePassword {
            username: "u".into(),
            password: "p".into(),
        };
        assert_eq!(
            credentials(&given, "127.0.0.1:5000").unwrap(),
            OciAuth::Basic("u".into(), "p".into())
        );
        assert_eq!(
            credentials(&RegistryAuth::Anonymous, "127.0.0.1:5000").unwrap(),
            OciAuth::Anonymous
        );
    }
}
