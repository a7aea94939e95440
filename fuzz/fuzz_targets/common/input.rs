//! The fuzzer's bytes read one at a time by the operation-sequence targets
//! (`tree_ops`, `gsi_ops`, `table_ops`); each target adds its own readers
//! (keys, items, conditions) in an `impl Input` of its own.

pub struct Input<'a>(pub &'a [u8]);

impl Input<'_> {
    /// The next byte; `None` when the input is used up.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
}
