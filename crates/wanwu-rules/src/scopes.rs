//! The CEL scopes of one input or tick, built only when some rule needs the interpreter: a
//! condition outside the direct subset (see [`crate::direct`]), an aggregate, a derived value.

use crate::compile::CompiledRule;
use crate::expr::{AggregateCall, Vars};
use crate::facts::Facts;
use crate::window::History;
use cel::Context;
use std::cell::OnceCell;

/// The variables of one input for every rule that looks at it; built on first use.
pub(crate) struct Scopes<'f, 'a> {
    facts: &'f Facts<'a>,
    root: &'f Context<'static, 'static>,
    vars: Vars,
    history: Option<&'f History>,
    base: OnceCell<Context<'f, 'a>>,
}

impl<'f, 'a> Scopes<'f, 'a> {
    /// The scopes of `facts` with the variables in `vars` (those of every rule that may ask),
    /// aggregates over `history` when there is one.
    pub fn new(
        facts: &'f Facts<'a>,
        root: &'f Context<'static, 'static>,
        vars: Vars,
        history: Option<&'f History>,
    ) -> Self {
        Scopes {
            facts,
            root,
            vars,
            history,
            base: OnceCell::new(),
        }
    }

    fn base(&self) -> &Context<'f, 'a> {
        self.base
            .get_or_init(|| self.facts.scope(self.root, self.vars))
    }

    /// The scope of one rule: the base and its aggregates, built on first use.
    pub fn of_rule<'s>(&'s self, rule: &'s CompiledRule) -> RuleScope<'s, 'f, 'a> {
        RuleScope {
            scopes: self,
            rule,
            own: OnceCell::new(),
        }
    }
}

/// One rule's scope of an input, built on first use.
pub(crate) struct RuleScope<'s, 'f, 'a> {
    scopes: &'s Scopes<'f, 'a>,
    rule: &'s CompiledRule,
    own: OnceCell<Context<'s, 'a>>,
}

impl<'s, 'a> RuleScope<'s, '_, 'a> {
    /// The facts.
    pub fn facts(&self) -> &'s Facts<'a> {
        self.scopes.facts
    }

    /// The device's history, for aggregates (none for ticks).
    pub fn history(&self) -> Option<&'s History> {
        self.scopes.history
    }

    /// The CEL scope: variables and the rule's aggregates.
    pub fn get(&self) -> &Context<'s, 'a> {
        self.own.get_or_init(|| {
            let base = self.scopes.base();
            match self.scopes.history {
                Some(history) => {
                    with_aggregates(&self.rule.aggregates, base, history, self.scopes.facts.ts)
                }
                None => base.new_inner_scope(),
            }
        })
    }
}

/// An inner scope of `scope` with `aggregates` bound over `history` ending at `end` (an
/// aggregate without data is left unbound).
pub(crate) fn with_aggregates<'s, 'v>(
    aggregates: &[AggregateCall],
    scope: &'s Context<'s, 'v>,
    history: &History,
    end: i64,
) -> Context<'s, 'v> {
    let mut inner = scope.new_inner_scope();
    for call in aggregates {
        if let Some(value) = history.aggregate(call, end) {
            inner.add_variable_from_value(call.variable(), value);
        }
    }
    inner
}
