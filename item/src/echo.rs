//! Bounded echoes of caller input in error messages.
//!
//! Errors name what is wrong, often by quoting the caller's input: a placeholder key, an
//! attribute name, a path, a value. Those can be huge (an attribute name may have 65,535
//! bytes, a path 32 of them, a value 400 KB), and an error must stay small whatever the
//! input. Every error of this crate that quotes caller text goes through this module:
//!
//! - [`shown`] cuts one quoted thing to [`MAX_SHOWN`] bytes;
//! - [`Bounded`] builds longer text (a path, a formatted value) piece by piece and keeps
//!   at most a fixed number of bytes, counting (not storing) the rest, so a path of 32
//!   names of 60 KB is never materialised in full;
//! - `listed` lists at most [`MAX_LISTED`] items of a list and says how many more
//!   there are.
//!
//! Cut text ends with `…(N more bytes)`. Text within the limits is shown unchanged, so
//! messages for inputs of ordinary size keep DynamoDB's exact wording.
//!
//! ```
//! use strata_item::echo::{MAX_SHOWN, shown};
//!
//! assert_eq!(shown("#name"), "#name");
//! let long = "x".repeat(100_000);
//! let s = shown(&long);
//! assert!(s.len() < MAX_SHOWN + 32);
//! assert!(s.ends_with(&format!("…({} more bytes)", 100_000 - MAX_SHOWN)));
//! ```

use std::borrow::Cow;
use std::fmt;

/// Most bytes of one quoted name, key, token or value kept in a message.
pub const MAX_SHOWN: usize = 128;
/// Most bytes of a path (`a.b[3]`, `[a, b, [3]]`) kept in a message.
pub const MAX_PATH_SHOWN: usize = 512;
/// Most bytes of one formatted attribute value (`{S:abc}`) kept in a message.
pub const MAX_VALUE_SHOWN: usize = 256;
/// Most items of a list (such as unused placeholders) named in a message.
pub const MAX_LISTED: usize = 8;

/// The largest index `<= at` that is a char boundary of `s`.
fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn more(omitted: usize) -> String {
    format!("…({omitted} more bytes)")
}

/// `s` as quoted in a message: unchanged if it has at most [`MAX_SHOWN`] bytes, else its
/// first `MAX_SHOWN` bytes (cut at a character boundary) followed by `…(N more bytes)`.
pub fn shown(s: &str) -> Cow<'_, str> {
    shown_within(s, MAX_SHOWN)
}

/// Like [`shown`], keeping at most `max` bytes.
pub fn shown_within(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let cut = floor_boundary(s, max);
    let mut out = String::with_capacity(cut + 24);
    out.push_str(&s[..cut]);
    out.push_str(&more(s.len() - cut));
    Cow::Owned(out)
}

/// [`shown`] as an owned string, for an error field.
pub(crate) fn owned(s: &str) -> String {
    shown(s).into_owned()
}

/// The first [`MAX_LISTED`] of `items`, each cut by [`shown`], for an error field; the
/// caller keeps the full count separately.
pub(crate) fn listed<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().take(MAX_LISTED).map(owned).collect()
}

/// Joins `items` (already cut by [`listed`]) with `", "`, adding `, … and K more` when
/// `total` is larger than the number of items.
pub(crate) fn join_listed(items: &[String], total: usize) -> String {
    let mut s = items.join(", ");
    if total > items.len() {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(&format!("… and {} more", total - items.len()));
    }
    s
}

/// Text built piece by piece that keeps at most `cap` bytes and counts the rest.
///
/// Once something had to be left out, every later piece is only counted, so the text is
/// always a prefix of what an unbounded writer would have produced. [`Bounded::finish`]
/// marks a cut with `…(N more bytes)`, or `…(more)` when a producer stopped early
/// ([`Bounded::stop`]) and the rest was not measured.
///
/// `Bounded` implements [`fmt::Write`], so `write!` works on it; formatting into a full
/// `Bounded` allocates nothing more.
#[derive(Debug, Clone)]
pub struct Bounded {
    text: String,
    cap: usize,
    omitted: usize,
    unmeasured: bool,
}

