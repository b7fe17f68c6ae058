//! Actions on the IdP's own configuration (beside `registry`, which holds the MPSV register):
//! each one validates, writes and audits **in one transaction**, and is called alike by the
//! console, the administration API and the CLI, so the rules and the audit records cannot
//! differ between them.

pub mod clients;
pub mod keys;
pub mod password_links;
pub mod staff;

/// Through what an action arrives: the server's command line (operations staff with access to
/// the machine) or a staff member's console/API session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cli,
    Staff,
}

/// What a service needs: the database and the audit log. The server passes its own
/// (`AppState::services`); the CLI makes one from its connection.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub storage: &'a crate::storage::Storage,
    pub audit: &'a crate::audit::AuditLog,
}

impl crate::app::AppState {
    pub fn services(&self) -> Services<'_> {
        Services {
            storage: &self.storage,
            audit: &self.audit,
        }
    }
}
