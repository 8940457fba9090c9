//! churnflow: a content-hashed stage graph for customer-churn machine learning.
pub mod cli;
