#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every validation error of every expression kind, with DynamoDB's message.
//!
//! Most cases come from the error cases DynamoDB is known to report (as recorded
//! by DynamoDB emulators that were checked against the service).

use std::collections::HashMap;

use strata_item::expr::{ExprError, ExprKind, Substitutions};
use strata_item::{AttributeValue as AV, Number};

fn n(s: &str) -> AV {
    AV::N(Number::parse(s).unwrap())
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values(pairs: &[(&str, AV)]) -> HashMap<String, AV> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Parses `expr` as `kind` (key conditions against key `a`, sort key `b`) and
/// returns the error message.
fn error(
    kind: ExprKind,
    expr: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AV>,
) -> String {
    let mut subs = Substitutions::new(names, values);
    let r = match kind {
        ExprKind::Condition => subs.parse_condition(expr).map(|_| ()),
        ExprKind::Filter => subs.parse_filter(expr).map(|_| ()),
        ExprKind::KeyCondition => subs.parse_key_condition(expr, "a", Some("b")).map(|_| ()),
        ExprKind::Update => subs.parse_update(expr).map(|_| ()),
        ExprKind::Projection => subs.parse_projection(expr).map(|_| ()),
    };
    match r {
        Ok(()) => panic!("{kind} {expr:?}: expected an error"),
        Err(e) => e.to_string(),
    }
}

fn filter_err(expr: &str) -> String {
    error(ExprKind::Filter, expr, &HashMap::new(), &HashMap::new())
}

const F: &str = "Invalid FilterExpression: ";

#[test]
fn empty_and_too_long() {
    let none = HashMap::new();
    let nov = HashMap::new();
    for kind in [
        ExprKind::Condition,
        ExprKind::Filter,
        ExprKind::KeyCondition,
        ExprKind::Update,
        ExprKind::Projection,
    ] {
        assert_eq!(
            error(kind, "", &none, &nov),
            format!("Invalid {kind}: The expression can not be empty;")
        );
        assert_eq!(
            error(kind, " \n\t", &none, &nov),
            format!("Invalid {kind}: The expression can not be empty;")
        );
        let long = format!("a{}", ".b".repeat(2048));
        assert_eq!(
            error(kind, &long, &none, &nov),
            format!(
                "Invalid {kind}: Expression size has exceeded the maximum allowed size; expression size: 4097"
            )
        );
    }
}

#[test]
fn syntax_errors_quote_the_token_and_its_neighbours() {
    let cases = [
        ("a > 4", "4", "> 4"),
        ("a >", "<EOF>", ">"),
        ("things are not gonna be ok", "are", "things are not"),
        ("attribute_type()", ")", "()"),
        ("a in (b,c,)", ")", ",)"),
        ("a in b", "b", "in b"),
        ("a > between", "between", "> between"),
        ("ü > a", "ü", "ü >"),
        ("#$.b > a", "#", "#$"),
        ("a = :v AND", "<EOF>", "AND"),
        ("(a = :v", "<EOF>", ":v"),
        ("a = :v)", ")", ":v)"),
        ("a.:a < b", ":a", ".:a <"),
        ("size(a)[0] > a", "[", ")[0"),
    ];
    for (expr, token, near) in cases {
        assert_eq!(
            filter_err(expr),
            format!("{F}Syntax error; token: \"{token}\", near: \"{near}\""),
            "{expr}"
        );
    }
}

#[test]
fn condition_semantic_errors() {
    let cases: &[(&str, &str)] = &[
        // Redundant parentheses.
        (
            "a=a and a > ((views))",
            "The expression has redundant parentheses;",
        ),
        (
            "(a)between(((b.c)).d)and(c)",
            "The expression has redundant parentheses;",
        ),
        (
            "a > whatever((:things), ((a)))",
            "The expression has redundant parentheses;",
        ),
        (
            "a=a AND ((a=a AND a=a)) AND a=a",
            "The expression has redundant parentheses;",
        ),
        (
            "a=a OR ((a=a OR (a=a OR a=a)))",
            "The expression has redundant parentheses;",
        ),
        // Unknown functions (names are case-sensitive).
        (
            "a=a and whatever((:things)) > a",
            "Invalid function name; function: whatever",
        ),
        (
            "attRIbute_exIsts((views), #a)",
            "Invalid function name; function: attRIbute_exIsts",
        ),
        (
            "a = if_not_exists(a, :b)",
            "The function is not allowed in a condition expression; function: if_not_exists",
        ),
        // Functions used where a value is needed, or size() as a condition.
        (
            "a=a and attribute_exists((views), (#a)) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "attribute_not_exists(things) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_not_exists",
        ),
        (
            "attribute_type(things, :a) > b",
            "The function is not allowed to be used this way in an expression; function: attribute_type",
        ),
        (
            "begins_with(things, a) > b",
            "The function is not allowed to be used this way in an expression; function: begins_with",
        ),
        (
            "contains(:things, c) > b",
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        (
            "size(contains(a, b)) > a",
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        (
            "size(things)",
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "a between b and attribute_exists(things)",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "a in (b, attribute_exists(things))",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        // Reserved words.
        (
            "attribute_exists(views, #a)",
            "Attribute name is a reserved keyword; reserved keyword: views",
        ),
        (
            ":a < abOrT",
            "Attribute name is a reserved keyword; reserved keyword: abOrT",
        ),
        (
            "a.name = b",
            "Attribute name is a reserved keyword; reserved keyword: name",
        ),
        // Undefined placeholders.
        (
            "attribute_exists(#Pictures.RearView, :a) and a=a",
            "An expression attribute name used in the document path is not defined; attribute name: #Pictures",
        ),
        (
            "begins_with(Pictures.#RearView)",
            "An expression attribute name used in the document path is not defined; attribute name: #RearView",
        ),
        (
            "(#P between :lo and :hi) and (#PC in (:cat1, :cat2))",
            "An expression attribute name used in the document path is not defined; attribute name: #P",
        ),
        (
            "#4g > a",
            "An expression attribute name used in the document path is not defined; attribute name: #4g",
        ),
        (
            "#_ > a",
            "An expression attribute name used in the document path is not defined; attribute name: #_",
        ),
        (
            "(a)between(b.c[45].#d)and(:a)",
            "An expression attribute name used in the document path is not defined; attribute name: #d",
        ),
        (
            "begins_with(:hello, a, b)",
            "An expression attribute value used in expression is not defined; attribute value: :hello",
        ),
        (
            ":a < :b",
            "An expression attribute value used in expression is not defined; attribute value: :a",
        ),
        (
            ":_ > a",
            "An expression attribute value used in expression is not defined; attribute value: :_",
        ),
        // Operand counts.
        (
            "attribute_exists(things, a) and a=a",
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "attribute_not_exists(things, b)",
            "Incorrect number of operands for operator or function; operator or function: attribute_not_exists, number of operands: 2",
        ),
        (
            "attribute_type(things)",
            "Incorrect number of operands for operator or function; operator or function: attribute_type, number of operands: 1",
        ),
        (
            "begins_with(things)",
            "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
        ),
        (
            "begins_with(things, size(a), b)",
            "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 3",
        ),
        (
            "contains(things)",
            "Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1",
        ),
        (
            "size(things, a) > b",
            "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
        ),
        // The same path on both sides.
        (
            "a = a AND b = c",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            "a.b[1] <> a.b[1]",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: <>, first operand: [a, b, [1]]",
        ),
        (
            "((a=a) OR (a=a))",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            "contains(ab.bc[1].a, ab.bc[1].a)",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [ab, bc, [1], a]",
        ),
        (
            "begins_with(x, x)",
            "The first operand must be distinct from the remaining operands for this operator or function; operator: begins_with, first operand: [x]",
        ),
    ];
    for (expr, msg) in cases {
        assert_eq!(filter_err(expr), format!("{F}{msg}"), "{expr}");
    }
}

#[test]
fn condition_operand_types() {
    let t = "Incorrect operand type for operator or function; operator or function:";
    let typed: Vec<(&str, AV)> = vec![
        ("N", n("1")),
        ("B", AV::B(b"a".to_vec())),
        ("BOOL", true.into()),
        ("NULL", AV::Null),
        ("L", AV::L(vec![])),
        ("M", AV::M(Default::default())),
        ("SS", AV::string_set(["1"])),
        ("NS", AV::Ns([Number::from(1)].into())),
        ("BS", AV::Bs([b"a".to_vec()].into())),
    ];
    for (tn, v) in &typed {
        let vals = values(&[(":a", v.clone())]);
        assert_eq!(
            error(
                ExprKind::Filter,
                "attribute_type(a, :a)",
                &HashMap::new(),
                &vals
            ),
            format!("{F}{t} attribute_type, operand type: {tn}")
        );
        if *tn != "B" {
            for expr in ["begins_with(a, :a)", "begins_with(:a, a)"] {
                assert_eq!(
                    error(ExprKind::Filter, expr, &HashMap::new(), &vals),
                    format!("{F}{t} begins_with, operand type: {tn}"),
                    "{expr} {tn}"
                );
            }
        }
        if matches!(*tn, "N" | "BOOL" | "NULL") {
            assert_eq!(
                error(ExprKind::Filter, "size(:a) > a", &HashMap::new(), &vals),
                format!("{F}{t} size, operand type: {tn}")
            );
        }
    }
    let one = values(&[(":a", n("1"))]);
    for (expr, func) in [
        (
            "attribute_type(a, size(a)) and a=a and a=:a",
            "attribute_type",
        ),
        ("begins_with(a, size(a)) and a=:a", "begins_with"),
        ("size(size(a)) > :a", "size"),
        ("attribute_not_exists(size(:a))", "size"),
    ] {
        assert_eq!(
            error(ExprKind::Filter, expr, &HashMap::new(), &one),
            format!("{F}{t} {func}, operand type: N"),
            "{expr}"
        );
    }
    // Ordering operators need a string, number or binary literal.
    for (tn, v) in &typed {
        if *tn == "N" || *tn == "B" {
            continue;
        }
        let vals = values(&[(":a", v.clone()), (":lo", n("1"))]);
        for (expr, op) in [
            ("x < :a", "<"),
            (":a <= x", "<="),
            ("x > :a", ">"),
            ("x >= :a", ">="),
            ("x BETWEEN :a AND :a", "BETWEEN"),
            (":a BETWEEN x AND y", "BETWEEN"),
        ] {
            assert_eq!(
                error(ExprKind::Filter, expr, &HashMap::new(), &vals),
                format!("{F}{t} {op}, operand type: {tn}"),
                "{expr} {tn}"
            );
        }
    }
    assert_eq!(
        error(
            ExprKind::Filter,
            "attribute_type(a, b)",
            &HashMap::new(),
            &HashMap::new()
        ),
        format!("{F}{t} attribute_type, operand type: {{NS,SS,L,BS,N,M,B,BOOL,NULL,S}}")
    );
    let s1 = values(&[(":a", "1".into())]);
    assert_eq!(
        error(
            ExprKind::Filter,
            "attribute_type(a, :a)",
            &HashMap::new(),
            &s1
        ),
        format!(
            "{F}Invalid attribute type name found; type: 1, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
        )
    );
    for (expr, func) in [
        ("attribute_exists(:a) and a=a", "attribute_exists"),
        ("attribute_not_exists(size(:a))", "attribute_not_exists"),
        ("attribute_type(:a, :a)", "attribute_type"),
    ] {
        let vals = values(&[(":a", "S".into())]);
        assert_eq!(
            error(ExprKind::Filter, expr, &HashMap::new(), &vals),
            format!(
                "{F}Operator or function requires a document path; operator or function: {func}"
            ),
            "{expr}"
        );
    }
}

#[test]
fn between_in_and_limits() {
    let vals = values(&[(":a", "a".into()), (":b", n("1"))]);
    assert_eq!(
        error(
            ExprKind::Condition,
            "x between :b and :a",
            &HashMap::new(),
            &vals
        ),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"
    );
    let vals = values(&[(":a", "a".into()), (":b", "b".into())]);
    assert_eq!(
        error(
            ExprKind::Condition,
            "x between :b and :a",
            &HashMap::new(),
            &vals
        ),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound operand: AttributeValue: {S:a}"
    );
    let vals = values(&[(":v", n("1"))]);

    let list = vec![":v"; 101].join(", ");
    assert_eq!(
        error(
            ExprKind::Condition,
            &format!("x IN ({list})"),
            &HashMap::new(),
            &vals
        ),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
    let list = vec![":v"; 100].join(",");
    let empty = HashMap::new();
    let mut subs = Substitutions::new(&empty, &vals);
    assert!(subs.parse_condition(&format!("x IN ({list})")).is_ok());

    // 300 operators pass, 301 fail (each `x = :v` is one, each OR another).
    let ok = vec!["x = :v"; 150].join(" OR "); // 150 + 149 = 299
    assert!(
        Substitutions::new(&HashMap::new(), &vals)
            .parse_condition(&ok)
            .is_ok()
    );
    let ok = format!("{ok} OR y = :v"); // 301
    assert_eq!(
        error(ExprKind::Condition, &ok, &HashMap::new(), &vals),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );

    let deep = format!("a{} = :v", ".b".repeat(32));
    assert_eq!(
        error(ExprKind::Condition, &deep, &HashMap::new(), &vals),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    let deep = format!("a{} = :v", ".b".repeat(31));
    assert!(
        Substitutions::new(&HashMap::new(), &vals)
            .parse_condition(&deep)
            .is_ok()
    );
    assert_eq!(
        error(
            ExprKind::Condition,
            "a[99999999999] = :v",
            &HashMap::new(),
            &vals
        ),
        "Invalid ConditionExpression: List index is not within the allowable range; index: 99999999999"
    );
}

#[test]
fn update_errors() {
    let u = |expr: &str, names: &HashMap<String, String>, vals: &HashMap<String, AV>| {
        error(ExprKind::Update, expr, names, vals)
    };
    let ab_names = names(&[("#a", "a"), ("#b", "b")]);
    let ab_vals = values(&[(":a", "a".into()), (":b", "a".into())]);
    let cases: &[(&str, &str)] = &[
        (
            " set #c = :c set abOrt = true ",
            "Attribute name is a reserved keyword; reserved keyword: abOrt",
        ),
        (
            " remove Absolute ",
            "Attribute name is a reserved keyword; reserved keyword: Absolute",
        ),
        (
            "set #c = if_not_exist(:c) set c = d",
            "Invalid function name; function: if_not_exist",
        ),
        (
            "set a = attribute_exists(b)",
            "The function is not allowed in an update expression; function: attribute_exists",
        ),
        (
            "set a = #c set c = :d",
            "The \"SET\" section can only be used once in an update expression;",
        ),
        (
            "remove #d set a = b remove e",
            "The \"REMOVE\" section can only be used once in an update expression;",
        ),
        (
            "add #d :e set a = b add e :f",
            "The \"ADD\" section can only be used once in an update expression;",
        ),
        (
            "delete #d :e set a = b delete #e :f",
            "The \"DELETE\" section can only be used once in an update expression;",
        ),
        (
            "SET #c = if_not_exists(:c)",
            "An expression attribute name used in the document path is not defined; attribute name: #c",
        ),
        (
            "SET #a = if_not_exists(:c)",
            "An expression attribute value used in expression is not defined; attribute value: :c",
        ),
        (
            "set a = if_not_exists(c)",
            "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1",
        ),
        (
            "set a = list_append(c)",
            "Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1",
        ),
        (
            "set a = if_not_exists(:a, c)",
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            "set a = if_not_exists(if_not_exists(a, b), c)",
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
    ];
    for (expr, msg) in cases {
        assert_eq!(
            u(expr, &ab_names, &ab_vals),
            format!("Invalid UpdateExpression: {msg}"),
            "{expr}"
        );
    }

    let clash_names = names(&[("#b", "b"), ("#c", "c"), ("#d", "[3]")]);
    let overlap =
        "Two document paths overlap with each other; must remove or rewrite one of these paths;";
    let conflict =
        "Two document paths conflict with each other; must remove or rewrite one of these paths;";
    for (expr, msg, one, two) in [
        (
            "set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)",
            overlap,
            "[c, [1], a]",
            "[c]",
        ),
        ("set c.b.#c = a, c = a, #d = a", overlap, "[c, b, c]", "[c]"),
        ("set a = b remove a, #c, #d", overlap, "[a]", "[a]"),
        (
            "set #c[3].#d = a, #c[3] = a",
            overlap,
            "[c, [3], [3]]",
            "[c, [3]]",
        ),
        ("remove c, #c.a, #d", overlap, "[c]", "[c, a]"),
        ("remove a, #c, a, #d", overlap, "[a]", "[a]"),
        (
            "set #c[3].#d = a, #c.#d[3] = if_not_exists(a)",
            conflict,
            "[c, [3], [3]]",
            "[c, [3], [3]]",
        ),
        ("remove a.#c set a[1] = #d", conflict, "[a, c]", "[a, [1]]"),
    ] {
        assert_eq!(
            u(expr, &clash_names, &HashMap::new()),
            format!("Invalid UpdateExpression: {msg} path one: {one}, path two: {two}"),
            "{expr}"
        );
    }

    for (expr, value, op, tn) in [
        (
            "set b = list_append(:a, a), c = if_not_exists(a) add a.b :a",
            AV::from("a"),
            "ADD",
            "STRING",
        ),
        ("delete a.b :a", "a".into(), "DELETE", "STRING"),
        ("add a.b :a", AV::Null, "ADD", "NULL"),
        ("delete a.b :a", AV::Null, "DELETE", "NULL"),
        ("add a.b :a", false.into(), "ADD", "BOOLEAN"),
        ("delete a.b :a", false.into(), "DELETE", "BOOLEAN"),
        ("add a.b :a", AV::B(b"a".to_vec()), "ADD", "BINARY"),
        ("delete a.b :a", AV::B(b"a".to_vec()), "DELETE", "BINARY"),
        ("add a.b :a", AV::M(Default::default()), "ADD", "MAP"),
        ("delete a.b :a", AV::M(Default::default()), "DELETE", "MAP"),
        ("add a.b :a", AV::L(vec![n("1")]), "ADD", "LIST"),
        ("delete a.b :a", AV::L(vec![n("1")]), "DELETE", "LIST"),
        ("delete a.b :a", n("1"), "DELETE", "NUMBER"),
    ] {
        let vals = values(&[(":a", value), (":b", "a".into())]);
        assert_eq!(
            u(expr, &HashMap::new(), &vals),
            format!(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: {op}, operand type: {tn}"
            ),
            "{expr}"
        );
    }

    let typed = values(&[
        (":a", "a".into()),
        (":b", n("1")),
        (":c", AV::B(b"a".to_vec())),
        (":d", false.into()),
        (":e", AV::Null),
        (":f", AV::string_set(["a"])),
        (":g", AV::Ns([Number::from(1)].into())),
        (":h", AV::Bs([b"a".to_vec()].into())),
        (":i", AV::M(Default::default())),
        (":j", AV::L(vec![])),
    ]);
    for (expr, func, tn) in [
        ("set a = list_append(:a, a)", "list_append", "S"),
        ("set a = list_append(a, :b)", "list_append", "N"),
        ("set a = list_append(:c, a)", "list_append", "B"),
        ("set a = list_append(:d, a)", "list_append", "BOOL"),
        ("set a = list_append(:e, a)", "list_append", "NULL"),
        ("set a = list_append(:f, a)", "list_append", "SS"),
        ("set a = list_append(:g, a)", "list_append", "NS"),
        ("set a = list_append(:h, a)", "list_append", "BS"),
        ("set a = list_append(:i, a)", "list_append", "M"),
        ("set a = a + :a", "+", "S"),
        ("set a = :a + :c", "+", "S"),
        ("set a = :c + a", "+", "B"),
        ("set a = a + :d", "+", "BOOL"),
        ("set a = a + :e", "+", "NULL"),
        ("set a = a + :f", "+", "SS"),
        ("set a = a + :i", "+", "M"),
        ("set a = a + :j", "+", "L"),
        ("set a = a - :a", "-", "S"),
        ("set a = a - :g", "-", "NS"),
        ("set a = a - :h", "-", "BS"),
        ("set a = (b + :a)", "+", "S"),
    ] {
        assert_eq!(
            u(expr, &HashMap::new(), &typed),
            format!(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: {func}, operand type: {tn}"
            ),
            "{expr}"
        );
    }
}

#[test]
fn update_operator_limit() {
    let vals = values(&[(":v", n("1"))]);
    // 300 `+` operators are fine, 301 are not.
    let ok = (0..300)
        .map(|i| format!("a{i}=:v+:v"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        Substitutions::new(&HashMap::new(), &vals)
            .parse_update(&format!("SET {ok}"))
            .is_ok()
    );
    let bad = format!("SET {ok},z=:v-:v");
    assert_eq!(
        error(ExprKind::Update, &bad, &HashMap::new(), &vals),
        "Invalid UpdateExpression: The expression contains too many operators; operator count: 301"
    );
}

#[test]
fn projection_errors() {
    let p = |expr: &str| {
        error(
            ExprKind::Projection,
            expr,
            &names(&[("#a", "a"), ("#n", "name")]),
            &HashMap::new(),
        )
    };
    let pe = "Invalid ProjectionExpression: ";
    assert_eq!(
        p("a, name"),
        format!("{pe}Attribute name is a reserved keyword; reserved keyword: name")
    );
    assert_eq!(
        p("a, #zz"),
        format!(
            "{pe}An expression attribute name used in the document path is not defined; attribute name: #zz"
        )
    );
    assert_eq!(
        p("a, #a.b"),
        format!(
            "{pe}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        )
    );
    assert_eq!(
        p("a.b, #a[0]"),
        format!(
            "{pe}Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]"
        )
    );
    assert_eq!(
        p("a, b,"),
        format!("{pe}Syntax error; token: \"<EOF>\", near: \",\"")
    );
    assert_eq!(
        p("a b"),
        format!("{pe}Syntax error; token: \"b\", near: \"a b\"")
    );
    assert_eq!(
        p("l[a]"),
        format!("{pe}Syntax error; token: \"a\", near: \"[a]\"")
    );
    assert_eq!(
        p(":v"),
        format!("{pe}Syntax error; token: \":v\", near: \":v\"")
    );
}

#[test]
fn unused_and_malformed_placeholders() {
    // One request: an update and a condition share the placeholders.
    let nm = names(&[("#a", "a"), ("#b", "b")]);
    let vals = values(&[(":a", "a".into()), (":b", "a".into())]);
    let mut subs = Substitutions::new(&nm, &vals);
    subs.parse_update("remove a set b = list_append(b, if_not_exists(a, :a))")
        .unwrap();
    subs.parse_condition("a = :b").unwrap();
    assert_eq!(
        subs.check_all_used().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
    );

    let vals = values(&[(":a", "a".into()), (":b", "a".into()), (":c", "a".into())]);
    let empty = HashMap::new();
    let mut subs = Substitutions::new(&empty, &vals);
    subs.parse_update("remove a").unwrap();
    subs.parse_condition("a = :b").unwrap();
    assert_eq!(
        subs.check_all_used().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :c}"
    );

    // The free functions check usage for a single expression.
    let err = strata_item::expr::parse_condition("a = :a", &HashMap::new(), &vals).unwrap_err();
    assert_eq!(
        err,
        ExprError::UnusedValues {
            keys: vec![":b".into(), ":c".into()],
            total: 2,
        }
    );
    let err = strata_item::expr::parse_projection("a", &names(&[("x", "a")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"x\""
    );
}

#[test]
fn key_condition_errors() {
    let k = |expr: &str, vals: &HashMap<String, AV>| {
        error(ExprKind::KeyCondition, expr, &HashMap::new(), vals)
    };
    let vals = values(&[(":a", "S".into()), (":b", "1".into())]);
    assert_eq!(
        k("attribute_type(a, :a)", &vals),
        "Invalid operator used in KeyConditionExpression: attribute_type"
    );
    let none = HashMap::new();
    for (expr, op) in [
        ("a > b and size(b) > c or a > c", "OR"),
        ("a in (b, size(c), d)", "IN"),
        ("attribute_exists(a)", "attribute_exists"),
        ("attribute_not_exists(a)", "attribute_not_exists"),
        ("contains(a.d, b)", "contains"),
        ("not a > b", "NOT"),
        ("a <> b", "<>"),
    ] {
        assert_eq!(
            k(expr, &none),
            format!("Invalid operator used in KeyConditionExpression: {op}"),
            "{expr}"
        );
    }
    let ab = values(&[(":a", "1".into()), (":b", "1".into())]);
    for (expr, op) in [
        (":a between size(b) and size(a) and b > :b", "BETWEEN"),
        ("begins_with(:a, b) and a > :b", "begins_with"),
    ] {
        assert_eq!(
            k(expr, &ab),
            format!(
                "Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its first operand"
            )
        );
    }
    for expr in [
        "size(b) > a AND a.b > b AND b > c",
        "a > size(b.d)",
        "a between size(b) and size(a)",
    ] {
        assert_eq!(
            k(expr, &none),
            "KeyConditionExpressions cannot contain nested operations",
            "{expr}"
        );
    }
    for expr in [
        "b > a.b",
        "b between c[1] and d",
        "a between b and size(a)",
        "begins_with(a, b)",
    ] {
        assert_eq!(
            k(expr, &none),
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
            "{expr}"
        );
    }
    for expr in ["b.d > a AND c.d > e.f", "a.d > c", "b[0] > a"] {
        assert_eq!(
            k(expr, &none),
            "KeyConditionExpressions cannot have conditions on nested attributes",
            "{expr}"
        );
    }
    let nums = values(&[(":a", n("1")), (":b", n("1"))]);
    for expr in [":b > :a AND a < :b", ":a > b AND :a < :b"] {
        assert_eq!(
            k(expr, &nums),
            "Invalid condition in KeyConditionExpression: No key attribute specified",
            "{expr}"
        );
    }
    let one = values(&[(":a", n("1"))]);
    for expr in [
        "b > :a AND b < :a and c = :a and d = :a",
        "(a > :a and b > :a) and (b > :a and c > :a)",
        "a = :a AND a = :a",
        "b > :a AND b < :a",
    ] {
        assert_eq!(
            k(expr, &one),
            "KeyConditionExpressions must only contain one condition per key",
            "{expr}"
        );
    }
    assert_eq!(
        k(
            "a between :b and :a",
            &values(&[(":a", "a".into()), (":b", n("1"))])
        ),
        "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"
    );
    assert_eq!(
        k(
            "b between :b and :a",
            &values(&[(":a", "a".into()), (":b", "b".into())])
        ),
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:b}, upper bound operand: AttributeValue: {S:a}"
    );
    assert_eq!(
        k("z = :a", &one),
        "Query condition missed key schema element: a"
    );
    assert_eq!(
        k("b = :a", &one),
        "Query condition missed key schema element: a"
    );
    assert_eq!(
        k("a = :a AND z = :a", &one),
        "Query key condition not supported"
    );
    assert_eq!(k("a > :a", &one), "Query key condition not supported");
    assert_eq!(
        k("begins_with(a, :a)", &values(&[(":a", "x".into())])),
        "Query key condition not supported"
    );
    assert_eq!(
        k("a = :a and begins_with(b, :a)", &one),
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        k("status = :a", &one),
        "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
    );
    assert_eq!(
        k("things are not gonna be ok", &one),
        "Invalid KeyConditionExpression: Syntax error; token: \"are\", near: \"things are not\""
    );
}

#[test]
fn errors_know_their_kind_and_offset() {
    let e = Substitutions::none().parse_condition("a = 4").unwrap_err();
    assert_eq!(e.offset(), Some(4));
    assert!(matches!(
        e,
        ExprError::Syntax {
            kind: ExprKind::Condition,
            ..
        }
    ));
    assert_eq!(
        ExprKind::KeyCondition.parameter_name(),
        "KeyConditionExpression"
    );
}
