//! Menu pictures: the answer to an upload, and the naming rule both servers
//! share. A picture is named by the SHA-256 of its bytes and its kind
//! (`<sha256>.<ext>`) and served at `/api/v1/public/images/<name>`, by the hub
//! to everyone and by a store node for the pictures its menu names, so a menu
//! item's `image` works from the customer app (at the hub) and from the kiosk
//! (at the node, with the internet down) alike.
//!
//! ```
//! use api_types::hub::images::{ImageKind, ImageName};
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
//! assert_eq!(ImageKind::sniff(png), Some(ImageKind::Png));
//! assert_eq!(ImageKind::from_content_type("image/PNG; q=1"), Some(ImageKind::Png));
//! let url = format!("/api/v1/public/images/{}.png", "ab".repeat(32));
//! let name = ImageName::from_url(&url).unwrap();
//! assert_eq!((name.kind, name.url()), (ImageKind::Png, url));
//! assert!(ImageName::parse("../etc/passwd").is_none());
//! ```

use serde::{Deserialize, Serialize};

/// Where both servers serve pictures: this, then the picture's name.
pub const PUBLIC_PREFIX: &str = "/api/v1/public/images/";

/// A picture the hub keeps, named by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredImage {
    /// Where browsers fetch it, relative to the hub (and to a store node, which
    /// serves the pictures its menu names at the same path):
    /// `/api/v1/public/images/<sha256>.<ext>`. Put it in a menu item's `image`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "/api/v1/public/images/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.png"
        )
    )]
    pub url: String,
    /// The SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The kinds of picture the servers take: what every browser shows, and none
/// that can carry script (no SVG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    pub const ALL: [ImageKind; 3] = [ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp];

    /// The kind a `Content-Type` names (parameters and case ignored); None for any other type.
    pub fn from_content_type(value: &str) -> Option<ImageKind> {
        let essence = value.split(';').next().unwrap_or("").trim();
        ImageKind::ALL
            .into_iter()
            .find(|k| k.content_type().eq_ignore_ascii_case(essence))
    }

    /// The kind a file extension names (`jpg`, `png`, `webp`).
    pub fn from_ext(ext: &str) -> Option<ImageKind> {
        ImageKind::ALL.into_iter().find(|k| k.ext() == ext)
    }

    /// What the first bytes say the picture is: JPEG `FF D8 FF`, PNG's
    /// eight-byte signature, WebP `RIFF....WEBP`.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }

    /// The kind in words, for messages people read.
    pub fn label(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "JPEG",
            ImageKind::Png => "PNG",
            ImageKind::Webp => "WebP",
        }
    }
}

/// A picture's name: `<sha256 as 64 lowercase hex digits>.<ext>`. Nothing else
/// parses, so a name is always safe as a file name and a URL segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    pub sha256: String,
    pub kind: ImageKind,
}

impl ImageName {
    pub fn new(sha256: String, kind: ImageKind) -> ImageName {
        ImageName { sha256, kind }
    }

    pub fn parse(name: &str) -> Option<ImageName> {
        let (sha, ext) = name.split_once('.')?;
        let hex = sha.len() == 64
            && sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return None;
        }
        Some(ImageName {
            sha256: sha.to_owned(),
            kind: ImageKind::from_ext(ext)?,
        })
    }

    /// The name in a picture's URL (`/api/v1/public/images/<name>`); None for any other URL.
    pub fn from_url(url: &str) -> Option<ImageName> {
        ImageName::parse(url.strip_prefix(PUBLIC_PREFIX)?)
    }

    /// `<sha256>.<ext>`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, self.kind.ext())
    }

    /// `/api/v1/public/images/<sha256>.<ext>`.
    pub fn url(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", self.file_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_only_in_their_one_form() {
        let sha = "0123456789abcdef".repeat(4);
        for (name, ok) in [
            (format!("{sha}.png"), true),
            (format!("{sha}.jpg"), true),
            (format!("{sha}.webp"), true),
            (format!("{sha}.jpeg"), false),
            (format!("{sha}.svg"), false),
            (format!("{}.png", sha.to_uppercase()), false),
            (format!("{}.png", &sha[1..]), false),
            (format!("{sha}0.png"), false),
            (format!("{sha}.png.png"), false),
            (sha.clone(), false),
            ("x".into(), false),
        ] {
            assert_eq!(ImageName::parse(&name).is_some(), ok, "{name}");
        }
        let n = ImageName::parse(&format!("{sha}.webp")).unwrap();
        assert_eq!(n.kind, ImageKind::Webp);
        assert_eq!(ImageName::from_url(&n.url()), Some(n.clone()));
        assert_eq!(ImageName::from_url(&format!("/elsewhere/{sha}.webp")), None);
    }

    #[test]
    fn kinds_come_from_their_bytes_and_types() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(ImageKind::sniff(b"<svg xmlns="), None);
        assert_eq!(ImageKind::sniff(b""), None);
        assert_eq!(
            ImageKind::from_content_type("image/jpeg"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::from_content_type(" image/webp ;charset=x"),
            Some(ImageKind::Webp)
        );
        assert_eq!(ImageKind::from_content_type("image/svg+xml"), None);
        assert_eq!(ImageKind::from_content_type("image/jpg"), None);
    }
}
