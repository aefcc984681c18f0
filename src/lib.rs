pub mod analyze;
pub mod authres;
pub mod domain;
pub mod findings;
pub mod observation;
pub mod policy;
pub mod ses;
