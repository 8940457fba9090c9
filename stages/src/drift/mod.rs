//! Data drift between a reference and a current data set, column by column, with Evidently
//! 0.7's data-drift defaults: the statistics ([`stattests`]).

pub(crate) mod stattests;
