//! CEL expressions: compiled once with their positions checked, evaluated against an
//! [`EvalScope`].
//!
//! Windowed aggregates are CEL functions `avg(key, "5m")`, `min`, `max`, `count` and `rate`
//! over the device's recent values (see [`crate::window`]). Their arguments must be literals,
//! so that every aggregate a rule needs is known when it compiles: the engine computes them
//! before evaluating and binds each as a hidden variable the function reads.

use crate::direct::Direct;
use crate::error::{DefinitionError, DefinitionErrors};
use crate::span::Span;
use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr, LiteralValue};
use cel::{Context, Env, ExecutionError, FunctionContext, Program, Value as CelValue};
use std::sync::{Arc, LazyLock};

/// Longest window an aggregate may look back.
pub const MAX_WINDOW_MS: u64 = 24 * 3_600_000;

/// The CEL environment of rules: the standard library and macros.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// An aggregate over a device's recent values of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// Mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Number of values.
    Count,
    /// Change per second between the oldest and newest value.
    Rate,
}

impl Aggregate {
    const ALL: [(&'static str, Aggregate); 5] = [
        ("avg", Aggregate::Avg),
        ("min", Aggregate::Min),
        ("max", Aggregate::Max),
        ("count", Aggregate::Count),
        ("rate", Aggregate::Rate),
    ];

    pub(crate) fn named(name: &str) -> Option<Aggregate> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("avg")
    }
}

/// One aggregate call of an expression: `avg("pm25", "5m")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregateCall {
    /// Which aggregate.
    pub aggregate: Aggregate,
    /// Telemetry key.
    pub key: String,
    /// Window, as written (the variable name is built from it).
    pub window_text: String,
    /// Window length.
    pub window_ms: u64,
}

impl AggregateCall {
    /// Name of the hidden variable that carries this aggregate's value.
    pub fn variable(&self) -> String {
        variable_name(self.aggregate.name(), &self.key, &self.window_text)
    }
}

fn variable_name(function: &str, key: &str, window: &str) -> String {
    format!("__{function}\u{1f}{key}\u{1f}{window}")
}

/// Which of the variables (`msg`, `device`, `prev`, `twin`) an expression reads: only
/// those are built for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    /// Reads `msg`.
    pub msg: bool,
    /// Reads `device`.
    pub device: bool,
    /// Reads `prev`.
    pub prev: bool,
    /// Reads `twin`.
    pub twin: bool,
}

impl Vars {
    /// What either reads.
    pub fn union(self, other: Vars) -> Vars {
        Vars {
            msg: self.msg || other.msg,
            device: self.device || other.device,
            prev: self.prev || other.prev,
            twin: self.twin || other.twin,
        }
    }
}

/// A compiled CEL expression.
#[derive(Debug)]
pub struct Expr {
    source: String,
    program: Program,
    aggregates: Vec<AggregateCall>,
    vars: Vars,
    /// The same condition evaluated without CEL, when it is in that subset.
    direct: Option<Box<Direct>>,
}

/// How an evaluation went wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    /// A value the expression needs is absent (a key not in the message, an empty window):
    /// a condition is then simply not met.
    NoData(String),
    /// Anything else: a type error, a division by zero, a result that is not a bool.
    Failed(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::NoData(m) | EvalError::Failed(m) => f.write_str(m),
        }
    }
}

