//! Who may see what: roles, viewers bound to one workspace, and the access policy.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ForbiddenReason, Result};
use crate::model::ids::WorkspaceId;

/// A user's role, from least to most privileged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A role the host sent that this library does not know; it never sees a report.
    Unknown(String),
    /// Customer service: cannot see the reports by default.
    CustomerService,
    /// A manager.
    Manager,
    /// A workspace administrator.
    Administrator,
    /// The platform operator's own staff ("Kiva Admin" in the product documents).
    PlatformAdmin,
}

impl Role {
    /// Parses the role names hosts commonly use; anything else becomes [`Role::Unknown`].
    ///
    /// ```
    /// use engagement_core::Role;
    ///
    /// assert_eq!(Role::from_name("Manager"), Role::Manager);
    /// assert_eq!(Role::from_name("admin"), Role::Administrator);
    /// assert_eq!(Role::from_name("intern"), Role::Unknown("intern".into()));
    /// ```
    pub fn from_name(name: &str) -> Self {
        let key: String = name
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "customerservice" | "cs" | "support" => Self::CustomerService,
            "manager" => Self::Manager,
            "administrator" | "admin" | "workspaceadmin" => Self::Administrator,
            "platformadmin" | "kivaadmin" | "superadmin" => Self::PlatformAdmin,
            _ => Self::Unknown(name.to_owned()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "unknown role {name:?}"),
            Self::CustomerService => f.write_str("customer service"),
            Self::Manager => f.write_str("manager"),
            Self::Administrator => f.write_str("administrator"),
            Self::PlatformAdmin => f.write_str("platform admin"),
        }
    }
}

/// The reports (and report-like actions) a policy grants. New report families will add
/// variants, so a host lists them through [`ReportKind::ALL`] rather than matching them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportKind {
    /// The engagement ranking and its CSV.
    Engagement,
    /// The customer activity page, its exports and the customer detail.
    Activity,
    /// The event log, its detail panel and its complete export.
    EventLog,
    /// Funnels.
    Funnel,
}

impl ReportKind {
    /// Every report, in the order a navigation lists them.
    pub const ALL: [Self; 4] = [
        Self::Engagement,
        Self::Activity,
        Self::EventLog,
        Self::Funnel,
    ];
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Engagement => "engagement",
            Self::Activity => "customer activity",
            Self::EventLog => "event log",
            Self::Funnel => "funnel",
        })
    }
}

/// Someone asking for a report: a role, bound to one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Viewer {
    /// The only workspace this viewer may read.
    pub workspace: WorkspaceId,
    /// The viewer's role.
    pub role: Role,
}

impl Viewer {
    /// A viewer of `workspace` with `role`.
    #[must_use]
    pub fn new(workspace: WorkspaceId, role: Role) -> Self {
        Self { workspace, role }
    }
}

/// Which role each report requires.
///
/// The defaults follow the product's specification: the engagement ranking, the event log and
/// funnels need a manager ("Required Access Level: Manager"); the customer activity page is
/// "visible to workspace admins only".
///
/// ```
/// use engagement_core::{AccessPolicy, ReportKind, Role, Viewer, WorkspaceId};
///
/// let ws = WorkspaceId::new("acme")?;
/// let policy = AccessPolicy::default().require(ReportKind::Activity, Role::Manager);
/// let manager = Viewer::new(ws.clone(), Role::Manager);
/// assert!(policy.check(&manager, &ws, ReportKind::Activity).is_ok());
/// let support = Viewer::new(ws.clone(), Role::CustomerService);
/// assert!(policy.check(&support, &ws, ReportKind::Engagement).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    required: BTreeMap<ReportKind, Role>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            required: BTreeMap::from([
                (ReportKind::Engagement, Role::Manager),
                (ReportKind::Activity, Role::Administrator),
                (ReportKind::EventLog, Role::Manager),
                (ReportKind::Funnel, Role::Manager),
            ]),
        }
    }
}

