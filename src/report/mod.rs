//! Reports over plain data: AWS's credential report (CSV) and best-practice findings.
//! Nothing here reads the store; `service` gathers the rows.

pub mod credential_report;
pub mod doctor;