impl Expr {
    /// Compiles `source`; errors are reported at `path` with their line and column.
    pub fn compile(source: &str, path: &str) -> Result<Expr, DefinitionErrors> {
        let program = ENV.compile(source).map_err(|errors| {
            DefinitionErrors(
                errors
                    .errors
                    .iter()
                    .map(|e| DefinitionError {
                        path: path.to_owned(),
                        message: e.msg.clone(),
                        line: u32::try_from(e.pos.0).ok(),
                        column: u32::try_from(e.pos.1).ok(),
                    })
                    .collect(),
            )
        })?;
        let mut aggregates = Vec::new();
        let mut errors = DefinitionErrors::default();
        collect_aggregates(
            &program,
            program.expression(),
            source,
            path,
            &mut aggregates,
            &mut errors,
        );
        errors.into_result()?;
        aggregates.sort_by_key(AggregateCall::variable);
        aggregates.dedup();
        let references = program.references();
        let vars = Vars {
            msg: references.has_variable("msg"),
            device: references.has_variable("device"),
            prev: references.has_variable("prev"),
            twin: references.has_variable("twin"),
        };
        let direct = Direct::compile(program.expression()).map(Box::new);
        Ok(Expr {
            source: source.to_owned(),
            program,
            aggregates,
            vars,
            direct,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The aggregates it calls.
    pub fn aggregates(&self) -> &[AggregateCall] {
        &self.aggregates
    }

    /// The variables it reads.
    pub fn vars(&self) -> Vars {
        self.vars
    }

    /// Evaluates it in `scope`.
    pub fn evaluate(&self, scope: &Context<'_, '_>) -> Result<CelValue, EvalError> {
        self.program.execute(scope).map_err(classify)
    }

    /// The same condition in the subset evaluated without CEL (see [`crate::direct`]).
    pub(crate) fn direct(&self) -> Option<&Direct> {
        self.direct.as_deref()
    }

    /// Evaluates it as a condition: it must give a bool.
    pub fn holds(&self, scope: &Context<'_, '_>) -> Result<bool, EvalError> {
        match self.evaluate(scope)? {
            CelValue::Bool(b) => Ok(b),
            other => Err(EvalError::Failed(format!(
                "a condition must give a bool, this gave {other:?}"
            ))),
        }
    }
}

fn classify(error: ExecutionError) -> EvalError {
    match &error {
        ExecutionError::NoSuchKey(_) => EvalError::NoData(error.to_string()),
        ExecutionError::FunctionError { message, .. } if message.starts_with(NO_POINTS) => {
            EvalError::NoData(error.to_string())
        }
        _ => EvalError::Failed(error.to_string()),
    }
}

const NO_POINTS: &str = "no points";

/// The root evaluation context of one worker: the CEL environment with the aggregate
/// functions. Per input, the engine binds variables in inner scopes of it.
pub fn root_context() -> Context<'static, 'static> {
    let mut context = Context::with_env(Arc::clone(&ENV));
    for (name, _) in Aggregate::ALL {
        // The names are not standard overloads, so adding them cannot fail.
        let _ = context.add_function(name, aggregate_function);
    }
    context
}

fn aggregate_function(
    ftx: &FunctionContext,
    key: Arc<String>,
    window: Arc<String>,
) -> Result<CelValue, ExecutionError> {
    let variable = variable_name(ftx.name, &key, &window);
    let value = ftx
        .ptx
        .get_variable(&variable)
        .ok_or_else(|| ftx.error(format!("{NO_POINTS} of {key:?} in the last {window}")))?;
    CelValue::try_from(value.as_ref()).map_err(|_| ftx.error("aggregate is not a value"))
}

/// Records in `out` every aggregate call of `expr`, and in `errors` every call whose
/// arguments are not a literal key and a valid literal window.
fn collect_aggregates(
    program: &Program,
    expr: &IdedExpr,
    source: &str,
    path: &str,
    out: &mut Vec<AggregateCall>,
    errors: &mut DefinitionErrors,
) {
    if let Ast::Call(call) = &expr.expr
        && call.target.is_none()
        && let Some(aggregate) = Aggregate::named(&call.func_name)
    {
        match aggregate_call(aggregate, &call.args) {
            Ok(found) => out.push(found),
            Err(message) => {
                // The parser places a call at its "("; point at the function's name instead.
                let (line, column) = position(program, expr.id, source);
                let column = column.map(|c| c.saturating_sub(call.func_name.len() as u32).max(1));
                errors.0.push(DefinitionError {
                    path: path.to_owned(),
                    message: format!("{}: {message}", call.func_name),
                    line,
                    column,
                });
            }
        }
    }
    for child in children(expr) {
        collect_aggregates(program, child, source, path, out, errors);
    }
}

/// The direct subexpressions of `expr`.
fn children(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Ast::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Ast::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Ast::List(list) => list.elements.iter().collect(),
        Ast::Map(map) => map
            .entries
            .iter()
            .flat_map(|e| entry_children(&e.expr))
            .collect(),
        Ast::Struct(s) => s
            .entries
            .iter()
            .flat_map(|e| entry_children(&e.expr))
            .collect(),
        Ast::Select(select) => vec![&select.operand],
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => Vec::new(),
    }
}

fn entry_children(entry: &EntryExpr) -> Vec<&IdedExpr> {
    match entry {
        EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
        EntryExpr::StructField(f) => vec![&f.value],
    }
}

pub(crate) fn aggregate_call(
    aggregate: Aggregate,
    args: &[IdedExpr],
) -> Result<AggregateCall, String> {
    let literal = |arg: &IdedExpr| match &arg.expr {
        Ast::Literal(LiteralValue::String(s)) => Some(s.inner().to_owned()),
        _ => None,
    };
    let [key, window] = args else {
        return Err(format!(
            "takes a key and a window, e.g. {}(\"pm25\", \"5m\")",
            aggregate.name()
        ));
    };
    let (Some(key), Some(window_text)) = (literal(key), literal(window)) else {
        return Err("the key and the window must be string literals".into());
    };
    let window_ms = Span::parse(&window_text)?.as_millis();
    if window_ms == 0 || window_ms > MAX_WINDOW_MS {
        return Err(format!(
            "the window must be longer than 0 and at most 24h, got {window_text:?}"
        ));
    }
    Ok(AggregateCall {
        aggregate,
        key,
        window_text,
        window_ms,
    })
}

/// Line and column (from 1) of expression `id` in `source`.
fn position(program: &Program, id: u64, source: &str) -> (Option<u32>, Option<u32>) {
    let Some((start, _)) = program.source_info().offset_for(id) else {
        return (None, None);
    };
    let mut line = 1u32;
    let mut column = 1u32;
    for c in source.chars().take(start as usize) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (Some(line), Some(column))
}

/// A model value as a CEL value.
pub fn cel_from_model(value: &wanwu_model::Value) -> CelValue {
    use wanwu_model::Value as V;
    match value {
        V::Bool(b) => CelValue::Bool(*b),
        V::Int(i) => CelValue::Int(*i),
        V::Float(f) => CelValue::Float(*f),
        V::String(s) => CelValue::String(Arc::new(s.clone())),
        V::Geo(p) => map_value([
            ("lat", CelValue::Float(p.lat)),
            ("lon", CelValue::Float(p.lon)),
        ]),
    }
}

/// A JSON value as a CEL value.
pub fn cel_from_json(json: &serde_json::Value) -> CelValue {
    use serde_json::Value as J;
    match json {
        J::Null => CelValue::Null,
        J::Bool(b) => CelValue::Bool(*b),
        J::Number(n) => n.as_i64().map_or_else(
            || CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            CelValue::Int,
        ),
        J::String(s) => CelValue::String(Arc::new(s.clone())),
        J::Array(items) => CelValue::List(Arc::new(items.iter().map(cel_from_json).collect())),
        J::Object(map) => map_value(map.iter().map(|(k, v)| (k.clone(), cel_from_json(v)))),
    }
}

/// A CEL map of string keys.
pub fn map_value<K: Into<String>>(entries: impl IntoIterator<Item = (K, CelValue)>) -> CelValue {
    CelValue::Map(cel::objects::Map {
        map: Arc::new(
            entries
                .into_iter()
                .map(|(k, v)| (cel::objects::Key::String(Arc::new(k.into())), v))
                .collect(),
        ),
    })
}

/// A CEL value as JSON (maps with non-string keys get their keys written as text).
pub fn json_from_cel(value: &CelValue) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        CelValue::Null => J::Null,
        CelValue::Bool(b) => J::Bool(*b),
        CelValue::Int(i) => J::from(*i),
        CelValue::UInt(u) => J::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        CelValue::String(s) => J::String(s.to_string()),
        CelValue::List(items) => J::Array(items.iter().map(json_from_cel).collect()),
        CelValue::Map(map) => J::Object(
            map.map
                .iter()
                .map(|(k, v)| (key_text(k), json_from_cel(v)))
                .collect(),
        ),
        other => J::String(format!("{other:?}")),
    }
}

