//! Conditions answered without the CEL interpreter.
//!
//! Most rules compare readings with thresholds: `msg.values.pm25 > 75.0`,
//! `prev.level < 20 && msg.values.level >= 20`, `device.tags.district == "north"`,
//! `msg.event == "door_open"`, `avg("pm25", "5m") > 100.0`. For an expression made only of
//! such comparisons (joined by `&&`, `||` and `!`, with `has()` tests), [`Direct`] evaluates
//! it straight on the input, the device, its previous values and its history: no CEL
//! variables are built, nothing is allocated, and an aggregate is computed only when its
//! comparison is reached, as CEL's `&&` and `||` would.
//!
//! It gives the interpreter's answer or none: whenever a case is not plainly one of its own
//! (a value of another type than the comparison expects, NaN, a string ordering), it answers
//! [`Answer::Ask`] and the caller evaluates the expression with CEL. The property test below
//! checks both agree on every expression and input it generates.

use crate::expr::{Aggregate, AggregateCall, aggregate_call};
use crate::facts::{Facts, kind_name};
use crate::window::History;
use cel::common::ast::{Expr as Ast, IdedExpr, LiteralValue, operators};
use std::cmp::Ordering;
use wanwu_model::Value;

/// What a direct evaluation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The condition holds or not.
    Bool(bool),
    /// A value it needs is absent (CEL's "no such key"): the condition is not met.
    NoData,
    /// Not a case this evaluator decides: evaluate with CEL.
    Ask,
}

/// A condition in the directly evaluated subset of CEL.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Direct {
    And(Box<Direct>, Box<Direct>),
    Or(Box<Direct>, Box<Direct>),
    Not(Box<Direct>),
    Compare(Comparison, Operand, Operand),
    /// `has(...)` of a field.
    Has(Field),
    Literal(bool),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Operand {
    Field(Field),
    Constant(Scalar),
    /// A windowed aggregate, `avg("pm25", "5m")`, over the device's history.
    Aggregate(AggregateCall),
}

/// A field of the facts a condition may read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Field {
    /// `msg.values.<key>`.
    Value(String),
    /// `prev.<key>`.
    Prev(String),
    /// `msg.ts`.
    Ts,
    /// `msg.device`.
    MessageDevice,
    /// `msg.tenant`.
    Tenant,
    /// `msg.kind`.
    Kind,
    /// `msg.event`.
    Event,
    /// `device.id`, `device.name`, `device.product`.
    Device(DeviceField),
    /// `device.tags.<key>`.
    Tag(String),
}

/// A plain field of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceField {
    Id,
    Name,
    Product,
}

/// A literal of a condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
}

/// A value read from the facts, borrowed.
#[derive(Clone, Copy, Debug)]
enum Read<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
    /// Present, of a type this evaluator leaves to CEL.
    Other,
    /// Absent.
    Missing,
}

