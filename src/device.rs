//! Where the tensors live: the CPU, a GPU through Vulkan, or a device that another machine
//! hosts (`argen device-server`), named on the command line by `--device` and `--devices`.
//!
//! | spec | device | needs |
//! |---|---|---|
//! | `cpu` | burn-flex on this machine's cores (the default) | nothing |
//! | `gpu`, `gpu:N` | the first (N-th) Vulkan adapter, through burn's wgpu backend | the `gpu` cargo feature and a Vulkan driver |
//! | `remote:ws://HOST:PORT`, `remote:ws://HOST:PORT#N` | device 0 (N) of an `argen device-server` | the `remote` cargo feature; the token in `ARGEN_REMOTE_TOKEN` |
//!
//! Every device computes the same mathematics; argen's fused CPU kernels ([`crate::fused`])
//! run on `cpu` only, the standard burn operations everywhere else.

use anyhow::{Result, bail};
use burn::prelude::*;

/// The environment variable holding the token of a device server, on both sides. A token on
/// the command line would show in `ps` and in shell histories.
pub const TOKEN_VARIABLE: &str = "ARGEN_REMOTE_TOKEN";

/// One parsed `--device` value: what to connect, before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// burn-flex on this machine's CPU cores.
    Cpu,
    /// The N-th Vulkan adapter (discrete GPUs first, then integrated, virtual, software).
    Gpu(usize),
    /// Device `index` of the device server at `url` (`ws://HOST:PORT`).
    Remote { url: String, index: usize },
}

impl DeviceSpec {
    /// Parses `cpu`, `gpu`, `gpu:N`, `remote:ws://HOST:PORT` or `remote:ws://HOST:PORT#N`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "cpu" {
            return Ok(Self::Cpu);
        }
        if text == "gpu" {
            return Ok(Self::Gpu(0));
        }
        if let Some(n) = text.strip_prefix("gpu:") {
            return match n.parse::<usize>() {
                Ok(n) => Ok(Self::Gpu(n)),
                Err(_) => bail!("device '{text}': expected gpu:N with N a GPU number (0, 1, ...)"),
            };
        }
        if let Some(rest) = text.strip_prefix("remote:") {
            let (url, index) = match rest.rsplit_once('#') {
                Some((url, n)) => match n.parse::<usize>() {
                    Ok(n) => (url, n),
                    Err(_) => bail!(
                        "device '{text}': expected remote:ws://HOST:PORT#N with N a device number"
                    ),
                },
                None => (rest, 0),
            };
            if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() <= 5 {
                bail!("device '{text}': expected remote:ws://HOST:PORT");
            }
            return Ok(Self::Remote {
                url: url.to_string(),
                index,
            });
        }
        bail!("unknown device '{text}': expected cpu, gpu, gpu:N or remote:ws://HOST:PORT")
    }

    /// Parses a comma-separated list (`--devices cpu,gpu:0`).
    pub fn parse_list(text: &str) -> Result<Vec<Self>> {
        let specs = text
            .split(',')
            .map(Self::parse)
            .collect::<Result<Vec<_>>>()?;
        if specs.is_empty() {
            bail!("--devices needs at least one device");
        }
        Ok(specs)
    }

    /// Connects the device: checks that it exists and answers, with a clear error if not.
    pub fn connect(&self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            Self::Gpu(n) => gpu(*n),
            Self::Remote { url, index } => remote(url, *index),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Gpu(n) => write!(f, "gpu:{n}"),
            Self::Remote { url, index } => write!(f, "remote:{url}#{index}"),
        }
    }
}

/// The devices a command computes on: the first holds the model; training splits each batch
/// over all of them (data parallelism).
#[derive(Debug, Clone)]
pub struct Devices {
    /// The connected devices, in the order given.
    pub devices: Vec<Device>,
    /// What the user asked for, for messages.
    pub specs: Vec<DeviceSpec>,
}

impl Devices {
    /// This machine's CPU only.
    pub fn cpu() -> Self {
        Self {
            devices: vec![Device::flex()],
            specs: vec![DeviceSpec::Cpu],
        }
    }

