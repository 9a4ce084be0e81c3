//! Consistency tokens: how far a replica's entities have come, and what a
//! client may ask it to have reached before it decides ("read your
//! writes").
//!
//! With files and a change log the position is a revision number (the
//! base's revision plus the transactions applied since), and a token is
//! such a number. With PostgreSQL the position is the database snapshot
//! the replica's entities were read at (PostgreSQL's own `pg_snapshot`
//! text, `xmin:xmax:xip,…`), and a token is either a transaction id — what
//! a writer reads with `pg_current_xact_id()` before it commits — reached
//! once that transaction is visible in the replica's snapshot, or a
//! snapshot (what an answer carries), reached once everything visible in
//! it is visible in the replica's.

use std::fmt;

/// A database snapshot: transactions below `xmin` are finished, those from
/// `xmax` on had not started, and those listed in `xip` were in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbSnapshot {
    /// The oldest transaction still in progress.
    pub xmin: u64,
    /// One past the newest transaction finished.
    pub xmax: u64,
    /// The transactions in progress, in order.
    pub xip: Vec<u64>,
}

impl DbSnapshot {
    /// Reads PostgreSQL's text form, `xmin:xmax:xip,…`.
    pub fn parse(text: &str) -> Option<DbSnapshot> {
        let mut parts = text.trim().split(':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let list = parts.next()?;
        if parts.next().is_some() || xmin > xmax {
            return None;
        }
        let mut xip: Vec<u64> = if list.is_empty() {
            Vec::new()
        } else {
            list.split(',')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?
        };
        xip.sort_unstable();
        if xip.iter().any(|&x| x < xmin || x >= xmax) {
            return None;
        }
        Some(DbSnapshot { xmin, xmax, xip })
    }

    /// Whether transaction `xid`, if it committed, is visible in this
    /// snapshot (`pg_visible_in_snapshot`).
    pub fn sees(&self, xid: u64) -> bool {
        xid < self.xmin || (xid < self.xmax && self.xip.binary_search(&xid).is_err())
    }

    /// Whether every transaction visible in `other` is visible in this one.
    pub fn includes(&self, other: &DbSnapshot) -> bool {
        if other.xmax > self.xmax {
            // Transactions from our xmax on are not seen here: `other`
            // must have had every one of them still in progress.
            let gap = other.xmax - self.xmax;
            let running = other.xip.iter().filter(|&&x| x >= self.xmax).count();
            if u64::try_from(running).unwrap_or(u64::MAX) != gap {
                return false;
            }
        }
        // Everything `other` saw below its xmax must be finished here.
        self.xip
            .iter()
            .filter(|&&x| x < other.xmax)
            .all(|x| other.xip.binary_search(x).is_ok())
    }
}

impl fmt::Display for DbSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.xmin, self.xmax)?;
        for (i, x) in self.xip.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

/// How far a replica's entities have come.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// Revisions made (with a change log: the base's revision and the
    /// transactions applied since).
    pub revision: u64,
    /// With PostgreSQL, the snapshot the entities were read at.
    pub snapshot: Option<DbSnapshot>,
}

impl Position {
    /// The token an answer carries: the snapshot, or the revision.
    pub fn token(&self) -> String {
        match &self.snapshot {
            Some(s) => s.to_string(),
            None => self.revision.to_string(),
        }
    }

    /// Whether this position has reached `wanted`.
    pub fn reached(&self, wanted: &Token) -> bool {
        match (wanted, &self.snapshot) {
            (Token::Number(n), None) => self.revision >= *n,
            (Token::Number(xid), Some(s)) => s.sees(*xid),
            (Token::Snapshot(w), Some(s)) => s.includes(w),
            // Refused when read (`Token::read`).
            (Token::Snapshot(_), None) => false,
        }
    }
}

/// What a request asks the replica to have reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A revision (files), or a transaction id (PostgreSQL).
    Number(u64),
    /// A database snapshot, as answers carry it.
    Snapshot(DbSnapshot),
}

impl Token {
    /// Reads a token; `database` says whether the entities come from
    /// PostgreSQL (where a snapshot is a token too).
    pub fn read(text: &str, database: bool) -> Result<Token, String> {
        let text = text.trim();
        if let Ok(n) = text.parse::<u64>() {
            return Ok(Token::Number(n));
        }
        match DbSnapshot::parse(text) {
            Some(s) if database => Ok(Token::Snapshot(s)),
            Some(_) => Err(format!(
                "`{text}` is a database snapshot, but this server's entities come from files: its tokens are revision numbers"
            )),
            None if database => Err(format!(
                "`{text}` is no consistency token: give a transaction id (`SELECT pg_current_xact_id()` before COMMIT) or the `entity_revision` of an answer"
            )),
            None => Err(format!(
                "`{text}` is no entity revision token (a token is what `entity_revision` answers)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(text: &str) -> DbSnapshot {
        DbSnapshot::parse(text).unwrap()
    }

    #[test]
    fn snapshots_read_and_print_as_postgresql_does() {
        assert_eq!(snap("10:20:12,15").to_string(), "10:20:12,15");
        assert_eq!(snap("10:10:").to_string(), "10:10:");
        assert!(DbSnapshot::parse("10:5:").is_none());
        assert!(DbSnapshot::parse("10:20:25").is_none());
        assert!(DbSnapshot::parse("x:20:").is_none());
    }

    #[test]
    fn visibility_follows_pg_visible_in_snapshot() {
        let s = snap("10:20:12,15");
        assert!(s.sees(9) && s.sees(10) && s.sees(11) && s.sees(19));
        assert!(!s.sees(12) && !s.sees(15) && !s.sees(20) && !s.sees(25));
    }

    #[test]
    fn a_later_snapshot_includes_an_earlier_one() {
        let early = snap("10:20:12,15");
        let later = snap("15:25:15,21");
        assert!(later.includes(&early));
        assert!(!early.includes(&later));
        // 12 committed after `early`; a snapshot that still has it in
        // progress does not include one where it is finished.
        let a = snap("12:22:12");
        let b = snap("14:22:");
        assert!(b.includes(&a) && !a.includes(&b));
        assert!(a.includes(&a));
        // A later xmax whose extra transactions were all in progress.
        assert!(snap("10:20:").includes(&snap("10:22:20,21")));
        assert!(!snap("10:20:").includes(&snap("10:22:21")));
    }

    #[test]
    fn tokens_are_read_for_their_source() {
        assert_eq!(Token::read("42", false), Ok(Token::Number(42)));
        assert!(Token::read("1:2:", false).is_err());
        assert!(Token::read("1:2:", true).is_ok());
        assert!(Token::read("abc", true).is_err());
        let p = Position {
            revision: 3,
            snapshot: Some(snap("10:20:12")),
        };
        assert!(p.reached(&Token::Number(11)) && !p.reached(&Token::Number(12)));
        assert_eq!(p.token(), "10:20:12");
    }
}