impl Bounded {
    /// An empty text that keeps at most `cap` bytes.
    pub fn new(cap: usize) -> Bounded {
        Bounded {
            text: String::new(),
            cap,
            omitted: 0,
            unmeasured: false,
        }
    }

    /// Whether something was left out: later pieces are only counted.
    pub fn is_full(&self) -> bool {
        self.omitted > 0 || self.unmeasured || self.text.len() >= self.cap
    }

    /// Appends `s`, or as much of it as fits.
    pub fn push_str(&mut self, s: &str) {
        if self.omitted > 0 || self.unmeasured {
            self.omitted = self.omitted.saturating_add(s.len());
            return;
        }
        let room = self.cap.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let cut = floor_boundary(s, room);
            self.text.push_str(&s[..cut]);
            self.omitted = s.len() - cut;
        }
    }

    /// Appends one name of a path, itself cut by [`shown`] so that a path of long names
    /// still shows its first few names.
    pub fn push_name(&mut self, name: &str) {
        if self.is_full() {
            self.push_str(name);
        } else {
            self.push_str(&shown(name));
        }
    }

    /// Records that `bytes` bytes of text were left out here without being written.
    pub fn skip(&mut self, bytes: usize) {
        if bytes > 0 {
            self.omitted = self.omitted.saturating_add(bytes);
        }
    }

    /// Records that the producer stops here without measuring what it leaves out.
    pub fn stop(&mut self) {
        self.unmeasured = true;
    }

    /// The text, with `…(N more bytes)` (or `…(more)`) if something was left out.
    pub fn finish(mut self) -> String {
        if self.unmeasured {
            self.text.push_str("…(more)");
        } else if self.omitted > 0 {
            self.text.push_str(&more(self.omitted));
        }
        self.text
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// `value`'s `Display` (or any formatting) as quoted in a message, cut at `max` bytes;
/// never holds more than `max` bytes of it in memory.
pub(crate) fn display_within(value: impl fmt::Display, max: usize) -> String {
    use fmt::Write as _;
    let mut b = Bounded::new(max);
    // Writing into a `Bounded` never fails.
    let _ = write!(b, "{value}");
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert!(matches!(shown("abc"), Cow::Borrowed("abc")));
        let exact = "y".repeat(MAX_SHOWN);
        assert_eq!(shown(&exact), exact);
        let mut b = Bounded::new(10);
        b.push_str("ab");
        b.push_name("cd");
        assert_eq!(b.finish(), "abcd");
        assert_eq!(join_listed(&["a".into(), "b".into()], 2), "a, b");
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let s = format!("a{}", "é".repeat(200));
        let cut = shown(&s);
        let head = cut.split('…').next().unwrap();
        assert!(head.len() <= MAX_SHOWN);
        assert!(s.starts_with(head));
        assert_eq!(cut, format!("{head}…({} more bytes)", s.len() - head.len()));
    }

    #[test]
    fn bounded_keeps_a_prefix_and_counts_the_rest() {
        let mut b = Bounded::new(8);
        b.push_str("abcdef");
        b.push_str("ghij");
        b.push_str("k");
        assert!(b.is_full());
        assert_eq!(b.finish(), "abcdefgh…(3 more bytes)");

        let mut b = Bounded::new(1000);
        b.push_name(&"n".repeat(60_000));
        b.push_str(".");
        b.push_name("m");
        let s = b.finish();
        assert!(s.starts_with(&"n".repeat(MAX_SHOWN)));
        assert!(s.ends_with(".m"), "{s}");

        let mut b = Bounded::new(4);
        b.push_str("ab");
        b.stop();
        b.push_str("cd");
        assert_eq!(b.finish(), "ab…(more)");
        assert_eq!(display_within(123_456, 3), "123…(3 more bytes)");
    }

    #[test]
    fn lists_name_a_few_and_count_the_rest() {
        let keys: Vec<String> = (0..20).map(|i| format!(":k{i}")).collect();
        let shown = listed(keys.iter().map(String::as_str));
        assert_eq!(shown.len(), MAX_LISTED);
        let s = join_listed(&shown, keys.len());
        assert!(s.starts_with(":k0, :k1, "), "{s}");
        assert!(s.ends_with(", … and 12 more"), "{s}");
    }
}
