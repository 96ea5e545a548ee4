//! A client for the cluster the user's kubeconfig names, found as `kubectl` finds it.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no Kubernetes configuration found (KUBECONFIG, ~/.kube/config, or in-cluster): {0}")]
    Infer(#[source] kube::config::InferConfigError),
    #[error("reading the kubeconfig{}: {source}", context_suffix(context))]
    Kubeconfig {
        context: Option<String>,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("connecting to the cluster: {0}")]
    Client(#[source] kube::Error),
}

fn context_suffix(context: &Option<String>) -> String {
    match context {
        Some(context) => format!(" (context `{context}`)"),
        None => String::new(),
    }
}

/// A client as `kubectl` would connect: the kubeconfig files in `KUBECONFIG` (merged) or
/// `~/.kube/config`, else the in-cluster service account. With `context`, that context of
/// the kubeconfig (there is no in-cluster fallback then); without, the current context.
pub async fn client(context: Option<&str>) -> Result<kube::Client, ClientError> {
    install_crypto_provider();
    let config = match context {
        None => kube::Config::infer().await.map_err(ClientError::Infer)?,
        Some(context) => kube::Config::from_kubeconfig(&options(Some(context)))
            .await
            .map_err(|source| ClientError::Kubeconfig {
                context: Some(context.to_string()),
                source,
            })?,
    };
    kube::Client::try_from(config).map_err(ClientError::Client)
}

/// A client from one kubeconfig file, with its current context or the one named.
pub async fn client_from_kubeconfig(
    path: &Path,
    context: Option<&str>,
) -> Result<kube::Client, ClientError> {
    install_crypto_provider();
    let wrap = |source| ClientError::Kubeconfig {
        context: context.map(str::to_string),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(wrap)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options(context))
        .await
        .map_err(wrap)?;
    kube::Client::try_from(config).map_err(ClientError::Client)
}

fn options(context: Option<&str>) -> KubeConfigOptions {
    KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    }
}

/// kube's TLS (rustls) needs a process-wide crypto provider; Dockwright uses ring
/// everywhere. Installing fails harmlessly when one is already installed.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
