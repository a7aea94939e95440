//! The stored item of an index entry: the base item cut down to the index's projection.

use strata_item::{Item, KeySchema};

use crate::def::{GsiDef, Projection};

/// The item an index entry holds for base item `item`: the table's and the index's key
/// attributes always; plus the `INCLUDE` attributes the item has (`INCLUDE`), or every
/// attribute (`ALL`). Its DynamoDB size is [`Item::size`].
///
/// ```
/// use strata_index::{project, GsiDef, Projection};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let base = KeySchema::simple("id", KeyType::S);
/// let def = GsiDef::new("by_city", KeySchema::simple("city", KeyType::S)).projection(Projection::KeysOnly);
/// let it = item! { "id" => "u1", "city" => "Oslo", "age" => 40 };
/// assert_eq!(project(&def, &base, &it), item! { "id" => "u1", "city" => "Oslo" });
/// ```
pub fn project(def: &GsiDef, base: &KeySchema, item: &Item) -> Item {
    if def.projection == Projection::All {
        return item.clone();
    }
    let mut out = Item::new();
    let mut copy = |name: &str| {
        if let Some(v) = item.get(name) {
            out.insert(name, v.clone());
        }
    };
    for a in base.attributes().chain(def.key_schema.attributes()) {
        copy(&a.name);
    }
    for a in def.projection.non_key_attributes() {
        copy(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_item::{KeyType, item};

    #[test]
    fn every_projection() {
        let base = KeySchema::composite("pk", KeyType::S, "sk", KeyType::N);
        let it = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 2, "t" => "title", "o" => 5 };
        let def = GsiDef::new(
            "idx",
            KeySchema::composite("g", KeyType::S, "h", KeyType::N),
        );
        assert_eq!(project(&def, &base, &it), it);
        let keys = def.clone().projection(Projection::KeysOnly);
        let want = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 2 };
        assert_eq!(project(&keys, &base, &it), want);
        let inc = def.projection(Projection::Include(vec!["t".into(), "missing".into()]));
        let want = item! { "pk" => "a", "sk" => 1, "g" => "x", "h" => 2, "t" => "title" };
        let p = project(&inc, &base, &it);
        assert_eq!(p, want);
        assert!(p.size() < it.size());
    }
}