impl Direct {
    /// The direct form of `expr`, or `None` when it uses anything outside the subset.
    pub fn compile(expr: &IdedExpr) -> Option<Direct> {
        match &expr.expr {
            Ast::Literal(LiteralValue::Boolean(b)) => Some(Direct::Literal(*b.inner())),
            Ast::Select(select) if select.test => field(expr).map(Direct::Has),
            Ast::Call(call) if call.target.is_none() => {
                let arg = |i: usize| call.args.get(i);
                match (call.func_name.as_str(), call.args.len()) {
                    (operators::LOGICAL_NOT, 1) => {
                        Some(Direct::Not(Box::new(Direct::compile(arg(0)?)?)))
                    }
                    (operators::LOGICAL_AND, 2) => Some(Direct::And(
                        Box::new(Direct::compile(arg(0)?)?),
                        Box::new(Direct::compile(arg(1)?)?),
                    )),
                    (operators::LOGICAL_OR, 2) => Some(Direct::Or(
                        Box::new(Direct::compile(arg(0)?)?),
                        Box::new(Direct::compile(arg(1)?)?),
                    )),
                    (name, 2) => Some(Direct::Compare(
                        comparison(name)?,
                        operand(arg(0)?)?,
                        operand(arg(1)?)?,
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Evaluates the condition on `facts`, with aggregates over `history` (a schedule tick
    /// has none: its aggregates are left to CEL).
    pub fn evaluate(&self, facts: &Facts<'_>, history: Option<&History>) -> Answer {
        match self {
            Direct::Literal(b) => Answer::Bool(*b),
            // Without a device, `device` is an empty map: `device.tags` itself is absent.
            Direct::Has(Field::Tag(_)) if facts.device.is_none() => Answer::NoData,
            Direct::Has(field) => Answer::Bool(!matches!(read(field, facts), Read::Missing)),
            Direct::Not(inner) => match inner.evaluate(facts, history) {
                Answer::Bool(b) => Answer::Bool(!b),
                other => other,
            },
            // CEL evaluates the left side first; an error there is absorbed only by a right
            // side that decides alone (false for &&, true for ||), and an error on the right
            // is the result.
            Direct::And(left, right) => connect(left, right, false, facts, history),
            Direct::Or(left, right) => connect(left, right, true, facts, history),
            Direct::Compare(op, left, right) => {
                let left = operand_value(left, facts, history);
                let right = operand_value(right, facts, history);
                match (left, right) {
                    (Read::Missing, _) | (_, Read::Missing) => Answer::NoData,
                    (left, right) => compare(*op, left, right),
                }
            }
        }
    }
}

/// `left && right` (`decides` false) or `left || right` (`decides` true).
fn connect(
    left: &Direct,
    right: &Direct,
    decides: bool,
    facts: &Facts<'_>,
    history: Option<&History>,
) -> Answer {
    let left = left.evaluate(facts, history);
    if left == Answer::Bool(decides) {
        return left;
    }
    match (left, right.evaluate(facts, history)) {
        (_, Answer::Ask) | (Answer::Ask, _) => Answer::Ask,
        (_, Answer::NoData) => Answer::NoData,
        (Answer::Bool(_), right) => right,
        (_, Answer::Bool(b)) if b == decides => Answer::Bool(b),
        (left, _) => left,
    }
}

fn comparison(name: &str) -> Option<Comparison> {
    Some(match name {
        operators::LESS => Comparison::Less,
        operators::LESS_EQUALS => Comparison::LessOrEqual,
        operators::GREATER => Comparison::Greater,
        operators::GREATER_EQUALS => Comparison::GreaterOrEqual,
        operators::EQUALS => Comparison::Equal,
        operators::NOT_EQUALS => Comparison::NotEqual,
        _ => return None,
    })
}

fn operand(expr: &IdedExpr) -> Option<Operand> {
    match &expr.expr {
        Ast::Literal(literal) => Some(Operand::Constant(match literal {
            LiteralValue::Int(i) => Scalar::Int(*i.inner()),
            LiteralValue::Double(d) => Scalar::Float(*d.inner()),
            LiteralValue::Boolean(b) => Scalar::Bool(*b.inner()),
            LiteralValue::String(s) => Scalar::String(s.inner().to_owned()),
            _ => return None,
        })),
        Ast::Select(select) if !select.test => field(expr).map(Operand::Field),
        Ast::Call(call) if call.target.is_none() => {
            let aggregate = Aggregate::named(&call.func_name)?;
            aggregate_call(aggregate, &call.args)
                .ok()
                .map(Operand::Aggregate)
        }
        _ => None,
    }
}

/// The field a selection names: `msg.values.k`, `prev.k`, `msg.ts|device|tenant|kind|event`,
/// `device.id|name|product`, `device.tags.k`.
fn field(expr: &IdedExpr) -> Option<Field> {
    let path = select_path(expr)?;
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    Some(match path.as_slice() {
        ["msg", "values", key] => Field::Value((*key).to_owned()),
        ["prev", key] => Field::Prev((*key).to_owned()),
        ["msg", "ts"] => Field::Ts,
        ["msg", "device"] => Field::MessageDevice,
        ["msg", "tenant"] => Field::Tenant,
        ["msg", "kind"] => Field::Kind,
        ["msg", "event"] => Field::Event,
        ["device", "id"] => Field::Device(DeviceField::Id),
        ["device", "name"] => Field::Device(DeviceField::Name),
        ["device", "product"] => Field::Device(DeviceField::Product),
        ["device", "tags", key] => Field::Tag((*key).to_owned()),
        _ => return None,
    })
}

/// `a.b.c` as `["a", "b", "c"]`, when it is a chain of selections from an identifier.
fn select_path(expr: &IdedExpr) -> Option<Vec<String>> {
    match &expr.expr {
        Ast::Ident(name) => Some(vec![name.clone()]),
        Ast::Select(select) => {
            let mut path = select_path(&select.operand)?;
            path.push(select.field.clone());
            Some(path)
        }
        _ => None,
    }
}

fn model_read(value: Option<&Value>) -> Read<'_> {
    match value {
        None => Read::Missing,
        Some(Value::Int(i)) => Read::Int(*i),
        Some(Value::Float(f)) => Read::Float(*f),
        Some(Value::Bool(b)) => Read::Bool(*b),
        Some(Value::String(s)) => Read::Str(s),
        Some(Value::Geo(_)) => Read::Other,
    }
}

fn text_read(value: Option<&str>) -> Read<'_> {
    value.map_or(Read::Missing, Read::Str)
}

fn read<'a>(field: &Field, facts: &'a Facts<'_>) -> Read<'a> {
    let input = facts.input;
    match field {
        Field::Value(key) => model_read(input.and_then(|i| i.values.get(key))),
        Field::Prev(key) => model_read(facts.prev.and_then(|p| p.get(key))),
        Field::Ts => Read::Int(facts.ts),
        Field::MessageDevice => text_read(input.map(|i| i.device.as_str())),
        Field::Tenant => Read::Str(facts.tenant),
        Field::Kind => Read::Str(kind_name(input)),
        Field::Event => text_read(input.and_then(|i| i.event.as_deref())),
        Field::Device(which) => text_read(facts.device.map(|d| match which {
            DeviceField::Id => d.id.as_str(),
            DeviceField::Name => d.name.as_str(),
            DeviceField::Product => d.product.as_str(),
        })),
        Field::Tag(key) => text_read(
            facts
                .device
                .and_then(|d| d.tags.get(key))
                .map(String::as_str),
        ),
    }
}

fn operand_value<'a>(
    operand: &'a Operand,
    facts: &'a Facts<'_>,
    history: Option<&History>,
) -> Read<'a> {
    match operand {
        Operand::Aggregate(call) => match history.map(|h| h.aggregate(call, facts.ts)) {
            None => Read::Other,
            Some(None) => Read::Missing,
            Some(Some(cel::Value::Int(i))) => Read::Int(i),
            Some(Some(cel::Value::Float(f))) => Read::Float(f),
            Some(Some(_)) => Read::Other,
        },
        Operand::Field(field) => read(field, facts),
        Operand::Constant(Scalar::Int(i)) => Read::Int(*i),
        Operand::Constant(Scalar::Float(f)) => Read::Float(*f),
        Operand::Constant(Scalar::Bool(b)) => Read::Bool(*b),
        Operand::Constant(Scalar::String(s)) => Read::Str(s),
    }
}

/// CEL's comparison of two present values, where this evaluator knows it.
fn compare(op: Comparison, left: Read<'_>, right: Read<'_>) -> Answer {
    let order = match (left, right) {
        (Read::Int(a), Read::Int(b)) => Some(a.cmp(&b)),
        (Read::Int(a), Read::Float(b)) => (a as f64).partial_cmp(&b),
        (Read::Float(a), Read::Int(b)) => a.partial_cmp(&(b as f64)),
        (Read::Float(a), Read::Float(b)) => a.partial_cmp(&b),
        (Read::Str(a), Read::Str(b)) if is_equality(op) => Some(a.cmp(b)),
        (Read::Bool(a), Read::Bool(b)) if is_equality(op) => Some(a.cmp(&b)),
        _ => None,
    };
    let Some(order) = order else {
        return Answer::Ask;
    };
    Answer::Bool(match op {
        Comparison::Less => order == Ordering::Less,
        Comparison::LessOrEqual => order != Ordering::Greater,
        Comparison::Greater => order == Ordering::Greater,
        Comparison::GreaterOrEqual => order != Ordering::Less,
        Comparison::Equal => order == Ordering::Equal,
        Comparison::NotEqual => order != Ordering::Equal,
    })
}

fn is_equality(op: Comparison) -> bool {
    matches!(op, Comparison::Equal | Comparison::NotEqual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{EvalError, Expr, root_context};
    use crate::input::{DeviceInfo, Input};
    use crate::scopes::with_aggregates;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use wanwu_model::GeoPoint;

    /// What CEL makes of a condition without history: the answer a direct evaluation must
    /// give.
    fn cel_answer(expr: &Expr, facts: &Facts<'_>) -> Result<Answer, String> {
        cel_with_history(expr, facts, &History::default())
    }

    const FIELDS: [&str; 12] = [
        "msg.values.a",
        "msg.event",
        "msg.kind",
        "msg.tenant",
        "msg.values.b",
        "prev.a",
        "msg.ts",
        "msg.device",
        "device.product",
        "device.name",
        "device.tags.zone",
        "device.id",
    ];
    const LITERALS: [&str; 10] = [
        "1",
        "2.5",
        "-3",
        "0",
        "true",
        "false",
        "\"p1\"",
        "\"d1\"",
        "\"fail\"",
        "\"event\"",
    ];
    const OPERATORS: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];

    fn side() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(&FIELDS[..]).prop_map(str::to_owned),
            proptest::sample::select(&LITERALS[..]).prop_map(str::to_owned),
        ]
    }

    fn condition() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (side(), proptest::sample::select(&OPERATORS[..]), side())
                .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
            proptest::sample::select(&FIELDS[..]).prop_map(|f| format!("has({f})")),
            Just("true".to_owned()),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) && ({r})")),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) || ({r})")),
                inner.prop_map(|c| format!("!({c})")),
            ]
        })
    }

    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            (-3i64..4).prop_map(|i| Some(Value::Int(i))),
            prop_oneof![
                Just(2.5),
                Just(-3.0),
                Just(1.0),
                Just(f64::NAN),
                -5.0..5.0f64
            ]
            .prop_map(|f| Some(Value::Float(f))),
            any::<bool>().prop_map(|b| Some(Value::Bool(b))),
            prop_oneof![Just("p1"), Just("x")].prop_map(|s| Some(Value::String(s.into()))),
            Just(Some(Value::Geo(GeoPoint { lat: 1.0, lon: 2.0 }))),
        ]
    }

    fn values(a: Option<Value>, b: Option<Value>) -> BTreeMap<String, Value> {
        [("a", a), ("b", b)]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the direct evaluation decides, CEL decides the same.
        #[test]
        fn agrees_with_cel(
            source in condition(),
            (a, b, prev_a) in (value(), value(), value()),
            device in proptest::option::of((any::<bool>(), any::<bool>())),
            tick in any::<bool>(),
            event in proptest::option::of(prop_oneof![Just("fail"), Just("ok")]),
        ) {
            let expr = Expr::compile(&source, "condition").expect("compiles");
            let direct = expr.direct().expect("in the direct subset");
            let mut input = Input::telemetry("t", "d1", 7, values(a, b));
            if let Some(event) = event {
                input.kind = crate::input::InputKind::Event;
                input.event = Some(event.to_owned());
            }
            let prev = values(prev_a, None);
            let device = device.map(|(product, tagged)| DeviceInfo {
                id: "d1".into(),
                tenant: "t".into(),
                product: if product { "p1" } else { "p2" }.into(),
                tags: if tagged { [("zone".to_owned(), "x".to_owned())].into() } else { BTreeMap::new() },
                ..DeviceInfo::default()
            });
            let facts = if tick {
                Facts { tenant: "t", input: None, ts: 7, device: None, prev: None, twin: None }
            } else {
                Facts::of_input(&input, device.as_ref(), &prev, None)
            };
            let answer = direct.evaluate(&facts, None);
            if answer != Answer::Ask {
                prop_assert_eq!(Ok(answer), cel_answer(&expr, &facts), "{}", source);
            }
        }
    }

    #[test]
    fn thresholds_on_numbers_are_answered_without_cel() {
        let expr = Expr::compile(
            "msg.values.pm25 > 240.0 && (prev.pm25 <= 240 || !has(prev.pm25))",
            "condition",
        )
        .unwrap();
        let direct = expr.direct().unwrap();
        let reading = |pm25: f64| values(Some(Value::Float(pm25)), None);
        let rename = |map: BTreeMap<String, Value>| -> BTreeMap<String, Value> {
            map.into_values().map(|v| ("pm25".to_owned(), v)).collect()
        };
        let input = Input::telemetry("t", "d", 1, rename(reading(250.0)));
        for (prev, expected) in [
            (rename(reading(100.0)), Answer::Bool(true)),
            (rename(reading(245.0)), Answer::Bool(false)),
            (BTreeMap::new(), Answer::Bool(true)),
        ] {
            let facts = Facts::of_input(&input, None, &prev, None);
            assert_eq!(direct.evaluate(&facts, None), expected);
            assert_eq!(cel_answer(&expr, &facts), Ok(expected));
        }
        let absent = Input::telemetry("t", "d", 1, BTreeMap::new());
        let no_prev = BTreeMap::new();
        let facts = Facts::of_input(&absent, None, &no_prev, None);
        assert_eq!(direct.evaluate(&facts, None), Answer::NoData);
        for outside in [
            "msg.values.pm25 * 2.0 > 1.0",
            "twin.reported.mode == \"auto\"",
            "msg.values[\"pm25\"] > 1.0",
        ] {
            assert!(
                Expr::compile(outside, "c").unwrap().direct().is_none(),
                "{outside}"
            );
        }
    }

    /// CEL's answer with the expression's aggregates bound from `history`, as the engine
    /// binds them.
    fn cel_with_history(
        expr: &Expr,
        facts: &Facts<'_>,
        history: &History,
    ) -> Result<Answer, String> {
        let root = root_context();
        let base = facts.scope(&root, expr.vars());
        let scope = with_aggregates(expr.aggregates(), &base, history, facts.ts);
        match expr.holds(&scope) {
            Ok(b) => Ok(Answer::Bool(b)),
            Err(EvalError::NoData(_)) => Ok(Answer::NoData),
            Err(EvalError::Failed(message)) => Err(message),
        }
    }

    #[test]
    fn aggregates_are_answered_as_cel_answers_them() {
        let tracked = crate::window::Tracked::from_iter([("a".to_owned(), 300_000u64)]);
        let limits = crate::window::WindowLimits::default();
        let conditions = [
            "avg('a', '5m') > 2.0",
            "count('a', '1m') >= 2",
            "msg.values.a > 0 && max('a', '5m') < 3.0",
            "msg.values.a > 100 && avg('a', '5m') > 0.0",
            "rate('a', '5m') > 0.0 || min('a', '1m') == 1",
            "!(avg('a', '1m') <= 1.5)",
        ];
        let histories: [&[(i64, f64)]; 4] = [
            &[],
            &[(100_000, 1.0)],
            &[(0, 1.0), (60_000, 2.0), (100_000, 3.0)],
            &[(0, 4.0), (100_000, 1.0)],
        ];
        for points in histories {
            let mut history = History::default();
            for (ts, x) in points {
                let values = [("a".to_owned(), Value::Float(*x))];
                history.record(*ts, values.iter().map(|(k, v)| (k, v)), &tracked, limits);
            }
            let input = Input::telemetry("t", "d1", 100_000, values(Some(Value::Float(1.0)), None));
            let prev = BTreeMap::new();
            let facts = Facts::of_input(&input, None, &prev, None);
            for source in conditions {
                let expr = Expr::compile(source, "condition").unwrap();
                let answer = expr
                    .direct()
                    .expect("direct")
                    .evaluate(&facts, Some(&history));
                assert_ne!(answer, Answer::Ask, "{source} over {points:?}");
                assert_eq!(
                    Ok(answer),
                    cel_with_history(&expr, &facts, &history),
                    "{source} over {points:?}"
                );
            }
        }
    }
}