    /// Connects every device of `specs` (at least one).
    pub fn connect(specs: Vec<DeviceSpec>) -> Result<Self> {
        if specs.is_empty() {
            bail!("no device given");
        }
        let devices = specs
            .iter()
            .map(DeviceSpec::connect)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { devices, specs })
    }

    /// The device that holds the model (the first).
    pub fn main(&self) -> &Device {
        &self.devices[0]
    }

    /// The single device of a command that cannot split its work.
    pub fn single(&self, command: &str) -> Result<&Device> {
        if self.devices.len() > 1 {
            bail!(
                "`argen {command}` runs on one device; --devices lists {} (data parallelism is for `argen train`)",
                self.devices.len()
            );
        }
        Ok(self.main())
    }

    /// Whether every device is this machine's CPU.
    pub fn is_cpu_only(&self) -> bool {
        self.specs.iter().all(|s| *s == DeviceSpec::Cpu)
    }
}

impl std::fmt::Display for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.specs.iter().map(ToString::to_string).collect();
        write!(f, "{}", names.join(", "))
    }
}

#[cfg(feature = "gpu")]
fn gpu(n: usize) -> Result<Device> {
    use burn::tensor::DeviceType;
    let list = Device::enumerate(DeviceType::Wgpu);
    if list.is_empty() {
        bail!(
            "no Vulkan device found: install a Vulkan driver (the GPU vendor's, or Mesa's: \
             `apt-get install mesa-vulkan-drivers libvulkan1` on Debian)"
        );
    }
    match list.get(n) {
        Some(device) => Ok(device.clone()),
        None => {
            let names: Vec<String> = list
                .iter()
                .enumerate()
                .map(|(i, d)| format!("gpu:{i} = {d:?}"))
                .collect();
            bail!(
                "there is no gpu:{n}; the Vulkan devices are: {}",
                names.join(", ")
            )
        }
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu(_n: usize) -> Result<Device> {
    bail!(
        "this argen was built without GPU support: build it with `cargo build --release --features gpu` \
         (burn's Vulkan backend)"
    )
}

#[cfg(feature = "remote")]
fn remote(url: &str, index: usize) -> Result<Device> {
    use burn::remote::RemoteHost;
    let mut host = RemoteHost::websocket(url);
    if let Some(token) = std::env::var_os(TOKEN_VARIABLE) {
        host = host.with_credential(token.to_string_lossy().into_owned());
    }
    Device::remote_options(&host)
        .device_index(index)
        .init()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot use device {index} of the device server {url}: {e} \
                 (is `argen device-server` running there, and is {TOKEN_VARIABLE} its token?)"
            )
        })
}

#[cfg(not(feature = "remote"))]
fn remote(_url: &str, _index: usize) -> Result<Device> {
    bail!(
        "this argen was built without remote devices: build it with `cargo build --release --features remote`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for (text, spec) in [
            ("cpu", DeviceSpec::Cpu),
            ("gpu", DeviceSpec::Gpu(0)),
            ("gpu:3", DeviceSpec::Gpu(3)),
            (
                "remote:ws://10.0.0.2:3000",
                DeviceSpec::Remote {
                    url: "ws://10.0.0.2:3000".into(),
                    index: 0,
                },
            ),
            (
                "remote:ws://h:1#2",
                DeviceSpec::Remote {
                    url: "ws://h:1".into(),
                    index: 2,
                },
            ),
        ] {
            let parsed = DeviceSpec::parse(text).unwrap();
            assert_eq!(parsed, spec, "{text}");
            assert_eq!(DeviceSpec::parse(&parsed.to_string()).unwrap(), spec);
        }
        for bad in [
            "",
            "tpu",
            "gpu:x",
            "gpu:-1",
            "remote:",
            "remote:http://h:1",
            "remote:ws://h#x",
        ] {
            assert!(DeviceSpec::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(DeviceSpec::parse_list("cpu,cpu").unwrap().len(), 2);
        assert!(DeviceSpec::parse_list("cpu,,cpu").is_err());
    }
}
