//! Byte counts as people read them: `7.5 GiB (8053063680 bytes)`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    /// The short form alone, e.g. `7.5 GiB`, for tables and progress lines.
    pub fn short(self) -> String {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            format!("{} B", self.0)
        } else if value >= 100.0 {
            format!("{value:.0} {}", UNITS[unit])
        } else {
            format!("{value:.1} {}", UNITS[unit])
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.short(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn sizes_read_like_people_say_them() {
        assert_eq!(Size(512).short(), "512 B");
        assert_eq!(Size(4 << 20).short(), "4.0 MiB");
        assert_eq!(
            Size(8_053_063_680).to_string(),
            "7.5 GiB (8053063680 bytes)"
        );
        assert_eq!(Size(512 << 30).short(), "512 GiB");
    }
}