impl AccessPolicy {
    /// The same policy with `report` requiring `role` or above. An unknown role (a name from a
    /// host's configuration that [`Role::from_name`] did not recognise) admits no one: the
    /// policy fails closed rather than below every known role.
    #[must_use]
    pub fn require(mut self, report: ReportKind, role: Role) -> Self {
        self.required.insert(report, role);
        self
    }

    /// The least role `report` requires.
    pub fn required(&self, report: ReportKind) -> &Role {
        self.required.get(&report).unwrap_or(&Role::PlatformAdmin)
    }

    /// Checks that `viewer` may read `report` of `workspace`.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for an unknown role, a role below the requirement (every role, when
    /// the requirement is an unknown role), or a viewer of another workspace.
    pub fn check(
        &self,
        viewer: &Viewer,
        workspace: &WorkspaceId,
        report: ReportKind,
    ) -> Result<()> {
        let forbid = |reason| Error::Forbidden {
            role: viewer.role.clone(),
            report,
            workspace: workspace.to_string(),
            reason,
        };
        if let Role::Unknown(_) = viewer.role {
            return Err(forbid(ForbiddenReason::UnknownRole));
        }
        if viewer.workspace != *workspace {
            return Err(forbid(ForbiddenReason::OtherWorkspace));
        }
        let required = self.required(report);
        if matches!(required, Role::Unknown(_)) || viewer.role < *required {
            return Err(forbid(ForbiddenReason::RoleTooLow {
                required: required.clone(),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(name: &str) -> WorkspaceId {
        WorkspaceId::new(name).unwrap()
    }

    #[test]
    fn seed_defaults() {
        let policy = AccessPolicy::default();
        let check =
            |role: Role, report| policy.check(&Viewer::new(ws("a"), role), &ws("a"), report);
        assert!(check(Role::CustomerService, ReportKind::Engagement).is_err());
        assert!(check(Role::Manager, ReportKind::Engagement).is_ok());
        assert!(check(Role::Administrator, ReportKind::Engagement).is_ok());
        assert!(check(Role::PlatformAdmin, ReportKind::Engagement).is_ok());
        assert!(check(Role::Manager, ReportKind::Activity).is_err());
        assert!(check(Role::Administrator, ReportKind::Activity).is_ok());
        assert!(check(Role::Manager, ReportKind::EventLog).is_ok());
        assert!(check(Role::Manager, ReportKind::Funnel).is_ok());
    }

    #[test]
    fn unknown_roles_and_other_workspaces_are_forbidden() {
        let policy = AccessPolicy::default();
        let stranger = Viewer::new(ws("a"), Role::from_name("root"));
        assert!(matches!(
            policy.check(&stranger, &ws("a"), ReportKind::Engagement),
            Err(Error::Forbidden {
                reason: ForbiddenReason::UnknownRole,
                ..
            })
        ));
        let admin_of_b = Viewer::new(ws("b"), Role::PlatformAdmin);
        assert!(matches!(
            policy.check(&admin_of_b, &ws("a"), ReportKind::Engagement),
            Err(Error::Forbidden {
                reason: ForbiddenReason::OtherWorkspace,
                ..
            })
        ));
    }

    #[test]
    fn a_misspelt_required_role_admits_no_one() {
        let policy =
            AccessPolicy::default().require(ReportKind::Engagement, Role::from_name("Managers"));
        for role in [
            Role::CustomerService,
            Role::Manager,
            Role::Administrator,
            Role::PlatformAdmin,
        ] {
            let viewer = Viewer::new(ws("a"), role.clone());
            assert!(
                matches!(
                    policy.check(&viewer, &ws("a"), ReportKind::Engagement),
                    Err(Error::Forbidden {
                        reason: ForbiddenReason::RoleTooLow { .. },
                        ..
                    })
                ),
                "{role:?}"
            );
        }
    }
}
