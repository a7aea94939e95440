//! Dropping expression trees without recursion.
//!
//! `Condition`, `Operand`, `UpdateOperand` and the parser's raw conditions are trees a
//! caller (or a 4 KB expression of 1,000 `NOT`s) can make arbitrarily deep. The compiler's
//! drop glue would recurse once per level; instead each of these types implements
//! `Drop` by detaching its boxed children onto a heap stack ([`drop_iteratively`]), so
//! the glue only ever drops nodes whose children were already taken.

/// A tree node that can hand over its boxed children, leaving cheap leaves in their place.
pub(crate) trait Detach: Sized {
    /// Whether the node has boxed children worth detaching.
    fn has_children(&self) -> bool;
    /// Moves the node's children that have children of their own onto `out`.
    fn detach_children(&mut self, out: &mut Vec<Self>);
}

/// The body of `Drop::drop` for a [`Detach`] tree.
pub(crate) fn drop_iteratively<T: Detach>(root: &mut T) {
    if !root.has_children() {
        return;
    }
    let mut stack = Vec::new();
    root.detach_children(&mut stack);
    while let Some(mut node) = stack.pop() {
        node.detach_children(&mut stack);
        // `node` drops here, its children already detached.
    }
}

/// Takes `*slot` if it has children, leaving `leaf` in its place.
pub(crate) fn take_if_deep<T: Detach>(slot: &mut T, leaf: impl FnOnce() -> T, out: &mut Vec<T>) {
    if slot.has_children() {
        out.push(std::mem::replace(slot, leaf()));
    }
}
