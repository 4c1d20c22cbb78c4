//! Access levels (`none < read < read_write < read_write_delete`) and the
//! organisation-wide default access of a protected table.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    None = 0,
    Read = 1,
    ReadWrite = 2,
    ReadWriteDelete = 3,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::None,
        Level::Read,
        Level::ReadWrite,
        Level::ReadWriteDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Read => "read",
            Level::ReadWrite => "read_write",
            Level::ReadWriteDelete => "read_write_delete",
        }
    }

    pub fn rank(self) -> i32 {
        self as i32
    }

    pub fn from_rank(rank: i32) -> Level {
        match rank {
            i32::MIN..=0 => Level::None,
            1 => Level::Read,
            2 => Level::ReadWrite,
            _ => Level::ReadWriteDelete,
        }
    }

    /// The level a child row gets from its parent's level ("controlled by
    /// parent"): read stays read, any write access becomes full access.
    pub fn for_child(parent: Level) -> Level {
        match parent {
            Level::None => Level::None,
            Level::Read => Level::Read,
            Level::ReadWrite | Level::ReadWriteDelete => Level::ReadWriteDelete,
        }
    }

    /// The parent level a child row needs to reach `self`.
    pub fn parent_level_needed(self) -> Level {
        match self {
            Level::None => Level::None,
            Level::Read => Level::Read,
            Level::ReadWrite | Level::ReadWriteDelete => Level::ReadWrite,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    /// Parses a grantable level (`read`, `read_write`, `read_write_delete`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Level::Read),
            "read_write" => Ok(Level::ReadWrite),
            "read_write_delete" => Ok(Level::ReadWriteDelete),
            _ => Err(format!(
                "invalid access \"{s}\": expected read, read_write or read_write_delete"
            )),
        }
    }
}

/// Organisation-wide default access of a protected table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultAccess {
    Private,
    PublicRead,
    PublicReadWrite,
    PublicReadWriteDelete,
}

impl DefaultAccess {
    pub const ALL: [DefaultAccess; 4] = [
        DefaultAccess::Private,
        DefaultAccess::PublicRead,
        DefaultAccess::PublicReadWrite,
        DefaultAccess::PublicReadWriteDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DefaultAccess::Private => "private",
            DefaultAccess::PublicRead => "public_read",
            DefaultAccess::PublicReadWrite => "public_read_write",
            DefaultAccess::PublicReadWriteDelete => "public_read_write_delete",
        }
    }

    /// The level every active user has on every record of the table.
    pub fn level(self) -> Level {
        match self {
            DefaultAccess::Private => Level::None,
            DefaultAccess::PublicRead => Level::Read,
            DefaultAccess::PublicReadWrite => Level::ReadWrite,
            DefaultAccess::PublicReadWriteDelete => Level::ReadWriteDelete,
        }
    }
}

impl FromStr for DefaultAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DefaultAccess::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "invalid default access \"{s}\": expected private, public_read, \
                     public_read_write or public_read_write_delete"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Level::None < Level::Read);
        assert!(Level::Read < Level::ReadWrite);
        assert!(Level::ReadWrite < Level::ReadWriteDelete);
        for l in Level::ALL {
            assert_eq!(Level::from_rank(l.rank()), l);
        }
    }

    #[test]
    fn child_level_follows_parent() {
        assert_eq!(Level::for_child(Level::Read), Level::Read);
        assert_eq!(Level::for_child(Level::ReadWrite), Level::ReadWriteDelete);
        for child in Level::ALL {
            for parent in Level::ALL {
                assert_eq!(
                    Level::for_child(parent) >= child,
                    parent >= child.parent_level_needed()
                );
            }
        }
    }

    #[test]
    fn parsing_names_the_bad_value() {
        assert_eq!("read_write".parse::<Level>(), Ok(Level::ReadWrite));
        assert!("none".parse::<Level>().unwrap_err().contains("\"none\""));
        assert_eq!(
            "public_read".parse::<DefaultAccess>(),
            Ok(DefaultAccess::PublicRead)
        );
        assert!("open"
            .parse::<DefaultAccess>()
            .unwrap_err()
            .contains("\"open\""));
    }
}
