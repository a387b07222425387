-- What the actions of each rule's firings did, newest last by `seq`; the platform keeps only
-- the newest few per rule (it trims on every append). `outcome` is JSON, opaque to the store.
CREATE TABLE rule_outcomes (
    seq INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule TEXT NOT NULL,
    ts INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX rule_outcomes_by_rule ON rule_outcomes (tenant, rule, seq);