fn key_text(key: &cel::objects::Key) -> String {
    use cel::objects::Key;
    match key {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

/// A CEL value as a telemetry value, for derived keys.
pub fn model_from_cel(value: &CelValue) -> Result<wanwu_model::Value, String> {
    use wanwu_model::Value as V;
    match value {
        CelValue::Bool(b) => Ok(V::Bool(*b)),
        CelValue::Int(i) => Ok(V::Int(*i)),
        CelValue::UInt(u) => i64::try_from(*u)
            .map(V::Int)
            .map_err(|_| format!("{u} is too large")),
        CelValue::Float(f) if f.is_finite() => Ok(V::Float(*f)),
        CelValue::String(s) => Ok(V::String(s.to_string())),
        other => Err(format!(
            "a derived value must be a bool, number or string, got {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_their_position() {
        let err = Expr::compile("msg.values.pm25 >\n  (3 +", "condition").unwrap_err();
        let first = &err.0[0];
        assert_eq!(first.path, "condition");
        assert_eq!((first.line, first.column), (Some(2), Some(7)), "{err}");
    }

    #[test]
    fn aggregate_arguments_must_be_literal_and_valid() {
        let ok =
            Expr::compile(r#"avg("pm25", "5m") > 1.0 && count("pm25", "1h") > 2"#, "c").unwrap();
        assert_eq!(ok.aggregates().len(), 2);
        let err = Expr::compile(
            r#"true &&
 avg(msg.device, "5m") > 1.0"#,
            "c",
        )
        .unwrap_err();
        assert_eq!(
            (err.0[0].line, err.0[0].column),
            (Some(2), Some(2)),
            "{err}"
        );
        for bad in [
            r#"avg("pm25", "5 minutes") > 1.0"#,
            r#"rate("pm25") > 1.0"#,
            r#"max("pm25", "2d") > 1.0"#,
        ] {
            assert!(Expr::compile(bad, "c").is_err(), "{bad}");
        }
    }
}
