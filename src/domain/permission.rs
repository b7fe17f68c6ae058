//! Who may do what in the administration (console, API, CLI): least privilege per role.
//!
//! - `operator`: the register — organisations, people, consents, accounts, letters,
//!   statutory changes, delegations, unlocking and resetting accounts, their sessions.
//! - `administrator`: OAuth clients, signing keys, staff (operators and administrators),
//!   settings, the audit log. Settings live in the configuration file deployed with every
//!   node (so all nodes agree); administrators read them in the console and the API.
//!
//! The two sets do not overlap (an administrator does not record consents, an operator does
//! not touch clients or keys); a person who needs both holds two accounts. Users have none.

use super::account::Role;

/// One privileged action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the register: organisations, people, consents, roles, delegations.
    ReadRegister,
    /// Organisations: create, edit, import.
    ManageOrganisations,
    /// Record and withdraw consents; create accounts; issue letters.
    ManageConsentsAndAccounts,
    /// Record the start and end of statutory roles.
    ManageStatutoryRoles,
    /// Grant and revoke delegations on an organisation's behalf.
    ManageDelegations,
    /// Lock, unlock, disable, enable, reset accounts; end their sessions.
    ManageAccountStatus,
    /// OAuth clients: create, edit, rotate secrets, disable.
    ManageClients,
    /// Signing keys: list and rotate.
    ManageKeys,
    /// Operators and administrators.
    ManageStaff,
    /// Read and export the audit log.
    ReadAudit,
    /// Read the settings in force.
    ReadSettings,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::ReadRegister,
        Permission::ManageOrganisations,
        Permission::ManageConsentsAndAccounts,
        Permission::ManageStatutoryRoles,
        Permission::ManageDelegations,
        Permission::ManageAccountStatus,
        Permission::ManageClients,
        Permission::ManageKeys,
        Permission::ManageStaff,
        Permission::ReadAudit,
        Permission::ReadSettings,
    ];

    fn of_operator(self) -> bool {
        matches!(
            self,
            Permission::ReadRegister
                | Permission::ManageOrganisations
                | Permission::ManageConsentsAndAccounts
                | Permission::ManageStatutoryRoles
                | Permission::ManageDelegations
                | Permission::ManageAccountStatus
        )
    }
}

/// May `role` perform `p`?
pub fn allows(role: Role, p: Permission) -> bool {
    match role {
        Role::User => false,
        Role::Operator => p.of_operator(),
        Role::Administrator => !p.of_operator(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_have_no_privilege_and_the_two_staff_roles_do_not_overlap() {
        for p in Permission::ALL {
            assert!(!allows(Role::User, *p));
            assert_ne!(
                allows(Role::Operator, *p),
                allows(Role::Administrator, *p),
                "{p:?}"
            );
        }
        assert!(allows(
            Role::Operator,
            Permission::ManageConsentsAndAccounts
        ));
        assert!(!allows(Role::Operator, Permission::ManageClients));
        assert!(!allows(Role::Operator, Permission::ManageKeys));
        assert!(allows(Role::Administrator, Permission::ReadAudit));
        assert!(!allows(
            Role::Administrator,
            Permission::ManageStatutoryRoles
        ));
    }
}
