//! The enrollment settings an installer types (hub URL, pairing code, optional CA), and
//! writing them as `enroll.toml` (plus `hub-ca.pem`) into the FAT partition named
//! `config`, without mounting it (docs/enrollment.md, "The code file and the config
//! partition").

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{FlashError, Result};

/// The pairing-code alphabet of docs/enrollment.md: no 0/O, 1/I/L look-alikes.
/// (`crates/node-identity` will own this; the lead may switch to it.)
const CODE_ALPHABET: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A pairing code in its display form, `K7QM-3XPD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingCode(String);

impl PairingCode {
    /// Ignores case, spaces and dashes; anything else, or not 8 characters, is refused.
    pub fn parse(input: &str) -> Result<PairingCode> {
        let bad = || FlashError::BadCode(input.to_owned());
        let mut chars = String::with_capacity(8);
        for c in input.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')) {
            let c = c.to_ascii_uppercase();
            if !CODE_ALPHABET.contains(c) {
                return Err(bad());
            }
            chars.push(c);
        }
        if chars.len() != 8 {
            return Err(bad());
        }
        Ok(PairingCode(format!("{}-{}", &chars[..4], &chars[4..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hub base URL: `https://` (or `http://` for development), a host, no characters that
/// would need escaping in TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUrl(String);

impl HubUrl {
    pub fn parse(input: &str) -> Result<HubUrl> {
        let bad = || FlashError::BadHub(input.to_owned());
        let rest = input
            .strip_prefix("https://")
            .or_else(|| input.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let clean = |c: char| c.is_ascii_graphic() && !matches!(c, '"' | '\\');
        if host.is_empty() || host.starts_with(':') || !input.chars().all(clean) {
            return Err(bad());
        }
        Ok(HubUrl(input.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What goes on the config partition.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub hub: HubUrl,
    pub code: PairingCode,
    /// The PEM text of a private hub's CA, written as `hub-ca.pem`.
    pub ca_pem: Option<Vec<u8>>,
}

pub const CA_FILE_NAME: &str = "hub-ca.pem";

impl Enrollment {
    pub fn read_ca(path: &Path) -> Result<Vec<u8>> {
        let pem = std::fs::read(path).map_err(FlashError::io("read the CA file", path))?;
        let text = String::from_utf8_lossy(&pem);
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(FlashError::BadCaFile(path.to_path_buf()));
        }
        Ok(pem)
    }

    pub fn toml(&self) -> String {
        let mut out = String::from(
            "# Written by store-flash. The node enrolls with this code at first boot, then deletes this file.\n",
        );
        out.push_str(&format!("hub = \"{}\"\n", self.hub.as_str()));
        out.push_str(&format!("code = \"{}\"\n", self.code.as_str()));
        if self.ca_pem.is_some() {
            out.push_str(&format!("ca_file = \"{CA_FILE_NAME}\"\n"));
        }
        out
    }

    /// Writes `enroll.toml` (and `hub-ca.pem`) into the FAT filesystem that occupies
    /// `len` bytes at `offset` of `device`.
    pub fn write_to_partition(&self, device: &mut File, offset: u64, len: u64) -> Result<()> {
        let slice = PartitionSlice {
            file: device,
            start: offset,
            len,
            pos: 0,
        };
        let fs = fatfs::FileSystem::new(slice, fatfs::FsOptions::new())
            .map_err(FlashError::ConfigFilesystem)?;
        {
            let root = fs.root_dir();
            write_file(&root, "enroll.toml", self.toml().as_bytes())
                .map_err(FlashError::ConfigFilesystem)?;
            if let Some(pem) = &self.ca_pem {
                write_file(&root, CA_FILE_NAME, pem).map_err(FlashError::ConfigFilesystem)?;
            }
        }
        fs.unmount().map_err(FlashError::ConfigFilesystem)?;
        Ok(())
    }
}

fn write_file<T: fatfs::ReadWriteSeek>(
    root: &fatfs::Dir<'_, T>,
    name: &str,
    bytes: &[u8],
) -> io::Result<()> {
    let mut file = root.create_file(name)?;
    file.truncate()?;
    file.write_all(bytes)?;
    file.flush()
}

/// A window of a disk: what fatfs sees as its whole device.
struct PartitionSlice<'a> {
    file: &'a mut File,
    start: u64,
    len: u64,
    pos: u64,
}

impl PartitionSlice<'_> {
    fn remaining(&self, want: usize) -> usize {
        self.len.saturating_sub(self.pos).min(want as u64) as usize
    }
}

impl Read for PartitionSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.remaining(buf.len());
        if n == 0 {
            return Ok(0);
        }
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let read = self.file.read(&mut buf[..n])?;
        self.pos += read as u64;
        Ok(read)
    }
}

impl Write for PartitionSlice<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.remaining(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the partition",
            ));
        }
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let written = self.file.write(&buf[..n])?;
        self.pos += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for PartitionSlice<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) if n <= self.len => {
                self.pos = n;
                Ok(n)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the partition",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_to_the_display_form() {
        for input in ["K7QM-3XPD", "k7qm3xpd", " k7qm 3xpd ", "K7-QM-3X-PD"] {
            assert_eq!(PairingCode::parse(input).unwrap().as_str(), "K7QM-3XPD");
        }
    }

    #[test]
    fn look_alikes_wrong_lengths_and_other_characters_are_refused() {
        for input in [
            "K7QM-3XP0",
            "K7QM-3XPO",
            "K7QM-3XPI",
            "K7QM-3XP1",
            "K7QM-3XPL",
            "K7QM-3XP",
            "K7QM-3XPDD",
            "",
            "K7QM_3XPD",
            "K7QM-3XPÉ",
        ] {
            assert!(
                matches!(PairingCode::parse(input), Err(FlashError::BadCode(_))),
                "{input:?} accepted"
            );
        }
    }

    #[test]
    fn hub_urls_are_http_or_https_with_a_host() {
        assert_eq!(
            HubUrl::parse("https://hub.example.com/").unwrap().as_str(),
            "https://hub.example.com"
        );
        assert!(HubUrl::parse("http://10.0.2.2:8080").is_ok());
        for bad in [
            "hub.example.com",
            "ftp://x",
            "https://",
            "https://a\"b",
            "https://a b",
            "https://:80",
        ] {
            assert!(HubUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn enroll_toml_follows_the_contract() {
        let e = Enrollment {
            hub: HubUrl::parse("https://hub.example.com").unwrap(),
            code: PairingCode::parse("k7qm3xpd").unwrap(),
            ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
        };
        let toml = e.toml();
        assert!(toml.contains("hub = \"https://hub.example.com\"\n"));
        assert!(toml.contains("code = \"K7QM-3XPD\"\n"));
        assert!(toml.contains("ca_file = \"hub-ca.pem\"\n"));
    }
}
